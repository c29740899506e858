/* SPDX-License-Identifier: MIT */
/*
 * The real allocation functions (the next definition after ours) and the
 * bootstrap arena that serves the allocations dlsym makes while we resolve
 * them.
 */
#ifndef HELDBY_REAL_H
#define HELDBY_REAL_H

#include <stdbool.h>
#include <stddef.h>

#include "attrs.h"
#include "hooks.h"

struct real_fns {
#define X(ret, name, args, req) ret(*name) args;
	HELDBY_HOOKS(X)
#undef X
};

extern struct real_fns real HB_HIDDEN;

/* Resolves every function once. Returns 0, or -1 while a resolution is in
 * progress (the caller then uses the bootstrap arena). Thread-safe; not
 * async-signal-safe (dlsym). */
int real_init(void) HB_HIDDEN;

/* Resolves one optional C++ symbol late (libstdc++ dlopen'ed after start,
 * possibly RTLD_LOCAL). Returns NULL when it cannot be found. */
void *real_lookup_cxx(const char *name) HB_HIDDEN;

/* Bootstrap arena: bump allocation from a static buffer, never reused. */
void *boot_malloc(size_t n, size_t align) HB_HIDDEN;
#define BOOT_SIZE (256u << 10)
extern unsigned char boot_buf[BOOT_SIZE] HB_HIDDEN;
/* Whether p is an arena block; every free asks, so inline. */
static inline bool
boot_owns(const void *p)
{
	return (const unsigned char *)p >= boot_buf &&
	       (const unsigned char *)p < boot_buf + BOOT_SIZE;
}
size_t boot_size(const void *p) HB_HIDDEN;

#endif
