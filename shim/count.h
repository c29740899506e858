/* SPDX-License-Identifier: MIT */
/*
 * The live counters behind include/heldby.h: bytes held now, the peak of
 * that, and live blocks, in requested bytes, with the same rules as the
 * replay of a trace (tools/replay.c). A free has to know its block's size,
 * so every live block is kept in a table of pointer -> size, split into
 * shards with a lock each so that threads seldom meet on one; in count
 * mode a small block's size sits in a shadow byte instead.
 */
#ifndef HELDBY_COUNT_H
#define HELDBY_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"

/* A block taken out of the table while realloc runs. */
struct cnt_held {
	size_t size;
	uint32_t tag; /* its tag (cnt_tag_blocks), 0: none */
	bool known;
};

/* Fork handlers: a child must not inherit a shard lock that another
 * thread held. cnt_lock_all before fork (with the guard held, so nothing
 * this thread allocates meanwhile waits for a shard), cnt_unlock_all after
 * it in parent and child. */
void cnt_lock_all(void) HB_HIDDEN;
void cnt_unlock_all(void) HB_HIDDEN;

/* A new block p of n bytes (p != NULL). Call after the real allocation
 * returned, with the reentrancy guard held: a signal handler that
 * allocated inside a shard lock would deadlock. Thread-safe. Returns the
 * change in live blocks: 1, or 0 when p replaced a live block or could not
 * be entered (no memory; cnt_untracked counts it). */
int cnt_alloc(void *p, size_t n) HB_HIDDEN;
/* Forgets p (unknown pointers are ignored, as the replay ignores them);
 * returns whether it was live. Call before the real free: once freed,
 * another thread may be handed the same address. Guard held; thread-safe. */
bool cnt_free(void *p) HB_HIDDEN;
/* Count mode from the start: blocks of up to 253 bytes keep their size
 * in a shadow byte at their address (shadow.h) instead of the table.
 * Call before the first cnt_alloc; not with cnt_tag_blocks. */
void cnt_use_shadow(void) HB_HIDDEN;
/* From now on every block carries a 32-bit tag (the writer's, from the
 * trace's allocation number; 0: none), 4 bytes more per slot: a table
 * makes room for tags at its next insert, entries from before read as 0.
 * Not thread-safe. */
void cnt_tag_blocks(void) HB_HIDDEN;
/* cnt_alloc and cnt_free without the shard locks and read-modify-writes,
 * for the writer thread while it is the only one that changes the table
 * (recording: the hooks do not count then, and a forking thread waits for
 * the writer's drain to end before it takes the shard locks), with the
 * block's tag. cnt_alloc_solo returns 1 for a new block; 0 when p
 * replaced a live block, whose tag goes to *old_tag; -1 when p could not
 * be entered (cnt_untracked counts it). */
int cnt_alloc_solo(void *p, size_t n, uint32_t tag,
		   uint32_t *old_tag) HB_HIDDEN;
struct cnt_held cnt_free_solo(void *p) HB_HIDDEN;
/* Calls old(ctx, p, tag) for every live block p with a tag, and takes the
 * tag of each one it returns true for. The writer's, like the _solo
 * calls. */
void cnt_untag_solo(bool (*old)(void *ctx, uintptr_t p, uint32_t tag),
		    void *ctx) HB_HIDDEN;
/* A hint: p's slot will be looked up soon (the writer reads ahead: with
 * millions of live blocks the table is far bigger than the caches). Any
 * thread; reads a table that may be changing, and only prefetches. */
void cnt_prefetch(const void *p) HB_HIDDEN;
/* realloc: cnt_detach(old) before the real call, then cnt_realloc_done
 * with what it returned. Together they count as a free of old and an
 * allocation of n bytes at p; a failed realloc (p NULL, n != 0) puts old
 * back unchanged. Guard held; thread-safe. */
struct cnt_held cnt_detach(void *old) HB_HIDDEN;
void cnt_realloc_done(void *old, struct cnt_held h, void *p,
		      size_t n) HB_HIDDEN;

/* Readers: relaxed loads, exact once the threads that allocate are quiet.
 * Thread-safe and async-signal-safe. */
size_t cnt_current(void) HB_HIDDEN;
size_t cnt_peak(void) HB_HIDDEN;
size_t cnt_blocks(void) HB_HIDDEN;
/* peak := current. Thread-safe, async-signal-safe. */
void cnt_reset_peak(void) HB_HIDDEN;
/* Blocks that could not be entered in the table (no memory for it); they
 * are left out of the counters. */
size_t cnt_untracked(void) HB_HIDDEN;

#endif
