/* SPDX-License-Identifier: MIT */
/*
 * Live set and per-site counters. The holders at the peak come out of one
 * pass: the global peak carries an epoch that grows with every new peak;
 * a site touched for the first time since the latest peak first saves its
 * current value as its value at that peak.
 */
#include "replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "heldby/trace.h"

void
replay_init(struct replay *rp)
{
	memset(rp, 0, sizeof *rp);
}

#define RP_SLAB 4096

struct rp_slab {
	struct rp_slab *next;
	struct rp_live node[RP_SLAB];
};

static struct rp_live *
live_new(struct replay *rp)
{
	if (!rp->spare) {
		struct rp_slab *sl = malloc(sizeof *sl);
		if (!sl)
			return NULL;
		sl->next = rp->slabs;
		rp->slabs = sl;
		for (size_t i = 0; i < RP_SLAB; i++) {
			sl->node[i].site = (struct rp_site *)rp->spare;
			rp->spare = &sl->node[i];
		}
	}
	struct rp_live *l = rp->spare;
	rp->spare = (struct rp_live *)l->site; /* free list link */
	return l;
}

static void
live_put(struct replay *rp, struct rp_live *l)
{
	l->site = (struct rp_site *)rp->spare;
	rp->spare = l;
}

void
replay_free(struct replay *rp)
{
	HASH_CLEAR(hh, rp->live);
	free(rp->recent);
	while (rp->slabs) {
		struct rp_slab *sl = rp->slabs;
		rp->slabs = sl->next;
		free(sl);
	}
	struct rp_site *s, *st;
	HASH_ITER(hh, rp->sites, s, st) {
		HASH_DEL(rp->sites, s);
		free(s);
	}
	memset(rp, 0, sizeof *rp);
}

/* Saves the site's value at the latest peak if it has not been touched
 * since that peak was reached. */
static void
touch(struct replay *rp, struct rp_site *s)
{
	if (s->epoch != rp->epoch) {
		s->peak_bytes = s->cur_bytes;
		s->peak_blocks = s->cur_blocks;
		s->peak_tsum = s->cur_tsum;
		s->epoch = rp->epoch;
	}
}

static void
after_change(struct replay *rp, uint64_t t)
{
	if (rp->cur_bytes > rp->sum.peak_bytes) {
		rp->sum.peak_bytes = rp->cur_bytes;
		rp->sum.peak_blocks = rp->cur_blocks;
		rp->sum.peak_time_ns = t;
		rp->epoch++;
	}
}

static void
note_time(struct replay *rp, uint64_t t)
{
	if (t > rp->last_time)
		rp->last_time = t;
}

/* A block leaves the live set: its site's and the global counters. */
static void
forget(struct replay *rp, struct rp_site *s, uint64_t size, uint64_t time)
{
	touch(rp, s);
	s->cur_bytes -= size;
	s->cur_blocks--;
	s->cur_tsum -= (double)time;
	rp->cur_bytes -= size;
	rp->cur_blocks--;
}

static void
drop_live(struct replay *rp, struct rp_live *l)
{
	forget(rp, l->site, l->size, l->time);
	HASH_DEL(rp->live, l);
	live_put(rp, l);
}

static int
live_insert(struct replay *rp, uint64_t id, uint64_t size, uint64_t time,
	    struct rp_site *s)
{
	struct rp_live *l = live_new(rp);
	if (!l)
		return -ENOMEM;
	l->ptr = id;
	l->size = size;
	l->time = time;
	l->site = s;
	HASH_ADD(hh, rp->live, ptr, sizeof l->ptr, l);
	return 0;
}

static struct rp_recent *
recent_slot(struct replay *rp, uint64_t id)
{
	if (!(id & RD_SEQ_ID(0)) || !rp->recent)
		return NULL;
	return &rp->recent[id & (RP_RECENT - 1)];
}

/* Removes block id from the live set: true when it was live. */
static bool
release_id(struct replay *rp, uint64_t id)
{
	struct rp_recent *r = recent_slot(rp, id);
	if (r && r->id == id) {
		forget(rp, r->site, r->size, r->time);
		r->id = 0;
		return true;
	}
	struct rp_live *l;
	HASH_FIND(hh, rp->live, &id, sizeof id, l);
	if (!l)
		return false;
	drop_live(rp, l);
	return true;
}

static struct rp_site *
site_get(struct replay *rp, uint64_t stack)
{
	struct rp_site **c = &rp->site_cache[stack % RP_SITE_CACHE];
	if (*c && (*c)->stack == stack)
		return *c;
	struct rp_site *s;
	HASH_FIND(hh, rp->sites, &stack, sizeof stack, s);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return NULL;
		s->stack = stack;
		s->epoch = rp->epoch; /* held nothing at every earlier peak */
		HASH_ADD(hh, rp->sites, stack, sizeof s->stack, s);
	}
	*c = s;
	return s;
}

int
replay_alloc(struct replay *rp, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack)
{
	note_time(rp, t);
	rp->sum.alloc_calls++;
	struct rp_live *l = NULL;
	/* A numbered allocation (RD_SEQ_ID) is new by construction: only an
	 * address can still be live, when its free went unseen. */
	if (!(ptr & RD_SEQ_ID(0)))
		HASH_FIND(hh, rp->live, &ptr, sizeof ptr, l);
	if (l) {
		/* Events are in true order, so this should not happen; the old
		 * block must have been freed unseen. */
		rp->sum.reused_live++;
		drop_live(rp, l);
	}
	struct rp_site *s = site_get(rp, stack);
	if (!s)
		return -ENOMEM;
	if (!rp->recent && (ptr & RD_SEQ_ID(0)))
		rp->recent = calloc(RP_RECENT, sizeof *rp->recent);
	struct rp_recent *r = recent_slot(rp, ptr);
	if (r) {
		/* The slot's block, RP_RECENT allocations older, outlived the
		 * window: on to the table. */
		if (r->id && live_insert(rp, r->id, r->size, r->time, r->site))
			return -ENOMEM;
		r->id = ptr;
		r->size = size;
		r->time = t;
		r->site = s;
	} else if (live_insert(rp, ptr, size, t, s)) {
		return -ENOMEM;
	}

	touch(rp, s);
	s->cur_bytes += size;
	s->cur_blocks++;
	s->cur_tsum += (double)t;
	s->calls++;
	s->total_bytes += size;
	rp->cur_bytes += size;
	rp->cur_blocks++;
	after_change(rp, t);
	return 0;
}

void
replay_release(struct replay *rp, uint64_t t, uint64_t ptr)
{
	note_time(rp, t);
	rp->sum.free_calls++;
	if (!release_id(rp, ptr))
		rp->sum.unknown_frees++;
}

void
replay_lost(struct replay *rp, uint64_t ptr)
{
	if (release_id(rp, ptr))
		rp->sum.reused_live++;
}

int
replay_rename(struct replay *rp, uint64_t id, uint64_t addr)
{
	struct rp_recent *r = recent_slot(rp, id);
	if (r && r->id == id) {
		r->id = 0;
		return live_insert(rp, addr, r->size, r->time, r->site);
	}
	struct rp_live *l;
	HASH_FIND(hh, rp->live, &id, sizeof id, l);
	if (l) {
		HASH_DEL(rp->live, l);
		l->ptr = addr;
		HASH_ADD(hh, rp->live, ptr, sizeof l->ptr, l);
	}
	return 0;
}

int
replay_apply(struct replay *rp, const struct rd_event *ev)
{
	switch (ev->kind) {
	case RD_ALLOC:
		return replay_alloc(rp, ev->time_ns, ev->ptr, ev->size, ev->stack);
	case RD_FREE:
		if (ev->lost)
			replay_lost(rp, ev->ptr);
		else
			replay_release(rp, ev->time_ns, ev->ptr);
		return 0;
	case RD_ADDR:
		return replay_rename(rp, ev->ptr, ev->addr);
	case RD_MARK:
		note_time(rp, ev->time_ns);
		rp->sum.marks++;
		return 0;
	case RD_END:
		note_time(rp, ev->time_ns);
		rp->sum.dropped += ev->dropped;
		rp->sum.waits += ev->waits;
		return 0;
	}
	return 0;
}

void
replay_finish(struct replay *rp, uint64_t duration_ns, int complete)
{
	struct rp_site *s, *st;
	HASH_ITER(hh, rp->sites, s, st)
		touch(rp, s);
	rp->sum.end_bytes = rp->cur_bytes;
	rp->sum.end_blocks = rp->cur_blocks;
	rp->sum.duration_ns = duration_ns > rp->last_time ? duration_ns : rp->last_time;
	rp->sum.complete = complete;
	rp->finished = 1;
}

int
replay_reader(struct replay *rp, struct reader *r)
{
	struct rd_event ev;
	int rc = 0;
	while (reader_next(r, &ev) == 1) {
		if (replay_apply(rp, &ev) != 0) {
			rc = -ENOMEM;
			break;
		}
	}
	const struct reader_stats *st = reader_stats(r);
	replay_finish(rp, st->last_time_ns, st->complete);
	return rc;
}

uint64_t
replay_peak_age(const struct replay *rp, const struct rp_site *s)
{
	if (!s->peak_blocks)
		return 0;
	double mean = s->peak_tsum / (double)s->peak_blocks;
	double age = (double)rp->sum.peak_time_ns - mean;
	return age > 0 ? (uint64_t)(age + 0.5) : 0;
}
