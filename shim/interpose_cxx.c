/* SPDX-License-Identifier: MIT */
/*
 * The C++ operator new/delete family, defined in C by mangled name, so C++
 * allocations are attributed to the new expression rather than to
 * libstdc++. Each forwards to the runtime's own operator (found late: the
 * runtime may be dlopen'ed after start) with the guard held, so its inner
 * malloc/free are not recorded a second time and its new_handler loop and
 * std::bad_alloc behave as without heldby. Built with -fexceptions: the
 * cleanup releases the guard when bad_alloc unwinds through these frames.
 */
#include <stdlib.h>

#include "attrs.h"
#include "event.h"
#include "guard.h"
#include "heldby/trace.h"
#include "lifecycle.h"
#include "real.h"

#define GUARDED int owned __attribute__((cleanup(guard_cleanup)))

static void *
resolve(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (likely(f))
		return f;
	if (!real.malloc)
		real_init();
	f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = real_lookup_cxx(name);
		if (f)
			__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

/* Only when the C++ runtime cannot be found: plain allocation, and a
 * failure the C side cannot turn into std::bad_alloc. */
static void *
new_fallback(size_t n, size_t al, int nothrow)
{
	void *p = NULL;
	if (!real.malloc && real_init() != 0)
		return boot_malloc(n, al);
	if (al > 16) {
		if (real.posix_memalign(&p, al, n ? n : 1))
			p = NULL;
	} else {
		p = real.malloc(n ? n : 1);
	}
	if (!p && !nothrow)
		abort();
	return p;
}

#define NEW(sym, fn, al, nothrow, params, args)                                \
	HB_EXPORT void *sym params                                             \
	{                                                                      \
		GUARDED = guard_enter();                                       \
		hb_start_early();                                              \
		void *(*f)params = resolve((void **)&real.sym, #sym);          \
		void *p = f ? f args : new_fallback(n, al, nothrow);           \
		if (owned && p && hb_tracking())                               \
			track_alloc(p, n, fn, HB_HOOK_FRAME());                \
		return p;                                                      \
	}

#define DEL(sym, params, args)                                                 \
	HB_EXPORT void sym params                                              \
	{                                                                      \
		if (!p || boot_owns(p))                                        \
			return;                                                \
		GUARDED = guard_enter();                                       \
		if (owned && hb_tracking())                                    \
			track_free(p);                                         \
		void(*f) params = resolve((void **)&real.sym, #sym);           \
		if (f)                                                         \
			f args;                                                \
		else                                                           \
			real.free(p);                                          \
	}

NEW(_Znwm, HELDBY_FN_NEW, 0, 0, (size_t n), (n))
NEW(_Znam, HELDBY_FN_NEW_ARRAY, 0, 0, (size_t n), (n))
NEW(_ZnwmRKSt9nothrow_t, HELDBY_FN_NEW, 0, 1, (size_t n, const void *t), (n, t))
NEW(_ZnamRKSt9nothrow_t, HELDBY_FN_NEW_ARRAY, 0, 1, (size_t n, const void *t),
    (n, t))
NEW(_ZnwmSt11align_val_t, HELDBY_FN_NEW, a, 0, (size_t n, size_t a), (n, a))
NEW(_ZnamSt11align_val_t, HELDBY_FN_NEW_ARRAY, a, 0, (size_t n, size_t a),
    (n, a))
NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, HELDBY_FN_NEW, a, 1,
    (size_t n, size_t a, const void *t), (n, a, t))
NEW(_ZnamSt11align_val_tRKSt9nothrow_t, HELDBY_FN_NEW_ARRAY, a, 1,
    (size_t n, size_t a, const void *t), (n, a, t))

DEL(_ZdlPv, (void *p), (p))
DEL(_ZdaPv, (void *p), (p))
DEL(_ZdlPvm, (void *p, size_t n), (p, n))
DEL(_ZdaPvm, (void *p, size_t n), (p, n))
DEL(_ZdlPvSt11align_val_t, (void *p, size_t a), (p, a))
DEL(_ZdaPvSt11align_val_t, (void *p, size_t a), (p, a))
DEL(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
DEL(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
DEL(_ZdlPvRKSt9nothrow_t, (void *p, const void *t), (p, t))
DEL(_ZdaPvRKSt9nothrow_t, (void *p, const void *t), (p, t))
DEL(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t),
    (p, a, t))
DEL(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t),
    (p, a, t))
