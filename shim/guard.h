/* SPDX-License-Identifier: MIT */
/*
 * The per-thread reentrancy guard. initial-exec TLS: touching it never calls
 * malloc (dynamic TLS would, glibc manual "Replacing malloc"). A hook that
 * finds the guard set calls the real function and records nothing; the
 * writer thread sets it once and never clears it.
 */
#ifndef HELDBY_GUARD_H
#define HELDBY_GUARD_H

#include <stdbool.h>

#define HB_TLS __thread __attribute__((tls_model("initial-exec")))

extern HB_TLS int hb_guard;

/* Returns true when the caller now owns the guard (it was clear). Thread-
 * safe (per thread), async-signal-safe. */
static inline bool
guard_enter(void)
{
	if (hb_guard)
		return false;
	hb_guard = 1;
	__asm__ __volatile__("" ::: "memory");
	return true;
}

static inline void
guard_leave(void)
{
	__asm__ __volatile__("" ::: "memory");
	hb_guard = 0;
}

/* For __attribute__((cleanup)) where an exception may unwind a C frame. */
static inline void
guard_cleanup(int *owned)
{
	if (*owned)
		guard_leave();
}

#endif
