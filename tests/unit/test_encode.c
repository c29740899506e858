/* SPDX-License-Identifier: MIT */
/*
 * The shim's record encoder and trace file writer produce exactly the
 * format of include/heldby/trace.h: decoded here by hand, field by field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "encode.h"
#include "heldby/trace.h"
#include "heldby/varint.h"
#include "tracefile.h"

static uint64_t
get_u(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	cr_assert_eq(heldby_get_u(p, end, &v), 0);
	return v;
}

static int64_t
get_s(const uint8_t **p, const uint8_t *end)
{
	int64_t v = 0;
	cr_assert_eq(heldby_get_s(p, end, &v), 0);
	return v;
}

Test(encode, encode_records_round_trip_with_deltas)
{
	uint8_t buf[4096];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	uint64_t starts[2] = { 0x400000, 0x600000 },
		 lens[2] = { 0x1000, 0x200 };
	uint8_t bid[3] = { 0xab, 0xcd, 0xef };
	cr_assert_eq(
		enc_module(&e, 1, 0x1000, 2, starts, lens, "/bin/x", bid, 3),
		0);
	cr_assert_eq(enc_stack(&e, 1, 0, 0x401234), 0);
	cr_assert_eq(enc_alloc(&e, 1000, 64, 0x7000, 1, 9), 0);
	cr_assert_eq(enc_free(&e, 900, 0x6ff0), 0); /* earlier time: clamped */
	cr_assert_eq(enc_thread(&e, 42, "worker"), 0);
	cr_assert_eq(enc_mark(&e, 2000, "go"), 0);
	cr_assert_eq(enc_module_unload(&e, 1), 0);
	cr_assert_eq(enc_end(&e, 3000, 5, 7), 0);

	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_MODULE);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 0x1000);
	cr_assert_eq(get_u(&p, end), 2);
	cr_assert_eq(get_u(&p, end), 0x400000);
	cr_assert_eq(get_u(&p, end), 0x1000);
	cr_assert_eq(get_u(&p, end), 0x600000);
	cr_assert_eq(get_u(&p, end), 0x200);
	cr_assert_eq(get_u(&p, end), 6);
	cr_assert(memcmp(p, "/bin/x", 6) == 0);
	p += 6;
	cr_assert_eq(get_u(&p, end), 3);
	cr_assert(memcmp(p, bid, 3) == 0);
	p += 3;
	cr_assert_eq(*p++, HELDBY_REC_STACK);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 0);
	cr_assert_eq(get_u(&p, end), 0x401234);
	cr_assert_eq(*p++, HELDBY_REC_ALLOC);
	cr_assert_eq(get_u(&p, end), 1000);
	cr_assert_eq(get_u(&p, end), 64);
	cr_assert_eq(get_s(&p, end), 0x7000);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 9);
	cr_assert_eq(*p++, HELDBY_REC_FREE);
	cr_assert_eq(get_u(&p, end), 0);
	cr_assert_eq(get_s(&p, end), -0x10);
	cr_assert_eq(*p++, HELDBY_REC_THREAD);
	cr_assert_eq(get_u(&p, end), 42);
	cr_assert_eq(get_u(&p, end), 6);
	cr_assert(memcmp(p, "worker", 6) == 0);
	p += 6;
	cr_assert_eq(*p++, HELDBY_REC_MARK);
	cr_assert_eq(get_u(&p, end), 1000);
	cr_assert_eq(get_u(&p, end), 2);
	p += 2;
	cr_assert_eq(*p++, HELDBY_REC_MODULE_UNLOAD);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(*p++, HELDBY_REC_END);
	cr_assert_eq(get_u(&p, end), 1000);
	cr_assert_eq(get_u(&p, end), 5);
	cr_assert_eq(get_u(&p, end), 7);
	cr_assert_eq(p, end);

	/* A new block starts its deltas from zero. */
	enc_clear(&e);
	cr_assert_eq(enc_free(&e, 5, 0x10), 0);
	p = buf;
	end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_FREE);
	cr_assert_eq(get_u(&p, end), 5);
	cr_assert_eq(get_s(&p, end), 0x10);
}

Test(encode, encode_refuses_what_does_not_fit)
{
	uint8_t buf[4];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	cr_assert_eq(enc_alloc(&e, 1, 2, 3, 4, 0), -1);
	cr_assert_eq(e.len, 0);
	cr_assert_eq(e.prev_time, 0);
	cr_assert_eq(enc_module_unload(&e, 1), 0);
	cr_assert_eq(e.len, 2);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

Test(encode, tracefile_writes_header_and_checked_blocks)
{
	char path[] = "/tmp/heldby-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct tfile t;
	cr_assert_eq(tfile_create(&t, path, 1, 2, 3, "/bin/x", NULL, 0, 0),
		     -EEXIST);
	unlink(path);
	cr_assert_eq(
		tfile_create(&t, path, 77, 1234, 5678, "/bin/x", NULL, 0, 0),
		0);
	uint8_t raw[1000];
	struct enc e;
	enc_init(&e, raw, sizeof(raw));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(
			enc_alloc(&e, (uint64_t)i, 16, 0x1000 + 16 * i, 0, 0),
			0);
	cr_assert_eq(tfile_write_block(&t, raw, e.len), 0);
	cr_assert_eq(tfile_write_block(&t, raw, e.len), 0);
	tfile_close(&t);

	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	uint8_t *f = malloc((size_t)st.st_size);
	FILE *fp = fopen(path, "rb");
	cr_assert_eq(fread(f, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	fclose(fp);
	unlink(path);

	cr_assert(memcmp(f, HELDBY_TRACE_MAGIC, 8) == 0);
	cr_assert_eq(rd32(f + 8), HELDBY_TRACE_VERSION);
	cr_assert_eq(rd32(f + 12), HELDBY_TRACE_HEADER_FIXED + 6);
	cr_assert_eq(rd64(f + 16), 77);
	cr_assert_eq(rd64(f + 24), 1234);
	cr_assert_eq(rd64(f + 32), 5678);
	cr_assert_eq(rd32(f + 40), 6);
	cr_assert(memcmp(f + 48, "/bin/x", 6) == 0);
	size_t off = rd32(f + 12);
	for (uint32_t seq = 0; seq < 2; seq++) {
		const uint8_t *b = f + off;
		cr_assert_eq(rd32(b), HELDBY_BLOCK_MAGIC);
		cr_assert_eq(rd32(b + 4), seq);
		uint32_t stored = rd32(b + 8), rawlen = rd32(b + 12);
		cr_assert_eq(rawlen, e.len);
		cr_assert_eq(rd32(b + 16),
			     heldby_block_check(seq, stored, rawlen));
		uint8_t out[1000];
		size_t n = ZSTD_decompress(
			out, sizeof(out), b + HELDBY_BLOCK_HEADER_SIZE, stored);
		cr_assert(!ZSTD_isError(n));
		cr_assert_eq(n, e.len);
		cr_assert(memcmp(out, raw, n) == 0);
		off += HELDBY_BLOCK_HEADER_SIZE + stored;
	}
	cr_assert_eq(off, (size_t)st.st_size);
	free(f);
}

/* The zstd level follows what the last block showed: the dense one after
 * a block that compressed 8:1 or better, or a small one; the fast one
 * after a big block that compressed 3:1 to 8:1; the loose one after a big
 * block that hardly compressed. Every block still reads back whole. */
Test(encode, tracefile_level_follows_how_well_the_last_block_compressed)
{
	char path[] = "/tmp/heldby-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(path);
	struct tfile t;
	cr_assert_eq(tfile_create(&t, path, 1, 2, 3, "/bin/x", NULL, 0, 0), 0);
	cr_assert_eq(t.level, TFILE_LEVEL_DENSE,
		     "until a block says otherwise");
	enum { BIG = 2 * TFILE_SMALL_BLOCK };
	uint8_t *noise = malloc(BIG), *same = calloc(BIG, 1),
		*two_bits = malloc(BIG);
	cr_assert(noise && same && two_bits);
	uint64_t x = 88172645463325252u;
	for (size_t i = 0; i < BIG; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		noise[i] = (uint8_t)x;
		two_bits[i] = (uint8_t)(x >> 32 & 3); /* about 4:1 */
	}
	struct {
		const uint8_t *raw;
		size_t len;
		int then;
	} steps[] = {
		{ noise, BIG, TFILE_LEVEL_LOOSE },
		{ same, BIG, TFILE_LEVEL_DENSE },
		{ two_bits, BIG, TFILE_LEVEL_FAST },
		{ noise, BIG, TFILE_LEVEL_LOOSE },
		{ two_bits, BIG, TFILE_LEVEL_FAST },
		{ noise, TFILE_SMALL_BLOCK - 1, TFILE_LEVEL_DENSE },
	};
	size_t n = sizeof steps / sizeof steps[0];
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(tfile_write_block(&t, steps[i].raw, steps[i].len),
			     0);
		cr_assert_eq(t.level, steps[i].then, "after block %zu", i);
	}
	tfile_close(&t);

	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	uint8_t h[HELDBY_BLOCK_HEADER_SIZE];
	cr_assert_eq(fseek(fp, HELDBY_TRACE_HEADER_FIXED + 6, SEEK_SET), 0);
	uint8_t *z = malloc(ZSTD_compressBound(BIG)), *out = malloc(BIG);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(fread(h, 1, sizeof h, fp), sizeof h);
		uint32_t stored = rd32(h + 8);
		cr_assert_eq(fread(z, 1, stored, fp), stored);
		size_t got = ZSTD_decompress(out, BIG, z, stored);
		cr_assert_eq(got, steps[i].len, "block %zu", i);
		cr_assert(memcmp(out, steps[i].raw, got) == 0, "block %zu", i);
	}
	fclose(fp);
	unlink(path);
	free(noise);
	free(same);
	free(two_bits);
	free(z);
	free(out);
}

/* Version 2 events: TIME only when the time moved by the resolution, SEQ
 * once per block, frees and addresses named by allocation number. */
Test(encode, v2_events_carry_time_and_numbers_only_when_needed)
{
	uint8_t buf[4096];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	uint64_t s1 = 0, s2 = 0;
	cr_assert_eq(enc_alloc_seq(&e, 5000, 64, 3, HELDBY_FN_NEW, &s1), 0);
	cr_assert_eq(
		enc_alloc_seq(&e, 5000 + ENC_TIME_RES_NS - 1, 32, 3, 0, &s2),
		0);
	cr_assert_eq(enc_free_seq(&e, 5000 + ENC_TIME_RES_NS, s1), 0);
	cr_assert_eq(enc_addr(&e, s2, 0x7000), 0);
	cr_assert_eq(enc_free_addr(&e, 4000, 0x6ff0), 0); /* earlier: no TIME */
	cr_assert_eq(enc_lost(&e, s2), 0);
	cr_assert_eq(s1, 1);
	cr_assert_eq(s2, 2);

	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_TIME);
	cr_assert_eq(get_u(&p, end), 5000);
	cr_assert_eq(*p++, HELDBY_REC_SEQ);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(*p++, HELDBY_REC_ALLOC_SEQ);
	cr_assert_eq(get_u(&p, end), 64);
	cr_assert_eq(get_u(&p, end), 3);
	cr_assert_eq(get_u(&p, end), HELDBY_FN_NEW);
	cr_assert_eq(*p++, HELDBY_REC_ALLOC_SEQ,
		     "within the resolution: no TIME");
	cr_assert_eq(get_u(&p, end), 32);
	cr_assert_eq(get_u(&p, end), 3);
	cr_assert_eq(get_u(&p, end), 0);
	cr_assert_eq(*p++, HELDBY_REC_TIME);
	cr_assert_eq(get_u(&p, end), ENC_TIME_RES_NS);
	cr_assert_eq(*p++, HELDBY_REC_FREE_SEQ);
	cr_assert_eq(get_u(&p, end), 2, "next_seq 3 minus allocation 1");
	cr_assert_eq(*p++, HELDBY_REC_ADDR);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_s(&p, end), 0x7000);
	cr_assert_eq(*p++, HELDBY_REC_FREE_ADDR);
	cr_assert_eq(get_s(&p, end), -0x10);
	cr_assert_eq(*p++, HELDBY_REC_LOST);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(p, end);

	/* A new block: time and number written again, numbering goes on. */
	enc_clear(&e);
	cr_assert_eq(enc_free_seq(&e, 7000, s2), 0);
	p = buf;
	end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_TIME);
	cr_assert_eq(get_u(&p, end), 7000);
	cr_assert_eq(*p++, HELDBY_REC_SEQ);
	cr_assert_eq(get_u(&p, end), 3);
	cr_assert_eq(*p++, HELDBY_REC_FREE_SEQ);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(p, end);
}

/* With a time table the records carry no time: each entry says before
 * which record (offset past the previous entry's) the time moves, in whole
 * milliseconds, and the table and its length follow the records. */
Test(encode, time_table_holds_the_times_behind_the_records)
{
	uint8_t buf[4096];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	enc_time_table(&e, 256);
	const uint64_t ms = HELDBY_TIME_TABLE_UNIT_NS;
	uint64_t s1;
	cr_assert_eq(enc_alloc_seq(&e, 7 * ms + 123, 64, 3, 0, &s1), 0);
	size_t at2 = e.len;
	cr_assert_eq(enc_alloc_seq(&e, 7 * ms + 900000, 32, 3, 0, NULL), 0);
	cr_assert_eq(e.len, at2 + 4, "within the millisecond: no entry");
	cr_assert_eq(enc_free_seq(&e, 10 * ms + 5, s1), 0);
	size_t len = enc_finish(&e);

	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_SEQ);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(*p++, HELDBY_REC_ALLOC_SEQ);
	p += 3;
	cr_assert_eq(*p++, HELDBY_REC_ALLOC_SEQ);
	p += 3;
	size_t at3 = (size_t)(p - buf);
	cr_assert_eq(*p++, HELDBY_REC_FREE_SEQ);
	cr_assert_eq(get_u(&p, end), 2);
	cr_assert_eq(p, end);

	uint32_t tl = rd32(buf + len - 4);
	cr_assert_eq(e.len + tl + 4, len);
	p = buf + e.len;
	end = p + tl;
	cr_assert_eq(get_u(&p, end), 0, "before the first record");
	cr_assert_eq(get_u(&p, end), 7, "7 ms from the block's start");
	cr_assert_eq(get_u(&p, end), at3, "before the free");
	cr_assert_eq(get_u(&p, end), 3, "on to 10 ms: the grid, not 10 ms + 5");
	cr_assert_eq(p, end);

	/* A full table refuses the record, whole, like a full block. */
	enc_clear(&e);
	size_t n = 0;
	for (uint64_t t = 1; enc_alloc_seq(&e, t * ms, 8, 1, 0, NULL) == 0; t++)
		n++;
	cr_assert(n > 20 && n < 256 / 2, "%zu entries", n);
	cr_assert(e.len < sizeof(buf) / 2);
}

/* Version 4: a free names its allocation by the smaller of "back" from
 * next_seq and the distance to the block's previous free. */
Test(encode, v4_free_near_when_its_delta_is_smaller)
{
	uint8_t buf[4096];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	for (int i = 0; i < 10; i++)
		cr_assert_eq(enc_alloc_seq(&e, 0, 16, 1, 0, NULL), 0);
	e.len = 0; /* keep only the frees; next_seq is 11 */
	cr_assert_eq(enc_free_seq(&e, 0, 3), 0);  /* back 8, +3 from 0 */
	cr_assert_eq(enc_free_seq(&e, 0, 4), 0);  /* back 7, +1 */
	cr_assert_eq(enc_free_seq(&e, 0, 10), 0); /* back 1, +6 */
	cr_assert_eq(enc_free_seq(&e, 0, 9), 0);  /* back 2, -1 */
	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_FREE_NEAR);
	cr_assert_eq(get_s(&p, end), 3);
	cr_assert_eq(*p++, HELDBY_REC_FREE_NEAR);
	cr_assert_eq(get_s(&p, end), 1);
	cr_assert_eq(*p++, HELDBY_REC_FREE_SEQ);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(*p++, HELDBY_REC_FREE_NEAR, "from the FREE_SEQ's block");
	cr_assert_eq(get_s(&p, end), -1);
	cr_assert_eq(p, end);

	enc_clear(&e); /* a new block counts from 0 again */
	cr_assert_eq(enc_free_seq(&e, 0, 8), 0);
	p = buf;
	end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_TIME);
	(void)get_u(&p, end);
	cr_assert_eq(*p++, HELDBY_REC_SEQ);
	cr_assert_eq(get_u(&p, end), 11);
	cr_assert_eq(*p++, HELDBY_REC_FREE_SEQ, "back 3 beats +8");
	cr_assert_eq(get_u(&p, end), 3);
	cr_assert_eq(p, end);
}

Test(encode, v2_nodes_are_deltas_to_the_previous_node_and_the_parent)
{
	uint8_t buf[256];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	cr_assert_eq(enc_node(&e, 5, 0, 0x401000, 0), 0);
	cr_assert_eq(enc_node(&e, 6, 5, 0x400ff0, 0x401000), 0);
	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_NODE);
	cr_assert_eq(get_u(&p, end), 5);
	cr_assert_eq(get_u(&p, end), 5, "outermost: up is the id");
	cr_assert_eq(get_s(&p, end), 0x401000);
	cr_assert_eq(*p++, HELDBY_REC_NODE);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_s(&p, end), -0x10);
	cr_assert_eq(p, end);
}

Test(encode, v4_nodes_carry_their_ip_whole)
{
	uint8_t buf[256];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	cr_assert_eq(enc_node_ip(&e, 5, 0, 0x401000), 0);
	cr_assert_eq(enc_node_ip(&e, 6, 5, 0x400ff0), 0);
	const uint8_t *p = buf, *end = buf + e.len;
	cr_assert_eq(*p++, HELDBY_REC_NODE_IP);
	cr_assert_eq(get_u(&p, end), 5);
	cr_assert_eq(get_u(&p, end), 5, "outermost: up is the id");
	cr_assert_eq(get_u(&p, end), 0x401000);
	cr_assert_eq(*p++, HELDBY_REC_NODE_IP);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 1);
	cr_assert_eq(get_u(&p, end), 0x400ff0, "not a delta to the parent's");
	cr_assert_eq(p, end);
}

Test(encode, v2_event_that_does_not_fit_changes_nothing)
{
	uint8_t buf[3];
	struct enc e;
	enc_init(&e, buf, sizeof(buf));
	cr_assert_eq(enc_alloc_seq(&e, 10, 64, 1, 0, NULL), -1);
	cr_assert_eq(e.len, 0);
	cr_assert_eq(e.next_seq, 1);
	cr_assert_eq(e.has_time, 0);
	cr_assert_eq(e.has_seq, 0);
}
