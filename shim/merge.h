/* SPDX-License-Identifier: MIT */
/*
 * The k-way merge of the per-thread rings by order key (writer.c says why
 * that is the true order): a cursor on each ring, which reads its events
 * ahead into a small queue of its own. The writer's drain and a fork
 * child's count of the leftovers both walk the rings with it, in one home.
 * The walk is the drain's hot loop: it is inline here.
 */
#ifndef HELDBY_MERGE_H
#define HELDBY_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "count.h"
#include "event.h"
#include "ring.h"

/* How many events ahead of the one being written a cursor reads, and
 * prefetches the counters' table slots of: with millions of live blocks
 * (python-json) each lookup would otherwise wait on memory, and the
 * program on a full ring. */
#define MERGE_AHEAD 8

/* q holds the event at pos and up to MERGE_AHEAD read after it: reading
 * ahead never overwrites the event being written. */
#define MERGE_QLEN (2 * MERGE_AHEAD)
_Static_assert((MERGE_QLEN & (MERGE_QLEN - 1)) == 0 && MERGE_QLEN > MERGE_AHEAD,
	       "q: a power of 2");

struct merge_cur {
	struct ring *r;
	uint64_t pos, tail; /* the event at pos is the cursor's next */
	uint64_t key;	    /* its key: the merge compares only these */
	unsigned since;	    /* the drain's: events passed since it consumed */
	unsigned qh;	    /* q's slot of the event at pos */
	unsigned ahead;	    /* events read ahead of pos, kept in q */
	uint64_t ahead_pos; /* the next event to read ahead */
	struct ev q[MERGE_QLEN];
};

/* The cursors, whose memory is kept from one merge to the next. A cursor
 * holds no pointer into itself, and a merge orders pointers to cursors,
 * never the cursors. */
struct merge {
	struct merge_cur *curs;
	struct merge_cur **act; /* merge_run's */
	size_t cap;		/* of both */
	size_t n;		/* cursors added since merge_reset */
};

/* One merge: the cursors that have an event below the watermark w, in no
 * order; first is merge_first's. */
struct merge_run {
	struct merge_cur **act;
	size_t n, first;
	uint64_t w;
};

/* No cursors (their memory is kept). Not thread-safe, as every call on
 * one struct merge; async-signal-safe. */
static inline void
merge_reset(struct merge *m)
{
	m->n = 0;
}

/* A cursor on ring r from pos to tail, which the caller read (with the
 * ordering it needs). Returns 0, or -ENOMEM when there is no memory for
 * it: then it is not added. Takes own_realloc's memory: not
 * async-signal-safe. */
int merge_add(struct merge *m, struct ring *r, uint64_t pos,
	      uint64_t tail) HB_HIDDEN;
/* Frees the cursors' memory; m is empty after. Not async-signal-safe. */
void merge_free(struct merge *m) HB_HIDDEN;

/* The event at c->pos. */
static inline const struct ev *
merge_ev(const struct merge_cur *c)
{
	return &c->q[c->qh];
}

static inline void
merge_read_ahead(struct merge_cur *c)
{
	while (c->ahead < MERGE_AHEAD &&
	       c->ahead_pos + sizeof(struct ev) <= c->tail) {
		struct ev *e = &c->q[(c->qh + 1 + c->ahead) % MERGE_QLEN];
		ring_read(c->r, c->ahead_pos, e, sizeof(*e));
		if (e->kind == EV_ALLOC || e->kind == EV_FREE)
			cnt_prefetch((const void *)(uintptr_t)e->ptr);
		c->ahead_pos += sizeof(*e) + e->nframes * sizeof(uint64_t);
		c->ahead++;
	}
}

/* Reads the event at c->pos, if the cursor has one; true when its key is
 * below w. */
static inline bool
merge_peek(struct merge_cur *c, uint64_t w)
{
	if (c->pos + sizeof(struct ev) > c->tail)
		return false;
	if (c->ahead) { /* read ahead already: not again from the ring */
		c->qh = (c->qh + 1) % MERGE_QLEN;
		c->ahead--;
	} else {
		ring_read(c->r, c->pos, &c->q[c->qh], sizeof(struct ev));
		c->ahead_pos = c->pos + sizeof(struct ev) +
			       c->q[c->qh].nframes * sizeof(uint64_t);
	}
	c->key = c->q[c->qh].key;
	merge_read_ahead(c);
	return c->key < w;
}

/* Begins a merge of m's cursors: each reads its first event. The cursors
 * must stay as they are (no merge_add) until the merge ends. */
static inline struct merge_run
merge_start(struct merge *m, uint64_t w)
{
	struct merge_run run = { m->act, 0, 0, w };
	for (size_t i = 0; i < m->n; i++)
		if (merge_peek(&m->curs[i], w))
			run.act[run.n++] = &m->curs[i];
	return run;
}

/* The cursor whose event has the lowest key, or NULL when none is left
 * below the watermark. */
static inline struct merge_cur *
merge_first(struct merge_run *run)
{
	if (!run->n)
		return NULL;
	size_t bi = 0;
	for (size_t i = 1; i < run->n; i++)
		if (run->act[i]->key < run->act[bi]->key)
			bi = i;
	run->first = bi;
	return run->act[bi];
}

/* Past the event of c, the cursor merge_first returned last. */
static inline void
merge_next(struct merge_run *run, struct merge_cur *c)
{
	c->pos += sizeof(struct ev) + merge_ev(c)->nframes * sizeof(uint64_t);
	if (!merge_peek(c, run->w))
		run->act[run->first] = run->act[--run->n];
}

#endif
