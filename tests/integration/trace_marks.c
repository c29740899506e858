/* SPDX-License-Identifier: MIT */
/*
 * Test helper: replays a trace and prints each MARK with the bytes and
 * blocks held at that moment, as the replay counts them, then the peak:
 *   mark LABEL BYTES BLOCKS ... peak BYTES
 * test_api.py compares these with what the program read from heldby.h.
 */
#include <stdio.h>

#include "reader.h"
#include "replay.h"

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: trace_marks TRACE\n");
		return 2;
	}
	struct reader *r;
	char err[256];
	if (reader_open(argv[1], &r, err, sizeof err) != 0) {
		fprintf(stderr, "trace_marks: %s: %s\n", argv[1], err);
		return 1;
	}
	struct replay rp;
	replay_init(&rp);
	struct rd_event ev;
	while (reader_next(r, &ev) == 1) {
		if (replay_apply(&rp, &ev) != 0)
			return 1;
		if (ev.kind == RD_MARK)
			printf("mark %.*s %llu %llu\n", (int)ev.label_len,
			       ev.label, (unsigned long long)rp.cur_bytes,
			       (unsigned long long)rp.cur_blocks);
	}
	replay_finish(&rp, reader_stats(r)->last_time_ns,
		      reader_stats(r)->complete);
	printf("peak %llu\n", (unsigned long long)rp.sum.peak_bytes);
	replay_free(&rp);
	reader_close(r);
	return 0;
}
