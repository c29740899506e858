/* SPDX-License-Identifier: MIT */
/*
 * The shim's slow paths that a handler's siglongjmp must not leave half
 * done (a lock of libc's or libunwind's taken, a ring's buffer swapped
 * halfway) run with the asynchronous signals blocked (sigmask.c).
 */
#ifndef HELDBY_SIGMASK_H
#define HELDBY_SIGMASK_H

#include <signal.h>

#include "attrs.h"

/* Blocks every signal a handler could come from but the synchronous ones
 * (a fault must still reach its handler, or the default action). The
 * previous mask into *old, for sig_unblock. Any thread;
 * async-signal-safe. */
void sig_block_async(sigset_t *old) HB_HIDDEN;
void sig_unblock(const sigset_t *old) HB_HIDDEN;

#endif
