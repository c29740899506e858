/* SPDX-License-Identifier: MIT */
/*
 * Batches go round DA_SLOTS slots: the decoder fills a free one while the
 * caller applies the one it holds. One lock and one condition variable
 * for both sides: they meet once every DA_BATCH events.
 */
#include "decode_ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DA_BATCH 4096
#define DA_SLOTS 4

struct da_batch {
	struct rd_event ev[DA_BATCH];
	size_t n;
	/* the MARK labels of the batch, copied: the reader's copy lasts only
	 * until its next event */
	char *labels;
	size_t labels_len, labels_cap;
	size_t marks; /* MARK events in the batch */
};

struct decode_ahead {
	struct reader *r;
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* batches filled and batches given back, counted from the start:
	 * slot filled % DA_SLOTS is the decoder's next, taken % DA_SLOTS the
	 * caller's */
	size_t filled, taken;
	bool held;  /* the caller holds slot taken % DA_SLOTS */
	bool ended; /* no batch comes after the filled ones */
	bool stop;  /* the caller wants no more */
	int err;
	struct da_batch slot[DA_SLOTS];
};

/* Copies ev's label to the end of b's labels; ev->label keeps its offset
 * until labels_point. */
static int
keep_label(struct da_batch *b, struct rd_event *ev)
{
	if (b->labels_len + ev->label_len > b->labels_cap) {
		size_t cap = b->labels_cap ? b->labels_cap : 256;
		while (cap < b->labels_len + ev->label_len)
			cap *= 2;
		char *l = realloc(b->labels, cap);
		if (!l)
			return -ENOMEM;
		b->labels = l;
		b->labels_cap = cap;
	}
	if (ev->label_len)
		memcpy(b->labels + b->labels_len, ev->label, ev->label_len);
	ev->label = (const char *)(uintptr_t)b->labels_len;
	b->labels_len += ev->label_len;
	b->marks++;
	return 0;
}

/* Turns the offsets keep_label left into pointers, once the labels no
 * longer move. */
static void
labels_point(struct da_batch *b)
{
	for (size_t i = 0; b->marks && i < b->n; i++) {
		struct rd_event *ev = &b->ev[i];
		if (ev->kind == RD_MARK) /* an empty label may have no copy */
			ev->label = ev->label_len
					    ? b->labels + (uintptr_t)ev->label
					    : "";
	}
}

/* Fills b with the next events: whether more may follow. */
static bool
fill(struct decode_ahead *d, struct da_batch *b)
{
	b->n = 0;
	b->labels_len = 0;
	b->marks = 0;
	bool more = true;
	while (b->n < DA_BATCH) {
		struct rd_event *ev = &b->ev[b->n];
		if (reader_next(d->r, ev) != 1) {
			more = false;
			break;
		}
		if (ev->kind == RD_MARK && keep_label(b, ev) != 0) {
			d->err = -ENOMEM;
			more = false;
			break;
		}
		b->n++;
	}
	labels_point(b);
	return more;
}

static void *
decoder_main(void *arg)
{
	struct decode_ahead *d = arg;
	for (;;) {
		pthread_mutex_lock(&d->mu);
		while (d->filled - d->taken == DA_SLOTS && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		bool stop = d->stop;
		size_t i = d->filled % DA_SLOTS;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			return NULL;
		bool more = fill(d, &d->slot[i]);
		pthread_mutex_lock(&d->mu);
		d->filled++;
		d->ended = !more;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		if (!more)
			return NULL;
	}
}

struct decode_ahead *
da_start(struct reader *r, bool thread)
{
	struct decode_ahead *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->r = r;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->threaded = thread &&
		      pthread_create(&d->thread, NULL, decoder_main, d) == 0;
	return d;
}

/* da_next without a decoder thread: the caller decodes. */
static size_t
next_inline(struct decode_ahead *d, const struct rd_event **ev)
{
	struct da_batch *b = &d->slot[0];
	if (d->ended)
		return 0;
	d->ended = !fill(d, b);
	*ev = b->ev;
	return b->n;
}

size_t
da_next(struct decode_ahead *d, const struct rd_event **ev)
{
	if (!d->threaded)
		return next_inline(d, ev);
	pthread_mutex_lock(&d->mu);
	if (d->held) {
		d->taken++;
		d->held = false;
		pthread_cond_broadcast(&d->cv);
	}
	while (d->filled == d->taken && !d->ended)
		pthread_cond_wait(&d->cv, &d->mu);
	size_t n = 0;
	if (d->filled > d->taken) {
		struct da_batch *b = &d->slot[d->taken % DA_SLOTS];
		*ev = b->ev;
		n = b->n;
		d->held = true;
	}
	pthread_mutex_unlock(&d->mu);
	return n;
}

int
da_failed(const struct decode_ahead *d)
{
	return d->err;
}

void
da_stop(struct decode_ahead *d)
{
	if (!d)
		return;
	if (d->threaded) {
		pthread_mutex_lock(&d->mu);
		d->stop = true;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		pthread_join(d->thread, NULL);
	}
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	for (size_t i = 0; i < DA_SLOTS; i++)
		free(d->slot[i].labels);
	free(d);
}
