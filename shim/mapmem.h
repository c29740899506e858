/* SPDX-License-Identifier: MIT */
/* The shim's own tables take memory from mmap, never from the allocator
 * it observes. */
#ifndef HELDBY_SHIM_MAPMEM_H
#define HELDBY_SHIM_MAPMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* Which 4 KiB pages of a table have been written, a bit each, for a table
 * that is looked up before it is filled and too big to make resident up
 * front (hb_map_filled). A lookup reads only a written page: a slot on
 * any other is empty. Read first, a page maps the zero page, and the
 * first write then faults again and flushes the TLB of every CPU that
 * runs the program, an IPI to each (python3 -c pass: 56-66 -> 46-53 ms a
 * run). Pages larger than 4 KiB only make more lookups miss. */
#define HB_MARK_PAGE_BITS 12

/* Words of marks for a table of n bytes. */
#define HB_MARK_WORDS(n) ((((n) >> HB_MARK_PAGE_BITS) + 63) / 64)

/* Whether the page that byte off of the table lies in was written. */
static inline bool
hb_page_written(const _Atomic uint64_t *marks, size_t off)
{
	size_t pg = off >> HB_MARK_PAGE_BITS;
	return atomic_load_explicit(&marks[pg / 64], memory_order_acquire) >>
		       (pg % 64) &
	       1;
}

/* After the first write to the page of byte off: a thread that sees the
 * mark sees that write too. */
static inline void
hb_page_mark(_Atomic uint64_t *marks, size_t off)
{
	size_t pg = off >> HB_MARK_PAGE_BITS;
	uint64_t bit = UINT64_C(1) << (pg % 64);
	if (!(atomic_load_explicit(&marks[pg / 64], memory_order_relaxed) &
	      bit))
		atomic_fetch_or_explicit(&marks[pg / 64], bit,
					 memory_order_release);
}

#endif
