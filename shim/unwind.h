/* SPDX-License-Identifier: MIT */
/*
 * The fast unwinder (unwind.c): return addresses of the calling thread,
 * innermost first, or -1 when libunwind has to do it.
 */
#ifndef HELDBY_UNWIND_H
#define HELDBY_UNWIND_H

#include "real.h"

/* Once, before the first uw_backtrace. */
void uw_init(void) HB_HIDDEN;
/* After dlclose: cached rules of unloaded code are stale. Guard held. */
void uw_flush(void) HB_HIDDEN;
/* Up to max frames into buf (the first inside uw_backtrace itself), or -1.
 * *memo_slot (NULL at first) keeps the thread's last walk: one slot per
 * thread, never used by two threads at once. Guard held (a rule looked up
 * for the first time allocates). Thread-safe; not async-signal-safe. */
int uw_backtrace(void **buf, int max, void **memo_slot) HB_HIDDEN;

#endif
