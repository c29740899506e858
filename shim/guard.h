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
#include <stdint.h>

#include "attrs.h"

extern HB_TLS int hb_guard;
/* hb_guard on the shim's own threads: set for good, and their allocations
 * go to the shim's own heap (ownheap.h). */
#define HB_GUARD_OWN 2
/* The stack pointer where the guard was taken: a siglongjmp past it (out
 * of a handler that interrupted the shim) abandons the guarded frame, and
 * jump.c gives the guard back. */
extern HB_TLS uintptr_t hb_guard_sp;

static inline uintptr_t
guard_stack_pointer(void)
{
#if defined(__x86_64__)
	uintptr_t sp;
	__asm__("mov %%rsp, %0" : "=r"(sp));
	return sp;
#else
	return (uintptr_t)__builtin_frame_address(0);
#endif
}

/* Returns true when the caller now owns the guard (it was clear). Thread-
 * safe (per thread), async-signal-safe. */
static inline bool
guard_enter(void)
{
	if (hb_guard)
		return false;
	hb_guard = 1;
	hb_guard_sp = guard_stack_pointer();
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
