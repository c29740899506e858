/* SPDX-License-Identifier: MIT */
/*
 * tools/decode_ahead.c: the events a trace's reader gives, batch after
 * batch from the decoder thread, against the same trace read directly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode_ahead.h"
#include "reader.h"

#ifdef HAVE_SHIM_ENCODER
#include "shim_trace.h"

/* Enough events for several of the decoder's batches (4096 events). */
#define ALLOCS 9000

static void
trace_path(char *path, size_t n, const char *what)
{
	snprintf(path, n, "/tmp/heldby-test-%d-%s.hbt", (int)getpid(), what);
}

/* ALLOCS allocations, each freed two later, with a MARK every 997
 * allocations (so that marks fall in every batch, on both sides of their
 * edges) and blocks of 300 records. */
static void
write_trace(const char *path)
{
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	cr_assert_eq(enc_stack(&t.e, 1, 0, 0x1010), 0);
	for (uint64_t i = 0; i < ALLOCS; i++) {
		uint64_t now = 10 * i + 1;
		cr_assert_eq(enc_alloc(&t.e, now, 16 + i % 500,
				       0x100000 + 64 * i, 1, HELDBY_FN_MALLOC),
			     0);
		if (i >= 2)
			cr_assert_eq(enc_free(&t.e, now + 1,
					      0x100000 + 64 * (i - 2)),
				     0);
		if (i % 997 == 0) {
			char label[32];
			snprintf(label, sizeof label, "mark %llu",
				 (unsigned long long)i);
			cr_assert_eq(enc_mark(&t.e, now + 2, label), 0);
		}
		if (i % 300 == 299)
			shim_trace_next_block(&t);
	}
	cr_assert_eq(enc_end(&t.e, 10 * ALLOCS + 5, 0, 0), 0);
	shim_trace_end(&t);
}

static struct reader *
open_trace(const char *path)
{
	struct reader *r;
	char err[256];
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	return r;
}

/* An event as the tests compare it: its label copied. */
struct seen {
	struct rd_event ev;
	char label[32];
};

static size_t
read_directly(const char *path, struct seen *out, size_t cap)
{
	struct reader *r = open_trace(path);
	size_t n = 0;
	struct rd_event ev;
	while (n < cap && reader_next(r, &ev) == 1) {
		out[n].ev = ev;
		if (ev.kind == RD_MARK) {
			cr_assert_lt(ev.label_len, sizeof out[n].label);
			memcpy(out[n].label, ev.label, ev.label_len);
			out[n].label[ev.label_len] = 0;
		}
		n++;
	}
	reader_close(r);
	return n;
}

static void
expect_same(const struct rd_event *got, const struct seen *want, size_t i)
{
	cr_assert_eq(got->kind, want->ev.kind, "event %zu", i);
	cr_expect_eq(got->time_ns, want->ev.time_ns, "event %zu", i);
	cr_expect_eq(got->ptr, want->ev.ptr, "event %zu", i);
	cr_expect_eq(got->size, want->ev.size, "event %zu", i);
	cr_expect_eq(got->stack, want->ev.stack, "event %zu", i);
	if (got->kind == RD_MARK) {
		cr_assert_eq(got->label_len, strlen(want->label), "event %zu",
			     i);
		cr_expect_eq(memcmp(got->label, want->label, got->label_len), 0,
			     "event %zu: %.*s", i, (int)got->label_len,
			     got->label);
	}
}

/* Every event, in order and with its label, across several batches. */
static void
check_every_event(bool thread, const char *name)
{
	char path[64];
	trace_path(path, sizeof path, name);
	write_trace(path);
	static struct seen want[3 * ALLOCS];
	size_t nwant = read_directly(path, want, 3 * ALLOCS);
	cr_assert_gt(nwant, 2 * 4096, "several batches: %zu", nwant);

	struct reader *r = open_trace(path);
	struct decode_ahead *d = da_start(r, thread);
	cr_assert_not_null(d);
	size_t seen = 0, batches = 0, marks = 0;
	const struct rd_event *ev;
	size_t n;
	while ((n = da_next(d, &ev)) > 0) {
		batches++;
		cr_assert_leq(seen + n, nwant);
		/* labels checked once the whole batch is there: they must
		 * outlive the decoding of the events after them */
		for (size_t i = 0; i < n; i++) {
			expect_same(&ev[i], &want[seen + i], seen + i);
			marks += ev[i].kind == RD_MARK;
		}
		seen += n;
	}
	cr_expect_eq(da_failed(d), 0);
	da_stop(d);
	cr_expect_eq(seen, nwant);
	cr_expect_gt(batches, 2);
	cr_expect_eq(marks, (ALLOCS + 996) / 997);
	cr_expect(reader_stats(r)->complete, "the reader read to the end");
	reader_close(r);
	unlink(path);
}

Test(decode_ahead, gives_every_event_in_order_with_its_label)
{
	check_every_event(true, "da-order");
}

/* The path taken where no thread can be started. */
Test(decode_ahead, without_a_thread_gives_the_same_events)
{
	check_every_event(false, "da-inline");
}

/* A caller that stops after the first batch: the decoder, which may be
 * waiting for a free slot, stops too, and the reader is usable again. */
Test(decode_ahead, stops_while_the_decoder_is_ahead, .timeout = 20)
{
	char path[64];
	trace_path(path, sizeof path, "da-stop");
	write_trace(path);
	struct reader *r = open_trace(path);
	struct decode_ahead *d = da_start(r, true);
	cr_assert_not_null(d);
	const struct rd_event *ev;
	size_t n = da_next(d, &ev);
	cr_assert_gt(n, 0);
	cr_expect_eq(ev[0].kind, RD_ALLOC);
	usleep(100000); /* the decoder fills every slot and waits */
	da_stop(d);
	struct rd_event next;
	cr_expect_eq(reader_next(r, &next), 1, "more events after the stop");
	reader_close(r);
	unlink(path);
}

#else

Test(decode_ahead, needs_the_shim_encoder)
{
	cr_skip_test("the shim is not built beside the tools");
}

#endif
