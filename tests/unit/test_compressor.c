/* SPDX-License-Identifier: MIT */
/*
 * The compressor thread writes the blocks handed to it whole and in order,
 * while the caller refills the other of two buffers, as the writer does;
 * a failed write is reported once, to the caller.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "compressor.h"
#include "heldby/trace.h"
#include "tracefile.h"

#define BLOCK (256u << 10)

static char path[64];

/* A new trace, and the compressor's thread for it. */
static void
start(struct tfile *t)
{
	snprintf(path, sizeof path, "/tmp/heldby-compressor-%d", (int)getpid());
	unlink(path);
	cr_assert_eq(tfile_create(t, path, 7, 1, 2, "/bin/x", NULL, 0, 0), 0);
	cr_assert_eq(compressor_start(t, NULL), 0);
}

/* The program closes the trace's descriptor under the compressor, and the
 * file is gone as well: the trace cannot be opened again by its path. */
static void
lose_descriptor(struct tfile *t)
{
	unlink(path);
	close(t->fd);
}

static void
finish_lost(struct tfile *t, uint8_t *buf)
{
	cr_assert_eq(compressor_stop(), 0);
	t->fd = -1; /* closed already */
	tfile_close(t);
	free(buf);
	unlink(path);
}

/* Block k: words that vary with k and with their place, so that a block
 * overwritten while it was being compressed cannot read back right. */
static size_t
fill(uint8_t *buf, unsigned k)
{
	size_t len = BLOCK - 4096 * (k % 7);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131 + k * 7919) >> (i % 3));
	return len;
}

static uint8_t *
read_file(size_t *n)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	uint8_t *d = malloc(*n);
	cr_assert_eq(fread(d, 1, *n, f), *n);
	fclose(f);
	return d;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

Test(compressor, writes_every_block_whole_and_in_order)
{
	struct tfile t;
	start(&t);
	uint8_t *bufs[2] = { malloc(BLOCK), malloc(BLOCK) };
	enum { BLOCKS = 24 };
	for (unsigned k = 0; k < BLOCKS; k++) {
		size_t len = fill(bufs[k % 2], k);
		cr_assert_eq(compressor_submit(bufs[k % 2], len), 0);
	}
	cr_assert_eq(compressor_stop(), 0);
	tfile_close(&t);

	size_t n;
	uint8_t *d = read_file(&n);
	size_t off = le32(d + 12); /* the header's size */
	uint8_t *want = malloc(BLOCK), *got = malloc(BLOCK);
	for (unsigned k = 0; k < BLOCKS; k++) {
		cr_assert_leq(off + HELDBY_BLOCK_HEADER_SIZE, n);
		const uint8_t *h = d + off;
		cr_assert_eq(le32(h), HELDBY_BLOCK_MAGIC);
		cr_assert_eq(le32(h + 4), k, "block %u in its place", k);
		uint32_t stored = le32(h + 8), raw = le32(h + 12);
		size_t len = fill(want, k);
		cr_assert_eq(raw, len);
		cr_assert_eq(ZSTD_decompress(got, BLOCK,
					     h + HELDBY_BLOCK_HEADER_SIZE,
					     stored),
			     len);
		cr_assert_eq(memcmp(got, want, len), 0, "block %u intact", k);
		off += HELDBY_BLOCK_HEADER_SIZE + stored;
	}
	cr_assert_eq(off, n, "nothing after the last block");
	free(d);
	free(want);
	free(got);
	free(bufs[0]);
	free(bufs[1]);
	unlink(path);
}

Test(compressor, a_failed_write_is_reported_once)
{
	struct tfile t;
	start(&t);
	uint8_t *buf = malloc(BLOCK);
	cr_assert_eq(compressor_submit(buf, fill(buf, 0)), 0);
	cr_assert_eq(compressor_wait(), 0);
	lose_descriptor(&t);
	cr_assert_eq(compressor_submit(buf, fill(buf, 1)), 0);
	cr_assert_eq(compressor_wait(), -EBADF);
	cr_assert_eq(compressor_wait(), 0);
	finish_lost(&t, buf);
}

Test(compressor, an_error_refuses_the_next_block)
{
	struct tfile t;
	start(&t);
	uint8_t *buf = malloc(BLOCK);
	lose_descriptor(&t);
	cr_assert_eq(compressor_submit(buf, fill(buf, 0)), 0);
	cr_assert_eq(compressor_submit(buf, fill(buf, 1)), -EBADF);
	finish_lost(&t, buf);
}
