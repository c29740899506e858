/* SPDX-License-Identifier: MIT */
/* Whether only the shim's own threads are left (lastthread.c). */
#ifndef HELDBY_SHIM_LASTTHREAD_H
#define HELDBY_SHIM_LASTTHREAD_H

#include <stdbool.h>

#include "attrs.h"

/* True when the main thread has left (pthread_exit) and no thread of the
 * program's runs any more: only the shim's own, of which own are alive.
 * Reads two /proc files: for the writer's idle wakes, not the hot path. */
bool lastthread_gone(int own) HB_HIDDEN;

#endif
