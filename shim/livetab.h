/* SPDX-License-Identifier: MIT */
/*
 * The table of live blocks (livetab.c): pointer -> size, and while a
 * trace is recorded the block's tag (the writer's allocation number,
 * shim/seqtag.h). What the counters (count.c) use to find a free's size.
 * Memory from mmap, never from the allocator it observes.
 */
#ifndef HELDBY_LIVETAB_H
#define HELDBY_LIVETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"

/* A block's size and its tag (0: none). */
struct lt_entry {
	size_t size;
	uint32_t tag;
};

/* Enters p -> e. Returns false when the table is full and cannot grow;
 * *stale gets an entry that p replaced (a block whose free was never
 * seen: the replay drops it the same way) and *replaced whether there was
 * one. solo: the caller is the only thread that changes the table (the
 * writer while recording), so no shard lock is taken. */
bool lt_insert(uintptr_t p, struct lt_entry e, struct lt_entry *stale,
	       bool *replaced, bool solo) HB_HIDDEN;
/* Removes p; returns whether it was there, its entry in *e. */
bool lt_take(uintptr_t p, bool solo, struct lt_entry *e) HB_HIDDEN;
/* Entries made from now on keep a tag (count.h: cnt_tag_blocks). */
void lt_tag_blocks(void) HB_HIDDEN;
/* count.h: cnt_untag_solo. */
void lt_untag_solo(bool (*old)(void *ctx, uintptr_t p, uint32_t tag),
		   void *ctx) HB_HIDDEN;
/* Prefetches the cache line p's lookup starts at. */
void lt_prefetch(uintptr_t p) HB_HIDDEN;
/* Live entries; relaxed loads, thread-safe. */
size_t lt_blocks(void) HB_HIDDEN;
/* Every shard's lock, for fork (count.h: cnt_lock_all). */
void lt_lock_all(void) HB_HIDDEN;
void lt_unlock_all(void) HB_HIDDEN;

#endif
