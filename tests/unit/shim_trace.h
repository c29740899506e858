/* SPDX-License-Identifier: MIT */
/*
 * A trace written by the shim's own encoder and file writer, for the tools'
 * tests that read one back (test_reader.c, test_replay.c). Only with
 * HAVE_SHIM_ENCODER, i.e. when the shim is built beside the tools.
 */
#ifndef HELDBY_TESTS_SHIM_TRACE_H
#define HELDBY_TESTS_SHIM_TRACE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <unistd.h>

#include "encode.h"
#include "heldby/trace.h"
#include "tracefile.h"

struct shim_trace {
	struct tfile tf;
	struct enc e;
	uint8_t buf[1 << 16];
};

/* Creates path (pid 77, program /bin/x) with flags (HELDBY_TRACE_F_*) and
 * starts the first block with module 1: /bin/x, one segment at
 * 0x1000..0x2000, load bias 0. Records go into t->e; t must stay where it
 * is until shim_trace_end. */
static inline void
shim_trace_begin_flags(struct shim_trace *t, const char *path, uint32_t flags)
{
	unlink(path);
	cr_assert_eq(
		tfile_create(&t->tf, path, 77, 1, 2, "/bin/x", NULL, 0, flags),
		0);
	enc_init(&t->e, t->buf, sizeof t->buf);
	if (flags & HELDBY_TRACE_F_TIME_TABLE)
		enc_time_table(&t->e, 4096);
	uint64_t start = 0x1000, len = 0x1000;
	cr_assert_eq(
		enc_module(&t->e, 1, 0, 1, &start, &len, "/bin/x", NULL, 0), 0);
}

/* The same with TIME records, as the tests' traces were before time
 * tables. */
static inline void
shim_trace_begin(struct shim_trace *t, const char *path)
{
	shim_trace_begin_flags(t, path, HELDBY_TRACE_F_NONE);
}

/* Writes the block so far and starts the next one. */
static inline void
shim_trace_next_block(struct shim_trace *t)
{
	cr_assert_eq(tfile_write_block(&t->tf, t->e.buf, enc_finish(&t->e)), 0);
	enc_clear(&t->e);
}

/* Writes the last block and closes the file. */
static inline void
shim_trace_end(struct shim_trace *t)
{
	cr_assert_eq(tfile_write_block(&t->tf, t->e.buf, enc_finish(&t->e)), 0);
	tfile_close(&t->tf);
}

#endif
