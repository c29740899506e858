/* SPDX-License-Identifier: MIT */
/*
 * Window of recent live allocations (livewin.h): a ring indexed by
 * allocation number and a linear-probing table from address to number,
 * twice the window's size so that probes stay short. Deletion shifts the
 * following entries back instead of leaving tombstones, so the table never
 * degrades however many events go through it.
 */
#include "livewin.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "mapmem.h"

int
lw_init(struct livewin *w, unsigned bits)
{
	if (bits < 4 || bits > 24)
		return -EINVAL;
	w->wmask = (1ull << bits) - 1;
	w->tmask = (2ull << bits) - 1;
	w->tshift = 64 - (bits + 1);
	w->ring = hb_map((w->wmask + 1) * sizeof(*w->ring));
	w->tab = hb_map((w->tmask + 1) * sizeof(*w->tab));
	if (!w->ring || !w->tab) {
		lw_destroy(w);
		return -ENOMEM;
	}
	return 0;
}

void
lw_destroy(struct livewin *w)
{
	if (w->ring)
		munmap(w->ring, (w->wmask + 1) * sizeof(*w->ring));
	if (w->tab)
		munmap(w->tab, (w->tmask + 1) * sizeof(*w->tab));
	w->ring = NULL;
	w->tab = NULL;
}

static uint64_t
home(const struct livewin *w, uint64_t ptr)
{
	/* Fibonacci hashing: addresses differ in their middle bits. */
	return (ptr * 0x9e3779b97f4a7c15u) >> w->tshift;
}

static uint64_t
find(const struct livewin *w, uint64_t ptr)
{
	uint64_t i = home(w, ptr);
	while (w->tab[i].ptr && w->tab[i].ptr != ptr)
		i = (i + 1) & w->tmask;
	return i;
}

/* Removes slot i and moves later entries of its probe run back. */
static void
remove_at(struct livewin *w, uint64_t i)
{
	uint64_t j = i;
	for (;;) {
		j = (j + 1) & w->tmask;
		if (!w->tab[j].ptr)
			break;
		uint64_t h = home(w, w->tab[j].ptr);
		/* Entry j may fill hole i unless its home lies in (i, j]. */
		if (((j - h) & w->tmask) >= ((j - i) & w->tmask)) {
			w->tab[i] = w->tab[j];
			i = j;
		}
	}
	w->tab[i].ptr = 0;
}

bool
lw_take(struct livewin *w, uint64_t ptr, uint64_t *seq)
{
	if (!ptr)
		return false;
	uint64_t i = find(w, ptr);
	if (!w->tab[i].ptr)
		return false;
	*seq = w->tab[i].seq;
	w->ring[*seq & w->wmask] = 0;
	remove_at(w, i);
	return true;
}

/* How many allocations ahead lw_evict prefetches the table slot of the one
 * it will evict then: that address was last touched a window ago, so the
 * lookup missed the cache, and a third of python-json's allocations
 * outlive the window. */
#define EVICT_AHEAD 8

bool
lw_evict(struct livewin *w, uint64_t seq, uint64_t *old_seq,
	 uint64_t *old_ptr)
{
	uint64_t ahead = w->ring[(seq + EVICT_AHEAD) & w->wmask];
	if (ahead)
		__builtin_prefetch(&w->tab[home(w, ahead)]);
	uint64_t p = w->ring[seq & w->wmask];
	if (!p)
		return false;
	uint64_t i = find(w, p);
	*old_ptr = p;
	*old_seq = w->tab[i].seq;
	w->ring[seq & w->wmask] = 0;
	if (w->tab[i].ptr)
		remove_at(w, i);
	return true;
}

bool
lw_put(struct livewin *w, uint64_t seq, uint64_t ptr, uint64_t *old_seq)
{
	uint64_t i = find(w, ptr);
	bool had = w->tab[i].ptr != 0;
	if (had) {
		*old_seq = w->tab[i].seq;
		w->ring[*old_seq & w->wmask] = 0;
	}
	w->tab[i].ptr = ptr;
	w->tab[i].seq = seq;
	w->ring[seq & w->wmask] = ptr;
	return had;
}

void
lw_prefetch(const struct livewin *w, uint64_t ptr)
{
	__builtin_prefetch(&w->tab[home(w, ptr)]);
}
