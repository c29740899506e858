/* SPDX-License-Identifier: MIT */
/*
 * The shim's own heap: what the shim's threads (the writer, the
 * compressor) and its tables allocate, libdw's and zstd's memory among
 * it. Never glibc's malloc: a thread's first call there makes it an arena,
 * 64 MiB of address space, and a program under `ulimit -v` lost two of
 * them to the shim. The hooks send the shim's threads here (hb_guard ==
 * HB_GUARD_OWN) and give back here whatever this heap owns, on any thread.
 */
#ifndef HELDBY_SHIM_OWNHEAP_H
#define HELDBY_SHIM_OWNHEAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The lowest and highest address the heap has mapped (empty: lo > hi). */
extern _Atomic uintptr_t own_lo, own_hi;

/* Blocks aligned to 16 bytes, or NULL (errno ENOMEM). Any thread; not
 * async-signal-safe (a spin lock). */
void *own_malloc(size_t n);
void *own_calloc(size_t a, size_t b);
/* p: NULL or a block of this heap. */
void *own_realloc(void *p, size_t n);
/* p: a block of this heap (own_owns). */
void own_free(void *p);
size_t own_usable_size(const void *p);

/* Whether p is a block of this heap. Any thread, lock-free; two compares
 * for a pointer outside the heap's span. */
bool own_owns_slow(uintptr_t p);
static inline bool
own_owns(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (__builtin_expect(
		    a < atomic_load_explicit(&own_lo, memory_order_relaxed) ||
			    a >= atomic_load_explicit(&own_hi,
						      memory_order_relaxed),
		    1))
		return false;
	return own_owns_slow(a);
}

/* Around fork (lifecycle.c): the child must not inherit a held lock. */
void own_fork_prepare(void);
void own_fork_parent(void);
void own_fork_child(void);

/* Bytes of address space the heap has mapped, for the run's summary and
 * the tests. */
size_t own_mapped(void);

#endif
