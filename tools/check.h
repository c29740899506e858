/* SPDX-License-Identifier: MIT */
/*
 * `heldby check`: a memory limit for any test suite, in any language. The
 * program runs as under `heldby run`; heldby then fails when it went over
 * a limit, and says which, by how much and who held the bytes.
 */
#ifndef HELDBY_TOOLS_CHECK_H
#define HELDBY_TOOLS_CHECK_H

#include <stdint.h>

struct check_limits {
	int peak_set, end_set, blocks_set;
	uint64_t peak;	 /* bytes held at the peak */
	uint64_t end;	 /* bytes still held at exit */
	uint64_t blocks; /* blocks still held at exit */
};

/* `heldby check ARGS`: argv[0] is "check". Returns heldby's exit status:
 * 0 within every limit, 1 over one (or unmeasurable), 2 bad usage, or the
 * program's own failure passed on (its status, 128+signal, 127). */
int check_main(int argc, char **argv);

/* What one process held, from its trace. */
struct check_measured {
	uint64_t peak, end, blocks;
};

enum check_flags {
	CHECK_QUIET_OK = 1,	/* no "within limits" line */
	CHECK_NAME_PROCESS = 2, /* say whose trace it is: "cc1 (pid 42)" */
};

/* How many limits the trace at path exceeds, each described on stderr
 * with its top three holders; -1 when it cannot be read (reason printed).
 * *m is filled when it can. Not thread-safe. */
int check_trace(const char *path, const struct check_limits *lim,
		unsigned flags, struct check_measured *m);

#endif
