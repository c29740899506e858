/* SPDX-License-Identifier: MIT */
/*
 * Test helper: prints the SUMMARY record the writer left in a trace's last
 * block, read the way `heldby run` reads it (block headers only, then the
 * last block), next to what a replay of the whole trace finds:
 *   NAME WRITER REPLAY     (WRITER is "-" when the trace has no summary)
 * test_summary.py wants the two columns equal. Last, a row of the replay
 * alone: ADDR records, which give a live block its address because the
 * writer could not name its free by number.
 *   trace_summary --modules TRACE
 * prints the path of each module the trace announces, one a line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "reader.h"
#include "replay.h"

static int
open_trace(const char *path, struct reader **r)
{
	char err[256];
	if (reader_open(path, r, err, sizeof err) == 0)
		return 0;
	fprintf(stderr, "trace_summary: %s: %s\n", path, err);
	return -1;
}

/* 0 and *out filled when the last block holds a summary. */
static int
writer_summary(const char *path, struct rd_summary *out)
{
	struct reader *r;
	if (open_trace(path, &r))
		return -1;
	int ok = -1;
	if (reader_skip_to_last_block(r) == 0) {
		struct rd_event ev;
		while (reader_next(r, &ev) == 1)
			;
		if (reader_stats(r)->has_summary) {
			*out = reader_stats(r)->summary;
			ok = 0;
		}
	}
	reader_close(r);
	return ok;
}

static int
replay_summary(const char *path, struct rp_summary *out, uint64_t *addrs)
{
	struct reader *r;
	if (open_trace(path, &r))
		return -1;
	struct replay rp;
	replay_init(&rp);
	struct rd_event ev;
	*addrs = 0;
	while (reader_next(r, &ev) == 1) {
		*addrs += ev.kind == RD_ADDR;
		if (replay_apply(&rp, &ev) != 0)
			return -1;
	}
	replay_finish(&rp, reader_stats(r)->last_time_ns,
		      reader_stats(r)->complete);
	*out = rp.sum;
	replay_free(&rp);
	reader_close(r);
	return 0;
}

static void
row(const char *name, int have, uint64_t w, uint64_t r)
{
	if (have)
		printf("%s %" PRIu64 " %" PRIu64 "\n", name, w, r);
	else
		printf("%s - %" PRIu64 "\n", name, r);
}

static int
print_modules(const char *path)
{
	struct reader *r;
	if (open_trace(path, &r))
		return 1;
	struct rd_event ev;
	while (reader_next(r, &ev) == 1)
		;
	for (uint64_t id = 1;; id++) {
		const struct rd_module *m = reader_module(r, id);
		if (!m)
			break;
		printf("%s\n", m->path);
	}
	reader_close(r);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--modules") == 0)
		return print_modules(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: trace_summary [--modules] TRACE\n");
		return 2;
	}
	struct rd_summary w = { 0 };
	struct rp_summary s;
	uint64_t addrs;
	int have = writer_summary(argv[1], &w) == 0;
	if (replay_summary(argv[1], &s, &addrs))
		return 1;
	row("peak_bytes", have, w.peak_bytes, s.peak_bytes);
	row("peak_blocks", have, w.peak_blocks, s.peak_blocks);
	row("peak_time_ns", have, w.peak_time_ns, s.peak_time_ns);
	row("end_bytes", have, w.end_bytes, s.end_bytes);
	row("end_blocks", have, w.end_blocks, s.end_blocks);
	row("alloc_calls", have, w.alloc_calls, s.alloc_calls);
	row("free_calls", have, w.free_calls, s.free_calls);
	row("addresses_given", 0, 0, addrs);
	return 0;
}
