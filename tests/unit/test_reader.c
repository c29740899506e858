/* SPDX-License-Identifier: MIT */
/*
 * The trace reader against files written here by a small independent
 * writer (so the format is checked from both sides), then cut short,
 * damaged and garbled: it must read what it can and never crash or hang.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "heldby/trace.h"
#include "heldby/varint.h"
#include "reader.h"
#include "replay.h"
#include "report.h"

#ifdef HAVE_SHIM_ENCODER
#include "shim_trace.h"
#endif

/* ---- a tiny writer ---- */

struct tw {
	uint8_t raw[1 << 16];
	size_t len;
	uint64_t pt, pp;
};

static void
tw_u(struct tw *w, uint64_t v)
{
	w->len += heldby_put_u(w->raw + w->len, v);
}

static void
tw_s(struct tw *w, int64_t v)
{
	w->len += heldby_put_s(w->raw + w->len, v);
}

static void
tw_str(struct tw *w, const char *s)
{
	size_t n = strlen(s);
	tw_u(w, n);
	memcpy(w->raw + w->len, s, n);
	w->len += n;
}

static void
tw_kind(struct tw *w, enum heldby_rec k)
{
	w->raw[w->len++] = (uint8_t)k;
}

static void
tw_dt(struct tw *w, uint64_t t)
{
	tw_u(w, t - w->pt);
	w->pt = t;
}

static void
tw_dptr(struct tw *w, uint64_t p)
{
	tw_s(w, (int64_t)(p - w->pp));
	w->pp = p;
}

static void
tw_module(struct tw *w, uint64_t id, uint64_t bias, uint64_t start,
	  uint64_t len, const char *path)
{
	tw_kind(w, HELDBY_REC_MODULE);
	tw_u(w, id);
	tw_u(w, bias);
	tw_u(w, 1);
	tw_u(w, start);
	tw_u(w, len);
	tw_str(w, path);
	tw_str(w, "");
}

static void
tw_unload(struct tw *w, uint64_t id)
{
	tw_kind(w, HELDBY_REC_MODULE_UNLOAD);
	tw_u(w, id);
}

static void
tw_stack(struct tw *w, uint64_t id, uint64_t parent, uint64_t ip)
{
	tw_kind(w, HELDBY_REC_STACK);
	tw_u(w, id);
	tw_u(w, parent);
	tw_u(w, ip);
}

static void
tw_alloc(struct tw *w, uint64_t t, uint64_t size, uint64_t ptr, uint64_t stack)
{
	tw_kind(w, HELDBY_REC_ALLOC);
	tw_dt(w, t);
	tw_u(w, size);
	tw_dptr(w, ptr);
	tw_u(w, stack);
	tw_u(w, HELDBY_FN_MALLOC);
}

static void
tw_free(struct tw *w, uint64_t t, uint64_t ptr)
{
	tw_kind(w, HELDBY_REC_FREE);
	tw_dt(w, t);
	tw_dptr(w, ptr);
}

static void
tw_mark(struct tw *w, uint64_t t, const char *label)
{
	tw_kind(w, HELDBY_REC_MARK);
	tw_dt(w, t);
	tw_str(w, label);
}

static void
tw_thread(struct tw *w, uint64_t tid, const char *name)
{
	tw_kind(w, HELDBY_REC_THREAD);
	tw_u(w, tid);
	tw_str(w, name);
}

static void
tw_end(struct tw *w, uint64_t t)
{
	tw_kind(w, HELDBY_REC_END);
	tw_dt(w, t);
	tw_u(w, 0);
	tw_u(w, 0);
}

static void
put32(FILE *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };
	fwrite(b, 1, 4, f);
}

static void
put64(FILE *f, uint64_t v)
{
	put32(f, (uint32_t)v);
	put32(f, (uint32_t)(v >> 32));
}

static void
write_header(FILE *f, uint32_t version)
{
	const char *exe = "/usr/bin/victim";
	fwrite(HELDBY_TRACE_MAGIC, 1, HELDBY_TRACE_MAGIC_LEN, f);
	put32(f, version);
	put32(f, HELDBY_TRACE_HEADER_FIXED + (uint32_t)strlen(exe));
	put64(f, 4242);
	put64(f, 1700000000000000000ull);
	put64(f, 1000);
	put32(f, (uint32_t)strlen(exe));
	put32(f, HELDBY_TRACE_F_NONE);
	fputs(exe, f);
}

/* Writes w as block seq and starts a new block; returns its file offset. */
static long
write_block(FILE *f, uint32_t seq, struct tw *w)
{
	long at = ftell(f);
	size_t cap = ZSTD_compressBound(w->len);
	void *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	size_t n = ZSTD_compress2(c, z, cap, w->raw, w->len);
	cr_assert(!ZSTD_isError(n));
	ZSTD_freeCCtx(c);
	put32(f, HELDBY_BLOCK_MAGIC);
	put32(f, seq);
	put32(f, (uint32_t)n);
	put32(f, (uint32_t)w->len);
	put32(f, heldby_block_check(seq, (uint32_t)n, (uint32_t)w->len));
	fwrite(z, 1, n, f);
	free(z);
	w->len = 0;
	w->pt = w->pp = 0;
	return at;
}

static char *
tmpname(void)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "/tmp/heldby-test-%d-XXXXXX", (int)getpid());
	int fd = mkstemp(buf);
	cr_assert_geq(fd, 0);
	close(fd);
	return buf;
}

struct three {
	char path[64];
	long block[3];
	long size;
	unsigned per_block; /* allocations in each block */
};

/* Three blocks of allocations; END in the third. */
static void
write_three(struct three *t)
{
	static struct tw w;
	strcpy(t->path, tmpname());
	FILE *f = fopen(t->path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	t->per_block = 200;
	uint64_t time = 10;
	for (uint32_t b = 0; b < 3; b++) {
		if (b == 0) {
			tw_module(&w, 1, 0x400000, 0x400000, 0x10000,
				  "/usr/bin/victim");
			tw_stack(&w, 1, 0, 0x401000);
			tw_stack(&w, 2, 1, 0x402000);
		}
		for (unsigned i = 0; i < t->per_block; i++)
			tw_alloc(&w, time++, 100 + b,
				 0x10000000ull + (b * 1000 + i) * 64, 2);
		if (b == 2)
			tw_end(&w, time);
		t->block[b] = write_block(f, b, &w);
	}
	t->size = ftell(f);
	fclose(f);
}

/* The first size bytes of path, in a buffer to free. */
static char *
read_bytes(const char *path, long size)
{
	char *buf = malloc((size_t)size);
	cr_assert_not_null(buf);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return buf;
}

/* path holds the n bytes at buf and nothing else. */
static void
write_bytes(const char *path, const char *buf, long n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fwrite(buf, 1, (size_t)n, f);
	fclose(f);
}

struct tally {
	unsigned allocs, frees, marks, ends;
	unsigned per_size[3];
};

/* Reads every event; *st is a copy of the stats (valid after close). */
static int
read_all(const char *path, struct tally *ty, const struct reader_stats **st,
	 struct reader **rp)
{
	char err[256];
	struct reader *r;
	int rc = reader_open(path, &r, err, sizeof err);
	if (rc)
		return rc;
	memset(ty, 0, sizeof *ty);
	struct rd_event ev;
	unsigned guard = 0;
	while (reader_next(r, &ev) == 1) {
		cr_assert_lt(guard++, 10000000u, "reader does not stop");
		switch (ev.kind) {
		case RD_ALLOC:
			ty->allocs++;
			if (ev.size >= 100 && ev.size < 103)
				ty->per_size[ev.size - 100]++;
			break;
		case RD_FREE: ty->frees++; break;
		case RD_MARK: ty->marks++; break;
		case RD_END: ty->ends++; break;
		case RD_ADDR: break;
		}
	}
	static struct reader_stats copy;
	copy = *reader_stats(r);
	*st = &copy;
	if (rp)
		*rp = r;
	else
		reader_close(r);
	return 0;
}

Test(reader, round_trip)
{
	static struct tw w;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	tw_module(&w, 1, 0x555500000000ull, 0x555500001000ull, 0x2000,
		  "/usr/bin/victim");
	tw_stack(&w, 1, 0, 0x555500001234ull);
	tw_stack(&w, 2, 1, 0x555500002000ull);
	tw_thread(&w, 7, "worker");
	tw_alloc(&w, 5, 64, 0x7f0000001000ull, 2);
	tw_alloc(&w, 6, 32, 0x7f0000000800ull,
		 1); /* pointer goes down: negative delta */
	write_block(f, 0, &w);
	tw_mark(&w, 8, "request \"done\"");
	tw_free(&w, 9, 0x7f0000001000ull);
	tw_end(&w, 12);
	write_block(f, 1, &w);
	fclose(f);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	cr_expect_eq(reader_pid(r), 4242);
	cr_expect_str_eq(reader_exe(r), "/usr/bin/victim");
	struct rd_event ev;
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_ALLOC);
	cr_expect_eq(ev.time_ns, 5);
	cr_expect_eq(ev.size, 64);
	cr_expect_eq(ev.ptr, 0x7f0000001000ull);
	cr_expect_eq(ev.stack, 2);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.ptr, 0x7f0000000800ull);
	cr_expect_eq(ev.time_ns, 6);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_MARK);
	cr_expect_eq(ev.time_ns, 8, "deltas restart at each block");
	cr_expect_eq(ev.label_len, strlen("request \"done\""));
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_FREE);
	cr_expect_eq(ev.ptr, 0x7f0000001000ull);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_END);
	cr_expect_eq(ev.time_ns, 12);
	cr_expect_eq(reader_next(r, &ev), 0);
	cr_expect_eq(reader_next(r, &ev), 0, "the end stays the end");

	const struct rd_node *n = reader_node(r, 1);
	cr_assert_not_null(n);
	cr_expect_eq(n->module, 1);
	cr_expect_eq(n->offset, 0x1234);
	n = reader_node(r, 2);
	cr_assert_not_null(n);
	cr_expect_eq(n->parent, 1);
	cr_expect_eq(n->module, 1,
		     "a return address at the end of a range is inside");
	const struct reader_stats *st = reader_stats(r);
	cr_expect(st->complete);
	cr_expect(!st->truncated);
	cr_expect_eq(st->blocks_read, 2);
	cr_expect_eq(st->blocks_damaged, 0);
	reader_close(r);
	unlink(path);
}

Test(reader, resolves_frames_against_the_modules_live_at_the_time)
{
	static struct tw w;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	tw_module(&w, 1, 0x7000000000ull, 0x7000001000ull, 0x1000,
		  "/lib/liba.so");
	tw_stack(&w, 1, 0, 0x7000001100ull);
	tw_unload(&w, 1);
	tw_stack(&w, 2, 0, 0x7000001100ull);
	write_block(f, 0, &w);
	tw_module(&w, 2, 0x6fff000000ull, 0x7000001000ull, 0x1000,
		  "/lib/libb.so");
	tw_stack(&w, 3, 0, 0x7000001100ull);
	tw_end(&w, 1);
	write_block(f, 1, &w);
	fclose(f);

	struct tally ty;
	const struct reader_stats *st;
	struct reader *r;
	cr_assert_eq(read_all(path, &ty, &st, &r), 0);
	cr_expect_eq(reader_node(r, 1)->module, 1);
	cr_expect_eq(reader_node(r, 1)->offset, 0x1100);
	cr_expect_eq(reader_node(r, 2)->module, 0, "liba was unloaded");
	cr_expect_eq(reader_node(r, 3)->module, 2);
	cr_expect_eq(reader_node(r, 3)->offset, 0x1001100ull);
	cr_expect_str_eq(reader_module(r, 1)->path, "/lib/liba.so");
	reader_close(r);
	unlink(path);
}

Test(reader, reports_cut_short_trace)
{
	struct three t;
	write_three(&t);
	char *buf = read_bytes(t.path, t.size);

	long cuts[] = { t.block[0],	 t.block[0] + 3, t.block[0] + 25,
			t.block[1] - 1,	 t.block[1],	 t.block[1] + 19,
			t.block[1] + 20, t.block[2] + 7, t.size - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		long cut = cuts[i];
		write_bytes(t.path, buf, cut);
		struct tally ty;
		const struct reader_stats *st;
		struct reader *r;
		cr_assert_eq(read_all(t.path, &ty, &st, &r), 0, "cut at %ld",
			     cut);
		unsigned whole = 0;
		for (int b = 0; b < 3; b++)
			if (t.block[b] < cut &&
			    (b == 2 ? t.size : t.block[b + 1]) <= cut)
				whole++;
		cr_expect(!st->complete, "cut at %ld", cut);
		cr_expect_eq(ty.allocs, whole * t.per_block,
			     "cut at %ld: %u allocs", cut, ty.allocs);
		cr_expect_eq(st->blocks_read, whole);
		cr_expect_eq(st->blocks_damaged, 0, "cut at %ld", cut);
		cr_expect_eq(st->truncated,
			     cut != t.block[0] && cut != t.block[1],
			     "cut at %ld", cut);
		reader_close(r);
	}
	/* Cut inside the file header: a clear error, not a crash. */
	write_bytes(t.path, buf, 20);
	char err[256];
	struct reader *r;
	cr_expect_neq(reader_open(t.path, &r, err, sizeof err), 0);
	free(buf);
	unlink(t.path);
}

static void
flip(const char *path, long off)
{
	FILE *f = fopen(path, "r+b");
	fseek(f, off, SEEK_SET);
	int c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x5a, f);
	fclose(f);
}

Test(reader, skips_damaged_block)
{
	/* A byte of block 2's payload, then of its header, then its magic. */
	long where[] = { 40, 6, 0, 16 };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		struct three t;
		write_three(&t);
		flip(t.path, t.block[1] + where[i]);
		struct tally ty;
		const struct reader_stats *st;
		struct reader *r;
		cr_assert_eq(read_all(t.path, &ty, &st, &r), 0);
		cr_expect_eq(st->blocks_read, 2, "flip at +%ld", where[i]);
		cr_expect_eq(st->blocks_damaged, 1, "flip at +%ld", where[i]);
		cr_expect_eq(ty.per_size[0], t.per_block);
		cr_expect_eq(ty.per_size[1], 0);
		cr_expect_eq(ty.per_size[2], t.per_block);
		cr_expect(st->ended, "block 3 holds END");
		cr_expect(!st->complete, "a block is missing");
		reader_close(r);
		unlink(t.path);
	}
}

/* Copies path's bytes [0, from) and [to, size) into a new file. */
static void
cut_out(const char *path, long from, long to, long size)
{
	char *buf = read_bytes(path, size);
	memmove(buf + from, buf + to, (size_t)(size - to));
	write_bytes(path, buf, from + size - to);
	free(buf);
}

Test(reader, counts_block_cut_out_cleanly_from_sequence_numbers)
{
	struct three t;
	write_three(&t);
	cut_out(t.path, t.block[1], t.block[2], t.size);
	struct tally ty;
	const struct reader_stats *st;
	cr_assert_eq(read_all(t.path, &ty, &st, NULL), 0);
	cr_expect_eq(st->blocks_read, 2);
	cr_expect_eq(st->blocks_damaged, 1);
	cr_expect(st->ended);
	cr_expect(!st->complete);
	cr_expect_eq(ty.per_size[1], 0);
	unlink(t.path);
}

Test(reader, complete_when_nothing_lost)
{
	struct three t;
	write_three(&t);
	struct tally ty;
	const struct reader_stats *st;
	cr_assert_eq(read_all(t.path, &ty, &st, NULL), 0);
	cr_expect_eq(st->blocks_damaged, 0);
	cr_expect(st->ended && st->complete && !st->truncated);
	cr_expect_eq(ty.allocs, 3 * t.per_block);
	unlink(t.path);
}

Test(reader, rejects_header_claiming_huge_size)
{
	char err[256];
	struct reader *r;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	fwrite(HELDBY_TRACE_MAGIC, 1, HELDBY_TRACE_MAGIC_LEN, f);
	put32(f, HELDBY_TRACE_VERSION);
	put32(f, 0xfffffff0u); /* header size */
	put64(f, 1);
	put64(f, 2);
	put64(f, 3);
	put32(f, 0xffff0000u); /* exe length */
	put32(f, 0);
	fclose(f);
	cr_expect_neq(reader_open(path, &r, err, sizeof err), 0);
	cr_expect_str_eq(err, "damaged trace header");
	unlink(path);
}

Test(reader, stack_nodes_cannot_form_a_cycle)
{
	static struct tw w;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	tw_stack(&w, 1, 0, 0x1000);
	tw_stack(&w, 2, 1, 0x2000);
	tw_stack(&w, 1, 2, 0x3000);  /* redefined with a parent below it */
	tw_stack(&w, 3, 99, 0x4000); /* parent never defined */
	tw_stack(&w, 4, 4, 0x5000);  /* its own parent */
	tw_stack(&w, 0, 1, 0x6000);  /* 0 means no stack */
	tw_alloc(&w, 1, 10, 0x100, 2);
	tw_end(&w, 2);
	write_block(f, 0, &w);
	fclose(f);
	struct tally ty;
	const struct reader_stats *st;
	struct reader *r;
	cr_assert_eq(read_all(path, &ty, &st, &r), 0);
	cr_expect_eq(ty.allocs, 1);
	cr_expect_eq(st->anomalies, 4);
	const struct rd_node *n1 = reader_node(r, 1), *n3 = reader_node(r, 3);
	cr_assert(n1 && n3);
	cr_expect_eq(n1->parent, 0, "the first definition stands");
	cr_expect_eq(n1->ip, 0x1000);
	cr_expect_eq(n3->parent, 0, "an unknown parent is cut off");
	cr_assert(reader_node(r, 4));
	cr_expect_eq(reader_node(r, 4)->parent, 0, "not its own parent");
	cr_expect_null(reader_node(r, 0));
	reader_close(r);
	unlink(path);
}

/* Ids are 1, 2, 3 … from the writer and live in an array; an id far past
 * them (a damaged file) must neither grow the array to its size nor get
 * lost, also once the array has grown past it. */
Test(reader, stack_node_ids_far_apart_are_all_found)
{
	static struct tw w;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	uint32_t seq = 0;
	tw_stack(&w, 1, 0, 0x1000);
	tw_stack(&w, 1ull << 60, 1, 0x2000);
	tw_stack(&w, 20000, 1, 0x3000); /* hashed now, inside the array later */
	for (uint64_t id = 2; id < 40000; id++) {
		if (id != 20000)
			tw_stack(&w, id, id - 1, 0x4000 + id);
		if (w.len > sizeof w.raw - 64)
			write_block(f, seq++, &w);
	}
	tw_stack(&w, 20000, 1, 0x5000); /* a redefinition, still refused */
	tw_alloc(&w, 1, 10, 0x100, 1ull << 60);
	tw_end(&w, 2);
	write_block(f, seq, &w);
	fclose(f);
	struct tally ty;
	const struct reader_stats *st;
	struct reader *r;
	cr_assert_eq(read_all(path, &ty, &st, &r), 0);
	const struct rd_node *far = reader_node(r, 1ull << 60),
			     *mid = reader_node(r, 20000);
	cr_assert(far && mid);
	cr_expect_eq(far->parent, 1);
	cr_expect_eq(far->ip, 0x2000);
	cr_expect_eq(mid->ip, 0x3000, "the first definition stands");
	cr_expect_eq(st->anomalies, 1);
	cr_assert(reader_node(r, 39999));
	cr_expect_eq(reader_node(r, 39999)->parent, 39998);
	cr_expect_eq(reader_node(r, 20001)->parent, 20000);
	cr_expect_null(reader_node(r, 40000));
	cr_expect_null(reader_node(r, (1ull << 60) + 1));
	reader_close(r);
	unlink(path);
}

Test(reader, survives_garbage)
{
	struct three t;
	write_three(&t);
	char *orig = read_bytes(t.path, t.size);
	srand(12345);
	for (int round = 0; round < 200; round++) {
		write_bytes(t.path, orig, t.size);
		for (int k = 0; k < 1 + round % 8; k++)
			flip(t.path,
			     t.block[0] + rand() % (t.size - t.block[0]));
		struct tally ty;
		const struct reader_stats *st;
		cr_assert_eq(read_all(t.path, &ty, &st, NULL), 0);
		cr_expect_leq(ty.allocs, 3 * t.per_block);
	}
	/* Pure noise after a valid header. */
	FILE *f = fopen(t.path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	for (int i = 0; i < 300000; i++)
		fputc(i % 7 == 0 ? 'H' : rand() & 0xff, f);
	fclose(f);
	struct tally ty;
	const struct reader_stats *st;
	cr_assert_eq(read_all(t.path, &ty, &st, NULL), 0);
	cr_expect_eq(ty.allocs, 0);
	cr_expect(!st->complete);
	free(orig);
	unlink(t.path);
}

Test(reader, rejects_non_trace)
{
	char err[256];
	struct reader *r;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	fputs("#!/bin/sh\necho this is not a trace, but it is long enough\n",
	      f);
	fclose(f);
	cr_expect_neq(reader_open(path, &r, err, sizeof err), 0);
	cr_expect_str_eq(err, "not a heldby trace");
	f = fopen(path, "wb");
	fclose(f);
	cr_expect_neq(reader_open(path, &r, err, sizeof err), 0, "empty file");
	cr_expect_str_eq(err, "empty file, not a heldby trace");
	cr_expect_neq(reader_open("/dev/null", &r, err, sizeof err), 0);
	cr_expect_str_eq(err, "not a regular file, so not a heldby trace");
	cr_expect_neq(reader_open("/tmp", &r, err, sizeof err), 0);
	cr_expect_str_eq(err, "is a directory, not a heldby trace");
	cr_expect_neq(
		reader_open("/nonexistent/trace.hbt", &r, err, sizeof err), 0);
	cr_expect_str_eq(err, "No such file or directory");
	unlink(path);
}

Test(reader, rejects_newer_version)
{
	char err[256];
	struct reader *r;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION + 1);
	fclose(f);
	cr_expect_neq(reader_open(path, &r, err, sizeof err), 0);
	char want[128];
	snprintf(want, sizeof want,
		 "format version %u is newer than this heldby (%u)",
		 HELDBY_TRACE_VERSION + 1, HELDBY_TRACE_VERSION);
	cr_expect_str_eq(err, want);
	unlink(path);
}

Test(reader, feeds_replay)
{
	struct three t;
	write_three(&t);
	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(t.path, &r, err, sizeof err), 0);
	struct replay rp;
	replay_init(&rp);
	cr_assert_eq(replay_reader(&rp, r), 0);
	cr_expect_eq(rp.sum.alloc_calls, 3 * t.per_block);
	cr_expect_eq(rp.sum.peak_bytes, (100 + 101 + 102) * t.per_block);
	cr_expect_eq(rp.sum.end_bytes, rp.sum.peak_bytes);
	cr_expect(rp.sum.complete);
	replay_free(&rp);
	reader_close(r);
	unlink(t.path);
}

Test(reader, json_report_escapes_strings)
{
	static struct tw w;
	char *path = tmpname();
	FILE *f = fopen(path, "wb");
	write_header(f, HELDBY_TRACE_VERSION);
	tw_module(&w, 1, 0, 0x1000, 0x1000,
		  "/nonexistent/we\"ird\\\n\xff\x01.so");
	tw_stack(&w, 1, 0, 0x1100);
	tw_alloc(&w, 1, 4096, 0x5000, 1);
	tw_alloc(&w, 2, 8, 0x6000, 0);
	tw_end(&w, 3);
	write_block(f, 0, &w);
	fclose(f);

	struct report rep;
	char err[256];
	cr_assert_eq(report_load(&rep, path, err, sizeof err), 0, "%s", err);
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	cr_assert_eq(report_json(&rep, m), 0);
	fclose(m);
	cr_expect(
		strstr(out,
		       "\"module\": \"/nonexistent/we\\\"ird\\\\\\n\\ufffd\\u0001.so\"") !=
			NULL,
		"%s", out);
	cr_expect(strstr(out, "\"peak_bytes\": 4104") != NULL);
	cr_expect(strstr(out, "\"complete\": true") != NULL);
	cr_expect(
		strstr(out,
		       "\"function\": null, \"file\": null, \"line\": null") !=
		NULL);
	for (size_t i = 0; i < len; i++)
		cr_expect((unsigned char)out[i] >= 0x20 || out[i] == '\n',
			  "raw control byte");
	free(out);

	/* The text view of the same trace does not crash either. */
	m = open_memstream(&out, &len);
	cr_assert_eq(report_text(&rep, m), 0);
	fclose(m);
	cr_expect(strstr(out, "Top holders at peak") != NULL);
	free(out);
	report_unload(&rep);
	unlink(path);
}

#ifdef HAVE_SHIM_ENCODER
/* The shim's own encoder and file writer, read back. */
Test(reader, reads_what_the_shim_encoder_writes)
{
	char *path = tmpname();
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	cr_assert_eq(enc_stack(&t.e, 1, 0, 0x1010), 0);
	cr_assert_eq(enc_alloc(&t.e, 5, 48, 0x9000, 1, HELDBY_FN_NEW), 0);
	cr_assert_eq(enc_alloc(&t.e, 6, 16, 0x8000, 1, HELDBY_FN_MALLOC), 0);
	cr_assert_eq(enc_free(&t.e, 7, 0x9000), 0);
	shim_trace_next_block(&t);
	cr_assert_eq(enc_end(&t.e, 9, 0, 0), 0);
	shim_trace_end(&t);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct replay rp;
	replay_init(&rp);
	cr_assert_eq(replay_reader(&rp, r), 0);
	cr_expect_eq(rp.sum.alloc_calls, 2);
	cr_expect_eq(rp.sum.free_calls, 1);
	cr_expect_eq(rp.sum.unknown_frees, 0);
	cr_expect_eq(rp.sum.peak_bytes, 64);
	cr_expect_eq(rp.sum.end_bytes, 16);
	cr_expect_eq(rp.sum.duration_ns, 9);
	cr_expect(rp.sum.complete);
	cr_expect_eq(reader_node(r, 1)->module, 1);
	replay_free(&rp);
	reader_close(r);
	unlink(path);
}

/* Version 2 records from the shim's encoder, over two blocks: numbered
 * allocations, a free by number, an address given to a block that outlived
 * the window and its free by address, a lost block, stack nodes in deltas. */
Test(reader, reads_numbered_events_across_blocks)
{
	char *path = tmpname();
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	uint64_t a, b, c;
	cr_assert_eq(enc_node(&t.e, 1, 0, 0x1010, 0), 0);
	cr_assert_eq(enc_node(&t.e, 2, 1, 0x1800, 0x1010), 0);
	cr_assert_eq(enc_alloc_seq(&t.e, 3000000, 48, 2, HELDBY_FN_NEW, &a), 0);
	cr_assert_eq(enc_alloc_seq(&t.e, 3000001, 16, 1, HELDBY_FN_MALLOC, &b),
		     0);
	cr_assert_eq(enc_addr(&t.e, a, 0x9000), 0);
	shim_trace_next_block(&t);
	cr_assert_eq(enc_node(&t.e, 3, 2, 0x1900, 0x1800), 0);
	cr_assert_eq(enc_alloc_seq(&t.e, 5000000, 100, 3, HELDBY_FN_MALLOC, &c),
		     0);
	cr_assert_eq(enc_free_seq(&t.e, 6000000, b), 0);
	cr_assert_eq(enc_free_addr(&t.e, 7000000, 0x9000), 0);
	cr_assert_eq(enc_free_addr(&t.e, 7000000, 0x5000), 0); /* unknown */
	cr_assert_eq(enc_lost(&t.e, c), 0);
	cr_assert_eq(enc_end(&t.e, 9000000, 0, 0), 0);
	shim_trace_end(&t);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct rd_event ev;
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_ALLOC);
	cr_expect_eq(ev.time_ns, 3000000);
	cr_expect_eq(ev.ptr, RD_SEQ_ID(1));
	cr_expect_eq(ev.size, 48);
	cr_expect_eq(ev.stack, 2);
	cr_expect_eq(ev.fn, HELDBY_FN_NEW);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.time_ns, 3000000, "within the resolution");
	cr_expect_eq(ev.ptr, RD_SEQ_ID(2));
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_ADDR);
	cr_expect_eq(ev.ptr, RD_SEQ_ID(1));
	cr_expect_eq(ev.addr, 0x9000);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.ptr, RD_SEQ_ID(3),
		     "numbering goes on in the next block");
	cr_expect_eq(ev.time_ns, 5000000);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_FREE);
	cr_expect_eq(ev.ptr, RD_SEQ_ID(2));
	cr_expect_eq(ev.time_ns, 6000000);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_FREE);
	cr_expect_eq(ev.ptr, 0x9000, "allocation 1, named by its address");
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.ptr, 0x5000);
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect(ev.lost);
	cr_expect_eq(ev.ptr, RD_SEQ_ID(3));
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_END);
	cr_expect_eq(reader_next(r, &ev), 0);
	cr_expect_eq(reader_stats(r)->anomalies, 0);
	cr_expect_eq(reader_node(r, 2)->ip, 0x1800);
	cr_expect_eq(reader_node(r, 2)->parent, 1);
	cr_expect_eq(reader_node(r, 3)->ip, 0x1900);
	cr_expect_eq(reader_node(r, 3)->offset, 0x1900);
	reader_close(r);

	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct replay rp;
	replay_init(&rp);
	cr_assert_eq(replay_reader(&rp, r), 0);
	cr_expect_eq(rp.sum.alloc_calls, 3);
	cr_expect_eq(rp.sum.free_calls, 3);
	cr_expect_eq(rp.sum.unknown_frees, 1);
	cr_expect_eq(rp.sum.reused_live, 1);
	cr_expect_eq(rp.sum.peak_bytes, 164);
	cr_expect_eq(rp.sum.end_bytes, 0);
	replay_free(&rp);
	reader_close(r);
	unlink(path);
}

/* NODE_IP (version 4) nodes, with NODE ones under and above them: each
 * gets its ip, whole or from its parent's. */
Test(reader, reads_nodes_with_whole_ips_beside_delta_ones)
{
	char *path = tmpname();
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	cr_assert_eq(enc_node_ip(&t.e, 1, 0, 0x1010), 0);
	cr_assert_eq(enc_node(&t.e, 2, 1, 0x1800, 0x1010), 0);
	cr_assert_eq(enc_node_ip(&t.e, 3, 2, 0x1900), 0);
	cr_assert_eq(enc_alloc_seq(&t.e, 1000, 8, 3, 0, NULL), 0);
	cr_assert_eq(enc_end(&t.e, 2000, 0, 0), 0);
	shim_trace_end(&t);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct rd_event ev;
	while (reader_next(r, &ev) == 1)
		;
	const uint64_t ips[] = { 0x1010, 0x1800, 0x1900 };
	for (uint64_t id = 1; id <= 3; id++) {
		cr_assert_not_null(reader_node(r, id));
		cr_expect_eq(reader_node(r, id)->ip, ips[id - 1], "node %llu",
			     (unsigned long long)id);
		cr_expect_eq(reader_node(r, id)->parent, id - 1);
	}
	cr_expect_eq(reader_stats(r)->anomalies, 0);
	cr_expect_eq(reader_stats(r)->blocks_damaged, 0);
	reader_close(r);
	unlink(path);
}

/* HELDBY_TRACE_F_TIME_TABLE: events get the times of the block's time
 * table, to the millisecond, across blocks, beside the exact time of a
 * MARK record. */
Test(reader, reads_times_from_the_time_table)
{
	char *path = tmpname();
	static struct shim_trace t;
	shim_trace_begin_flags(&t, path, HELDBY_TRACE_F_TIME_TABLE);
	const uint64_t ms = HELDBY_TIME_TABLE_UNIT_NS;
	uint64_t a, b;
	cr_assert_eq(enc_alloc_seq(&t.e, 3 * ms + 5, 48, 0, 0, &a), 0);
	cr_assert_eq(enc_alloc_seq(&t.e, 3 * ms + 999, 16, 0, 0, &b), 0);
	cr_assert_eq(enc_mark(&t.e, 4 * ms + 250, "m"), 0);
	cr_assert_eq(enc_free_seq(&t.e, 6 * ms + 300, a), 0);
	shim_trace_next_block(&t);
	cr_assert_eq(enc_free_seq(&t.e, 9 * ms + 7, b), 0);
	cr_assert_eq(enc_end(&t.e, 10 * ms, 0, 0), 0);
	shim_trace_end(&t);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct rd_event ev;
	const uint64_t want[] = { 3 * ms,	3 * ms, 4 * ms + 250,
				  6 * ms + 250, 9 * ms, 10 * ms };
	const enum rd_kind kinds[] = { RD_ALLOC, RD_ALLOC, RD_MARK,
				       RD_FREE,	 RD_FREE,  RD_END };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		cr_assert_eq(reader_next(r, &ev), 1, "event %zu", i);
		cr_expect_eq(ev.kind, kinds[i], "event %zu", i);
		cr_expect_eq(ev.time_ns, want[i], "event %zu", i);
	}
	cr_expect_eq(reader_next(r, &ev), 0);
	cr_expect_eq(reader_stats(r)->blocks_damaged, 0);
	cr_expect_eq(reader_stats(r)->anomalies, 0);
	cr_expect(reader_stats(r)->complete);
	reader_close(r);
	unlink(path);
}

/* FREE_NEAR (version 4) counts from the block's last FREE_SEQ or
 * FREE_NEAR, from 0 in each block; one naming no allocation is an anomaly
 * and skipped. */
Test(reader, reads_frees_near_the_previous_free)
{
	char *path = tmpname();
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(enc_alloc_seq(&t.e, 1000, 8, 0, 0, NULL), 0);
	uint64_t order[] = { 5, 6, 7, 20, 19, 12 };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		cr_assert_eq(enc_free_seq(&t.e, 2000, order[i]), 0);
	shim_trace_next_block(&t);
	cr_assert_eq(enc_free_seq(&t.e, 3000, 2), 0);
	cr_assert_eq(enc_free_seq(&t.e, 3000, 3), 0);
	cr_assert(t.e.len > 2);
	t.e.buf[t.e.len++] = HELDBY_REC_FREE_NEAR; /* to allocation 3 + 30 */
	t.e.buf[t.e.len++] = 60;		   /* zigzag(30) */
	cr_assert_eq(enc_end(&t.e, 4000, 0, 0), 0);
	shim_trace_end(&t);

	char err[256];
	struct reader *r;
	cr_assert_eq(reader_open(path, &r, err, sizeof err), 0, "%s", err);
	struct rd_event ev;
	for (int i = 0; i < 20; i++)
		cr_assert_eq(reader_next(r, &ev), 1);
	uint64_t want[] = { 5, 6, 7, 20, 19, 12, 2, 3 };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		cr_assert_eq(reader_next(r, &ev), 1);
		cr_expect_eq(ev.kind, RD_FREE);
		cr_expect_eq(ev.ptr, RD_SEQ_ID(want[i]), "free %zu", i);
	}
	cr_assert_eq(reader_next(r, &ev), 1);
	cr_expect_eq(ev.kind, RD_END, "the free of allocation 33 is skipped");
	cr_expect_eq(reader_stats(r)->anomalies, 1);
	cr_expect_eq(reader_stats(r)->blocks_damaged, 0);
	reader_close(r);
	unlink(path);
}
#endif
