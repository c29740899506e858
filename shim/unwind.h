/* SPDX-License-Identifier: MIT */
/*
 * The fast unwinder (unwind.c): return addresses of the calling thread,
 * innermost first, or -1 when libunwind has to do it.
 */
#ifndef HELDBY_UNWIND_H
#define HELDBY_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "attrs.h"

/* Once, before the first uw_backtrace. */
void uw_init(void) HB_HIDDEN;
/* After dlclose: cached rules of unloaded code are stale. Guard held. */
void uw_flush(void) HB_HIDDEN;
/* What a walk shares with the previous walk made with the same memo.
 * Walks are numbered from 1 (0: no walk of the fast unwinder), and the
 * outermost same_outer frames are the ones the previous walk ended with:
 * a caller that kept the previous walk's stack need not compare them. */
struct uw_reuse {
	uint64_t walk;
	unsigned same_outer;
};
/* Up to max frames into buf, or -1. The walk starts at the caller of the
 * hook whose frame is `caller` (HB_HOOK_FRAME, event.h), or with NULL
 * inside uw_backtrace itself. *memo_slot (NULL at first) keeps the
 * thread's last walk: one slot per thread, never used by two threads at
 * once. *reuse is set where it returns frames. Never allocates (it runs in
 * signal handlers too). Guard held; thread-safe. */
int uw_backtrace(void **buf, int max, void **memo_slot, const void *caller,
		 struct uw_reuse *reuse) HB_HIDDEN;
/* Looks up the rules that walks found missing (they fell back to
 * libunwind meanwhile). The writer thread, inside its drain: it may
 * allocate and enter the loader. */
void uw_resolve_wanted(void) HB_HIDDEN;
/* Whether a thread asked for a rule since the last uw_resolve_wanted: a
 * check without a lock, for the writer's ticks. */
bool uw_rules_wanted(void) HB_HIDDEN;
/* After libunwind walked a stack the fast unwinder could not: asks for
 * the rules of its return addresses, so that the next walk through them
 * is the fast one. Never allocates. */
void uw_want_stack(void *const *ips, int n) HB_HIDDEN;

#endif
