/* SPDX-License-Identifier: MIT */
/* The shim's own tables take memory from mmap, never from the allocator
 * it observes. */
#ifndef HELDBY_SHIM_MAPMEM_H
#define HELDBY_SHIM_MAPMEM_H

#include <stddef.h>
#include <sys/mman.h>

/* n bytes of zeroed private memory, or NULL. */
static inline void *
hb_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

#endif
