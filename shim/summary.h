/* SPDX-License-Identifier: MIT */
/*
 * The run's summary (HELDBY_REC_SUMMARY): what a replay of the trace will
 * find, its peak, what is held at the end and the number of calls, kept
 * by the writer as it counts the events, so that a reader need not replay
 * the trace for it. Written only where the writer's counts are the
 * replay's (sum_end).
 */
#ifndef HELDBY_SUMMARY_H
#define HELDBY_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "count.h"
#include "encode.h"

struct sum {
	struct enc_summary rec; /* peak, end and calls */
	uint64_t blocks;	/* live now */
	/* Allocations that replaced a live block in the counters' table,
	 * and LOST records written: the replay drops a block whose address
	 * came back only by a LOST record, so the writer's counts are the
	 * replay's only while the two agree. */
	uint64_t replaced, lost;
	/* The counters' table was empty when the trace began. */
	bool ok;
};

/* A new trace's summary, empty. Calls into count.c: not from a signal
 * handler. Every sum_* call on one struct sum from one thread, the
 * writer's. */
void sum_begin(struct sum *s) HB_HIDDEN;

/* An allocation was counted; added is what the counters' table said
 * (cnt_alloc_solo): 1 new, 0 replaced a live block, -1 not entered. */
static inline void
sum_alloc(struct sum *s, int added)
{
	s->rec.alloc_calls++;
	s->blocks += added > 0;
	s->replaced += added <= 0;
}

/* A free was counted; known: it released a live block. */
static inline void
sum_free(struct sum *s, bool known)
{
	s->rec.free_calls++;
	s->blocks -= known;
}

/* A LOST record was written. */
static inline void
sum_lost(struct sum *s)
{
	s->lost++;
}

/* After an allocation was written, at the time the reader will give that
 * record: a new peak happens then. */
static inline void
sum_note_peak(struct sum *s, uint64_t time)
{
	size_t cur = cnt_current();
	if (cur > s->rec.peak_bytes) {
		s->rec.peak_bytes = cur;
		s->rec.peak_blocks = s->blocks;
		s->rec.peak_time = time;
	}
}

/* At the end of the trace: the record, with what is held now; NULL when
 * it would not be what a replay finds (the table was not empty at the
 * start, a block was left out of it, or a replaced block went without its
 * LOST record). */
const struct enc_summary *sum_end(struct sum *s) HB_HIDDEN;

#endif
