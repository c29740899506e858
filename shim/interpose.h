/* SPDX-License-Identifier: MIT */
/*
 * What lifecycle.c asks the C allocation hooks (interpose.c) at start-up.
 * The hooks themselves are exported and have no prototype here (hooks.h).
 */
#ifndef HELDBY_INTERPOSE_H
#define HELDBY_INTERPOSE_H

#include <stdbool.h>

#include "attrs.h"

/* False when the program's malloc is not ours (its own allocator, linked
 * in): calls malloc as the program does and sees whether it arrived.
 * Start-up only, one thread. */
bool interpose_malloc_is_ours(void) HB_HIDDEN;

#endif
