/* SPDX-License-Identifier: MIT */
/*
 * Resolves the real allocation functions with dlsym(RTLD_NEXT) from the one
 * list in hooks.h. dlsym allocates (its error buffer), so those calls are
 * served from a small static arena whose blocks are recognised by free,
 * realloc and malloc_usable_size and never released (jemalloc#443).
 */
#include "real.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

struct real_fns real;

_Alignas(64) unsigned char boot_buf[BOOT_SIZE];
static atomic_size_t boot_used;
/* 0: not resolved, 1: resolving, 2: done */
static atomic_int real_state;

void *
boot_malloc(size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	size_t cur = atomic_load_explicit(&boot_used, memory_order_relaxed);
	for (;;) {
		/* 16 bytes of header hold the size, just before the block. */
		size_t start = (cur + 16 + align - 1) & ~(align - 1);
		size_t end = start + n;
		if (end > BOOT_SIZE || end < start)
			return NULL;
		if (atomic_compare_exchange_weak(&boot_used, &cur, end)) {
			memcpy(boot_buf + start - sizeof(size_t), &n,
			       sizeof(n));
			return boot_buf + start;
		}
	}
}

size_t
boot_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - sizeof(size_t), sizeof(n));
	return n;
}

static void
warn_raw(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));
	(void)r;
}

int
real_init(void)
{
	int st = atomic_load_explicit(&real_state, memory_order_acquire);
	if (st == 2)
		return 0;
	int expect = 0;
	if (!atomic_compare_exchange_strong(&real_state, &expect, 1))
		return atomic_load(&real_state) == 2 ? 0 : -1;
	struct real_fns r;
	memset(&r, 0, sizeof(r));
#define X(ret, name, args, req)                                                \
	*(void **)&r.name = dlsym(RTLD_NEXT, #name);                           \
	if (req && !r.name)                                                    \
		warn_raw("heldby: cannot resolve " #name "\n");
	HELDBY_HOOKS(X)
#undef X
	/* Publish the optional ones first so that malloc, which callers test,
	 * appears last. */
	void *(*m)(size_t) = r.malloc;
	r.malloc = NULL;
	real = r;
	__atomic_store_n(&real.malloc, m, __ATOMIC_RELEASE);
	atomic_store_explicit(&real_state, 2, memory_order_release);
	return m ? 0 : -1;
}

void *
real_lookup_cxx(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f)
		return f;
	/* libstdc++ loaded RTLD_LOCAL by a dlopen'ed library is not in the
	 * global scope that RTLD_NEXT searches: ask it directly. */
	void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return NULL;
	f = dlsym(h, name);
	if (real.dlclose)
		real.dlclose(h); /* not ours: no writer sync needed */
	return f;
}
