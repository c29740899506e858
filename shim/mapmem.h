/* SPDX-License-Identifier: MIT */
/* The shim's own tables take memory from mmap, never from the allocator
 * it observes. */
#ifndef HELDBY_SHIM_MAPMEM_H
#define HELDBY_SHIM_MAPMEM_H

#include <stddef.h>
#include <sys/mman.h>

/* n bytes of zeroed private memory, or NULL; flags: more mmap flags. */
static inline void *
hb_map_with(size_t n, int flags)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static inline void *
hb_map(size_t n)
{
	return hb_map_with(n, 0);
}

/* hb_map for memory that is filled right away (a hash table being
 * rebuilt): its pages are made at once. Touched one by one, a page that is
 * read before it is written maps the zero page first, and the write then
 * costs a second fault and a TLB flush on every CPU that runs the program
 * (an IPI to each): python-json's tables took 2% of all samples there. */
static inline void *
hb_map_filled(size_t n)
{
	return hb_map_with(n, MAP_POPULATE);
}

#endif
