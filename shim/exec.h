/* SPDX-License-Identifier: MIT */
/* exec and the programs a traced process starts (exec.c). */
#ifndef HELDBY_SHIM_EXEC_H
#define HELDBY_SHIM_EXEC_H

#include "attrs.h"

/* Keeps the HELDBY_* settings of environ for the programs this process
 * execs. Start-up only, before anything changes environ. */
void exec_save_settings(void) HB_HIDDEN;

#endif
