/* SPDX-License-Identifier: MIT */
/*
 * A library dlopen'ed with RTLD_DEEPBIND binds what the shim interposes to
 * the next definition (libc's free) instead of to us, while libc's own calls
 * (the malloc inside strdup) still reach us: its frees go unseen and the
 * blocks look held. The hooks ask here after a load; deepbind.c points such
 * a library's GOT slots at the shim, before its first free can be missed.
 */
#ifndef HELDBY_DEEPBIND_H
#define HELDBY_DEEPBIND_H

#include <stdatomic.h>
#include <stdint.h>

#include "attrs.h"

/* DPB_LOADER: the loader allocated since the last look, so a module may
 * have come (set from the start: the first look takes in every module).
 * DPB_WAITING: a module that may need its slots pointed at us is not
 * relocated yet. */
enum { DPB_LOADER = 1, DPB_WAITING = 2 };
/* What every hook reads, on one cache line that is written only when the
 * loader allocates or a look ends. */
struct dpb_hot {
	_Atomic int flags;
	/* the loader's code; empty until the first look */
	_Atomic uintptr_t ldso_lo, ldso_len;
};
extern struct dpb_hot dpb_hot HB_HIDDEN;

/* Looks at the modules loaded since the last look and points the slots of
 * those that bind past us at the shim. Called with the guard held, by any
 * thread (the writer too); keeps errno. Takes dl_iterate_phdr's lock (not
 * async-signal-safe, as libunwind's walks are not); a thread that finds
 * another look under way waits for it (bounded: 20 ms), one that finds the
 * loader mapping or unmapping returns at once. Allocates nothing (mmap). */
void dpb_settle(void) HB_HIDDEN;

/* On every allocation the hooks record, with HB_HOOK_FRAME() (or NULL):
 * one compare of the return address and one load when nothing was loaded.
 * An allocation by the loader itself only raises DPB_LOADER: it may be in
 * the middle of a load. Guard held. */
static inline void
dpb_poll_alloc(const void *frame)
{
	uintptr_t ra = frame ? ((const uintptr_t *)frame)[1] : 0;
	uintptr_t lo =
		atomic_load_explicit(&dpb_hot.ldso_lo, memory_order_relaxed);
	if (unlikely(ra - lo < atomic_load_explicit(&dpb_hot.ldso_len,
						    memory_order_relaxed))) {
		if (!(atomic_load_explicit(&dpb_hot.flags,
					   memory_order_relaxed) &
		      DPB_LOADER))
			atomic_fetch_or_explicit(&dpb_hot.flags, DPB_LOADER,
						 memory_order_relaxed);
		return;
	}
	if (unlikely(
		    atomic_load_explicit(&dpb_hot.flags, memory_order_relaxed)))
		dpb_settle();
}

/* On every free the hooks record, before the real free, and on each
 * drain of the writer. glibc 2.36's dlopen frees the scratch of its
 * _dl_find_object table just after the new libraries became findable,
 * which is after their relocation: they are settled before dlopen returns
 * and before their constructors run. Guard held. */
static inline void
dpb_poll(void)
{
	if (unlikely(
		    atomic_load_explicit(&dpb_hot.flags, memory_order_relaxed)))
		dpb_settle();
}

#endif
