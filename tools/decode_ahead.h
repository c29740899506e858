/* SPDX-License-Identifier: MIT */
/*
 * A reader's events decoded on a thread of their own, handed over in
 * batches: decoding was a third of a report's time (python-json: 31% of
 * its instructions in reader_next), and it does not depend on the replay,
 * so the two share the machine's cores. Without a thread (it could not be
 * started) the batches are decoded on the caller's.
 */
#ifndef HELDBY_TOOLS_DECODE_AHEAD_H
#define HELDBY_TOOLS_DECODE_AHEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "reader.h"

struct decode_ahead;

/* Starts decoding r, on a thread of its own where thread is set and one
 * can be started, else on the caller's (in da_next). NULL without memory.
 * Until da_stop, only the decoder touches r. */
struct decode_ahead *da_start(struct reader *r, bool thread);

/* The next batch of events in trace order, in *ev: their count, or 0 at
 * the end. A MARK's label stays valid with its batch, until the next
 * call. */
size_t da_next(struct decode_ahead *d, const struct rd_event **ev);

/* Whether decoding stopped short for want of memory (a label's copy). */
int da_failed(const struct decode_ahead *d);

/* Stops the decoder (where it has not ended) and frees d; r is the
 * caller's again. */
void da_stop(struct decode_ahead *d);

#endif
