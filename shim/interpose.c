/* SPDX-License-Identifier: MIT */
/*
 * The C allocation functions. Each calls the real function first and
 * records after it returned (a free: before the real free), under the
 * reentrancy guard; with the guard already set, or before start-up
 * finished, a call passes straight through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "attrs.h"
#include "backtrace.h"
#include "config.h"
#include "count.h"
#include "event.h"
#include "guard.h"
#include "heldby/trace.h"
#include "interpose.h"
#include "lifecycle.h"
#include "ownheap.h"
#include "real.h"
#include "writer.h"

/* The helpers that record are inlined into every exported hook, so that
 * HB_HOOK_FRAME() in them is the hook's frame. */
#define HB_INTO_HOOK static inline __attribute__((always_inline))

static inline int
ready(void)
{
	return likely(real.malloc != NULL) || real_init() == 0;
}

HB_INTO_HOOK void
record(void *p, size_t n, unsigned fn)
{
	hb_start_early();
	if (p && hb_tracking() && guard_enter()) {
		track_alloc(p, n, fn, HB_HOOK_FRAME());
		guard_leave();
	}
}

/* Set while lifecycle.c checks that malloc reaches us. */
static volatile int probing, probe_hit;

HB_EXPORT void *
malloc(size_t n)
{
	if (unlikely(!ready()))
		return boot_malloc(n, 16);
	if (unlikely(probing))
		probe_hit = 1;
	if (unlikely(hb_guard == HB_GUARD_OWN))
		return own_malloc(n);
	void *p = real.malloc(n);
	record(p, n, HELDBY_FN_MALLOC);
	return p;
}

/* Calls malloc as the program does (the global symbol, which may be a PLT
 * entry in the executable) and says whether it arrived here. */
bool
interpose_malloc_is_ours(void)
{
	void *(*m)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
	void (*f)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
	if (!m || !f)
		return true;
	probe_hit = 0;
	probing = 1;
	void *p = m(1);
	probing = 0;
	f(p);
	return probe_hit;
}

HB_EXPORT void
free(void *p)
{
	if (!p || unlikely(boot_owns(p)))
		return;
	if (unlikely(own_owns(p))) {
		own_free(p); /* the shim's: never recorded */
		return;
	}
	if (unlikely(!real.free) && real_init() != 0)
		return; /* cannot happen: only arena blocks exist then */
	if (hb_tracking() && guard_enter()) {
		track_free(p);
		guard_leave();
	}
	real.free(p);
}

HB_EXPORT void
free_sized(void *p, size_t n)
{
	(void)n;
	free(p);
}

HB_EXPORT void
free_aligned_sized(void *p, size_t al, size_t n)
{
	(void)al;
	(void)n;
	free(p);
}

HB_EXPORT void *
calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (unlikely(!ready()))
		return boot_malloc(n, 16); /* static memory: already zero */
	if (unlikely(hb_guard == HB_GUARD_OWN))
		return own_calloc(a, b);
	void *p = real.calloc(a, b);
	record(p, n, HELDBY_FN_CALLOC);
	return p;
}

HB_INTO_HOOK void *
realloc_common(void *p, size_t n, unsigned fn)
{
	if (unlikely(!ready())) {
		void *q = boot_malloc(n, 16);
		if (q && p)
			memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
		return q;
	}
	if (unlikely(p && boot_owns(p))) {
		/* Move an arena block to the real heap; the arena keeps it. */
		void *q = real.malloc(n ? n : 1);
		if (q)
			memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
		record(q, n, fn);
		return q;
	}
	if (unlikely(own_owns(p) || (!p && hb_guard == HB_GUARD_OWN)))
		return own_realloc(p, n);
	if (!hb_tracking() || !guard_enter())
		return real.realloc(p, n);
	void *q;
	if (hb_on()) {
		void *buf[hb_cfg.depth + BT_SLACK];
		struct realloc_state st = { .buf = buf,
					    .caller = HB_HOOK_FRAME() };
		event_realloc_begin(&st);
		q = real.realloc(p, n);
		event_realloc_end(&st, p, q, n, fn);
	} else if (atomic_load_explicit(&hb_counting, memory_order_relaxed)) {
		/* The old block leaves the counters' table before the real
		 * call: once it is freed, another thread may be handed its
		 * address. */
		struct cnt_held held = cnt_detach(p);
		q = real.realloc(p, n);
		cnt_realloc_done(p, held, q, n);
	} else {
		q = real.realloc(p, n);
	}
	guard_leave();
	return q;
}

HB_EXPORT void *
realloc(void *p, size_t n)
{
	return realloc_common(p, n, HELDBY_FN_REALLOC);
}

HB_EXPORT void *
reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_common(p, n, HELDBY_FN_REALLOCARRAY);
}

HB_INTO_HOOK int
memalign_common(void **pp, size_t al, size_t n, unsigned fn)
{
	if (unlikely(!ready())) {
		*pp = boot_malloc(n, al);
		return *pp ? 0 : ENOMEM;
	}
	if (unlikely(hb_guard == HB_GUARD_OWN) && al <= 16) {
		*pp = own_malloc(n);
		return *pp ? 0 : ENOMEM;
	}
	int r = real.posix_memalign(pp, al, n);
	if (r == 0)
		record(*pp, n, fn);
	return r;
}

/* The pointer-returning aligned allocators while their real function is
 * not known (not resolved yet, or not in this libc): memalign_common, its
 * error in errno. */
HB_INTO_HOOK void *
memalign_errno(size_t al, size_t n, unsigned fn)
{
	void *p = NULL;
	int r = memalign_common(&p, al, n, fn);
	if (r)
		errno = r;
	return r ? NULL : p;
}

HB_EXPORT int
posix_memalign(void **pp, size_t al, size_t n)
{
	return memalign_common(pp, al, n, HELDBY_FN_POSIX_MEMALIGN);
}

HB_EXPORT void *
aligned_alloc(size_t al, size_t n)
{
	if (likely(real.aligned_alloc)) {
		void *p = real.aligned_alloc(al, n);
		record(p, n, HELDBY_FN_ALIGNED_ALLOC);
		return p;
	}
	return memalign_errno(al, n, HELDBY_FN_ALIGNED_ALLOC);
}

HB_EXPORT void *
memalign(size_t al, size_t n)
{
	if (likely(real.memalign)) {
		void *p = real.memalign(al, n);
		record(p, n, HELDBY_FN_MEMALIGN);
		return p;
	}
	return memalign_errno(al, n, HELDBY_FN_MEMALIGN);
}

HB_EXPORT void *
valloc(size_t n)
{
	if (likely(real.valloc)) {
		void *p = real.valloc(n);
		record(p, n, HELDBY_FN_VALLOC);
		return p;
	}
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return memalign_errno(pg, n, HELDBY_FN_VALLOC);
}

HB_EXPORT void *
pvalloc(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t rn = (n + pg - 1) & ~(pg - 1);
	if (!rn)
		rn = pg;
	if (likely(real.pvalloc)) {
		void *p = real.pvalloc(n);
		record(p, rn, HELDBY_FN_PVALLOC);
		return p;
	}
	return memalign_errno(pg, rn, HELDBY_FN_PVALLOC);
}

HB_EXPORT size_t
malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (boot_owns(p))
		return boot_size(p);
	if (own_owns(p))
		return own_usable_size(p);
	if (unlikely(!ready()))
		return 0;
	return real.malloc_usable_size(p);
}

/* dlopen is not wrapped (memray#212). Before a library goes away, make the
 * writer resolve everything recorded so far against it: a drain, which
 * reads the modules and the unwinder's rules. Not a sync, which also
 * compresses and writes a block: a program that unloads plugins often
 * paid that on every dlclose. */
HB_EXPORT int
dlclose(void *h)
{
	if (unlikely(!real.dlclose))
		real_init();
	if (hb_on() && guard_enter()) {
		writer_settle();
		guard_leave();
	}
	if (!real.dlclose)
		return -1;
	int r = real.dlclose(h);
	if (r == 0 &&
	    atomic_load_explicit(&hb_state, memory_order_relaxed) != HB_INIT)
		bt_flush();
	return r;
}
