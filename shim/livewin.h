/* SPDX-License-Identifier: MIT */
/*
 * The writer's window of recent allocations: which of the last 2^bits
 * numbered allocations are still live, and at which address. A free found
 * here is written as "allocation #k" (no address in the trace); an
 * allocation that outlives the window is handed back by lw_evict so that
 * its address can be written once. Memory is fixed at init (mmap, touched
 * as used). Not thread-safe: the writer thread only; not signal-safe.
 */
#ifndef HELDBY_LIVEWIN_H
#define HELDBY_LIVEWIN_H

#include <stdbool.h>
#include <stdint.h>

struct lw_slot {
	uint64_t ptr; /* 0: empty */
	uint64_t seq;
};

struct livewin {
	uint64_t *ring;       /* by seq modulo the window: its ptr, 0 if freed */
	struct lw_slot *tab;  /* ptr -> seq, open addressing, 2x the window */
	uint64_t wmask, tmask;
	unsigned tshift;
};

#define LW_BITS_DEFAULT 16

/* Returns 0 or -errno; bits in 4..24. */
int lw_init(struct livewin *w, unsigned bits);
void lw_destroy(struct livewin *w);
/* Removes the live allocation at ptr, if the window has one: true and its
 * number in *seq. */
bool lw_take(struct livewin *w, uint64_t ptr, uint64_t *seq);
/* Call before lw_put(seq): when the allocation that held seq's place in the
 * window (seq - window) is still live, removes it and returns true with
 * its number and address. */
bool lw_evict(struct livewin *w, uint64_t seq, uint64_t *old_seq,
	      uint64_t *old_ptr);
/* Allocation number seq is live at ptr (ptr != 0). When the window still
 * held another allocation at ptr (its free went unseen), that one is
 * removed and true is returned with its number in *old_seq. */
bool lw_put(struct livewin *w, uint64_t seq, uint64_t ptr, uint64_t *old_seq);
/* A hint: ptr will be taken or put soon. */
void lw_prefetch(const struct livewin *w, uint64_t ptr);

#endif
