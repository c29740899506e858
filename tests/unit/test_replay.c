/* SPDX-License-Identifier: MIT */
/*
 * Replay: the live set, per-site counters and the holders at the peak,
 * driven with events directly; and symbolisation of this very binary.
 */
#include <criterion/criterion.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heldby/trace.h"
#include "replay.h"
#include "report.h"
#include "symbolize.h"

#ifdef HAVE_SHIM_ENCODER
#include "shim_trace.h"
#endif

static struct rp_site *
site(struct replay *rp, uint64_t stack)
{
	struct rp_site *s;
	HASH_FIND(hh, rp->sites, &stack, sizeof stack, s);
	cr_assert_not_null(s, "no site for stack %llu",
			   (unsigned long long)stack);
	return s;
}

Test(replay, peak_holders_are_the_sites_at_the_peak)
{
	struct replay rp;
	replay_init(&rp);
	/* A peaks at 300, then is freed; B grows to 250 later: the peak
	 * (300 at t=3) belongs to A. */
	replay_alloc(&rp, 1, 0x1000, 100, 1);
	replay_alloc(&rp, 2, 0x2000, 100, 1);
	replay_alloc(&rp, 3, 0x3000, 100, 1);
	replay_release(&rp, 4, 0x1000);
	replay_release(&rp, 5, 0x2000);
	replay_release(&rp, 6, 0x3000);
	replay_alloc(&rp, 7, 0x4000, 150, 2);
	replay_alloc(&rp, 8, 0x5000, 100, 2);
	replay_finish(&rp, 10, 1);

	cr_expect_eq(rp.sum.peak_bytes, 300);
	cr_expect_eq(rp.sum.peak_time_ns, 3);
	cr_expect_eq(site(&rp, 1)->peak_bytes, 300);
	cr_expect_eq(site(&rp, 1)->peak_blocks, 3);
	cr_expect_eq(site(&rp, 2)->peak_bytes, 0);
	cr_expect_eq(site(&rp, 2)->cur_bytes, 250);
	cr_expect_eq(rp.sum.end_bytes, 250);
	cr_expect_eq(rp.sum.end_blocks, 2);
	cr_expect_eq(rp.sum.alloc_calls, 5);
	cr_expect_eq(rp.sum.free_calls, 3);
	cr_expect_eq(rp.sum.duration_ns, 10);
	/* Blocks allocated at 1, 2, 3 are on average 1 ns old at t=3. */
	cr_expect_eq(replay_peak_age(&rp, site(&rp, 1)), 1);
	replay_free(&rp);
}

Test(replay, peak_holders_split_between_sites)
{
	struct replay rp;
	replay_init(&rp);
	replay_alloc(&rp, 1, 0x10, 50, 1);
	replay_alloc(&rp, 2, 0x20, 70, 2); /* peak 120: A 50, B 70 */
	replay_release(&rp, 3, 0x10);
	replay_alloc(&rp, 4, 0x30, 40, 1); /* 110 < 120 */
	replay_alloc(&rp, 5, 0x40, 5, 3);  /* 115 */
	replay_release(&rp, 6, 0x20);
	replay_finish(&rp, 6, 1);
	cr_expect_eq(rp.sum.peak_bytes, 120);
	cr_expect_eq(site(&rp, 1)->peak_bytes, 50);
	cr_expect_eq(site(&rp, 2)->peak_bytes, 70);
	cr_expect_eq(site(&rp, 3)->peak_bytes, 0);
	replay_free(&rp);
}

Test(replay, peak_survives_address_reuse)
{
	struct replay rp;
	replay_init(&rp);
	/* The same address is freed by one site and reused by another
	 * (another thread): each holds it in turn, the peak is one block. */
	replay_alloc(&rp, 1, 0xabc0, 4096, 1);
	replay_release(&rp, 2, 0xabc0);
	replay_alloc(&rp, 3, 0xabc0, 1024, 2);
	replay_alloc(&rp, 4, 0xdef0, 1024, 2);
	replay_release(&rp, 5, 0xabc0);
	replay_alloc(&rp, 6, 0xabc0, 8192, 3);
	replay_finish(&rp, 6, 1);
	cr_expect_eq(rp.sum.peak_bytes, 9216);
	cr_expect_eq(rp.sum.peak_time_ns, 6);
	cr_expect_eq(site(&rp, 1)->peak_bytes, 0);
	cr_expect_eq(site(&rp, 2)->peak_bytes, 1024);
	cr_expect_eq(site(&rp, 3)->peak_bytes, 8192);
	cr_expect_eq(rp.sum.end_bytes, 9216);
	cr_expect_eq(rp.sum.end_blocks, 2);
	cr_expect_eq(rp.sum.reused_live, 0);
	replay_free(&rp);
}

Test(replay, alloc_of_live_address_frees_the_old_block)
{
	struct replay rp;
	replay_init(&rp);
	replay_alloc(&rp, 1, 0x100, 10, 1);
	replay_alloc(&rp, 2, 0x100, 20, 2);
	replay_finish(&rp, 2, 1);
	cr_expect_eq(rp.sum.reused_live, 1);
	cr_expect_eq(rp.sum.end_bytes, 20);
	cr_expect_eq(site(&rp, 1)->cur_bytes, 0);
	cr_expect_eq(rp.sum.peak_bytes, 20);
	replay_free(&rp);
}

Test(replay, ignores_unknown_free)
{
	struct replay rp;
	replay_init(&rp);
	replay_alloc(&rp, 1, 0x100, 10, 1);
	replay_release(&rp, 2, 0x999);
	replay_release(&rp, 3, 0x100);
	replay_release(&rp, 4, 0x100); /* double free: unknown by now */
	replay_finish(&rp, 4, 0);
	cr_expect_eq(rp.sum.unknown_frees, 2);
	cr_expect_eq(rp.sum.free_calls, 3);
	cr_expect_eq(rp.sum.end_bytes, 0);
	cr_expect_eq(rp.sum.end_blocks, 0);
	cr_expect_eq(rp.sum.peak_bytes, 10);
	cr_expect_eq(rp.sum.complete, 0);
	replay_free(&rp);
}

Test(replay, zero_byte_blocks_are_counted)
{
	struct replay rp;
	replay_init(&rp);
	replay_alloc(&rp, 1, 0x100, 0, 1);
	replay_finish(&rp, 1, 1);
	cr_expect_eq(rp.sum.end_blocks, 1);
	cr_expect_eq(rp.sum.end_bytes, 0);
	replay_free(&rp);
}

Test(replay, marks_keep_the_bytes_held_at_their_time)
{
	struct replay rp;
	replay_init(&rp);
	replay_mark(&rp, 1, "start", 5);
	replay_alloc(&rp, 2, 0x10, 100, 1);
	replay_alloc(&rp, 3, 0x20, 50, 1);
	replay_mark(&rp, 4, "loaded!", 6); /* not NUL-terminated at 6 */
	replay_release(&rp, 5, 0x10);
	replay_mark(&rp, 6, "a\0b", 3);
	replay_finish(&rp, 7, 1);
	cr_assert_eq(rp.nmarks, 3);
	cr_expect_eq(rp.sum.marks, 3);
	cr_expect_str_eq(rp.marks[0].label, "start");
	cr_expect_eq(rp.marks[0].bytes, 0);
	cr_expect_eq(rp.marks[0].time_ns, 1);
	cr_expect_str_eq(rp.marks[1].label, "loaded");
	cr_expect_eq(rp.marks[1].bytes, 150);
	cr_expect_eq(rp.marks[1].blocks, 2);
	cr_expect_str_eq(rp.marks[2].label, "a");
	cr_expect_eq(rp.marks[2].bytes, 50);
	cr_expect_eq(rp.marks[2].time_ns, 6);
	replay_free(&rp);
}

Test(replay, marks_are_capped_and_still_counted)
{
	struct replay rp;
	replay_init(&rp);
	char long_label[RP_MARK_LABEL_MAX * 3];
	memset(long_label, 'x', sizeof long_label);
	for (uint64_t i = 0; i < RP_MARKS_MAX + 500; i++) {
		replay_alloc(&rp, 2 * i, 0x1000 + i, 8, 1);
		cr_assert_eq(replay_mark(&rp, 2 * i + 1, long_label,
					 sizeof long_label),
			     0);
	}
	replay_finish(&rp, 2 * (RP_MARKS_MAX + 500), 1);
	cr_expect_eq(rp.nmarks, RP_MARKS_MAX);
	cr_expect_eq(rp.sum.marks, RP_MARKS_MAX + 500);
	cr_expect_eq(strlen(rp.marks[0].label), RP_MARK_LABEL_MAX);
	cr_expect_eq(rp.marks[RP_MARKS_MAX - 1].bytes, 8 * RP_MARKS_MAX);
	replay_free(&rp);
}

#ifdef HAVE_SHIM_ENCODER
static char *
report_to_string(struct report *rep, int json)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	cr_assert_not_null(m);
	cr_assert_eq(json ? report_json(rep, m) : report_text(rep, m), 0);
	fclose(m);
	return out;
}

/* MARK records as the shim's encoder writes them, read back and shown. */
Test(replay, marks_from_the_shim_encoder_reach_the_report)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/heldby-test-%d-marks.hbt",
		 (int)getpid());
	static struct shim_trace t;
	shim_trace_begin(&t, path);
	cr_assert_eq(enc_stack(&t.e, 1, 0, 0x1010), 0);
	cr_assert_eq(enc_mark(&t.e, 10, "before load"), 0);
	cr_assert_eq(enc_alloc(&t.e, 20, 4096, 0x9000, 1, HELDBY_FN_MALLOC), 0);
	cr_assert_eq(enc_alloc(&t.e, 30, 1000, 0xa000, 1, HELDBY_FN_MALLOC), 0);
	cr_assert_eq(enc_mark(&t.e, 40, "loaded \"all\""), 0);
	shim_trace_next_block(&t);
	cr_assert_eq(enc_free(&t.e, 50, 0x9000), 0);
	cr_assert_eq(enc_mark(&t.e, 60, "done\tnow"), 0);
	cr_assert_eq(enc_end(&t.e, 70, 0, 0), 0);
	shim_trace_end(&t);

	struct report rep;
	char err[256];
	cr_assert_eq(report_load(&rep, path, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.rp.nmarks, 3);
	cr_expect_eq(rep.rp.marks[1].bytes, 5096);
	cr_expect_eq(rep.rp.marks[2].bytes, 1000);
	cr_expect_eq(rep.rp.sum.peak_bytes, 5096);

	char *json = report_to_string(&rep, 1);
	cr_expect(strstr(json, "\"marks\": 3, \"marks_recorded\": 3}") != NULL,
		  "summary.marks: %s", json);
	cr_expect(strstr(json, "{\"label\": \"before load\", \"time_ns\": 10, "
			       "\"bytes\": 0, \"blocks\": 0}") != NULL,
		  "%s", json);
	cr_expect(strstr(json,
			 "{\"label\": \"loaded \\\"all\\\"\", \"time_ns\": 40, "
			 "\"bytes\": 5096, \"blocks\": 2}") != NULL,
		  "%s", json);
	cr_expect(strstr(json, "{\"label\": \"done\\tnow\", \"time_ns\": 60, "
			       "\"bytes\": 1000, \"blocks\": 1}") != NULL,
		  "%s", json);
	free(json);

	rep.opt.top = 2;
	char *text = report_to_string(&rep, 0);
	const char *marks = strstr(text, "Marks (3; the peak was at 30 ns)");
	cr_expect_not_null(marks, "%s", text);
	if (marks) {
		cr_expect(strstr(marks, "at 10 ns") &&
				  strstr(marks, "before load"),
			  "%s", text);
		const char *line = strstr(marks, "4.98 KiB held in 2 blocks ");
		cr_expect(line && strstr(line, " loaded \"all\"\n") &&
				  strstr(line, " loaded \"all\"\n") <
					  strchr(line, '\n') + 1,
			  "%s", text);
		cr_expect(strstr(marks, "done?now") == NULL,
			  "--top 2 shows two: %s", text);
		cr_expect(strstr(marks, "... and 1 more") != NULL, "%s", text);
		cr_expect(marks < strstr(text, "Top holders at peak"), "%s",
			  text);
	}
	free(text);
	report_unload(&rep);
	unlink(path);
}
#endif

/* ---- symbolisation of this binary ---- */

__attribute__((noinline)) int
heldby_test_target_function(int x)
{
	return x * 3 + 1;
}

struct main_mod {
	uint64_t bias;
	int found;
};

static int
find_main(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct main_mod *m = data;
	if (!m->found) { /* the first entry is the executable */
		m->bias = info->dlpi_addr;
		m->found = 1;
	}
	return 1;
}

Test(symbolize, names_a_function_in_this_binary)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert_gt(n, 0);
	exe[n] = 0;
	struct main_mod mm = { 0 };
	dl_iterate_phdr(find_main, &mm);
	cr_assert(mm.found);

	struct rd_module m = { .id = 1, .bias = mm.bias, .path = exe };
	struct symbolizer *s = sym_new();
	cr_assert_not_null(s);
	uint64_t off =
		(uint64_t)(uintptr_t)&heldby_test_target_function - mm.bias;
	const struct sym_frame *f;
	/* As a return address just past the first byte of the function. */
	size_t k = sym_resolve(s, &m, off + 1, 1, &f);
	cr_assert_geq(k, 1);
	cr_assert_not_null(f[k - 1].function);
	cr_expect_str_eq(f[k - 1].function, "heldby_test_target_function");
	cr_assert_not_null(f[k - 1].file);
	cr_expect(strstr(f[k - 1].file, "test_replay.c") != NULL, "file %s",
		  f[k - 1].file);
	cr_expect_gt(f[k - 1].line, 0);
	/* Cached: the same frames again. */
	const struct sym_frame *g;
	cr_expect_eq(sym_resolve(s, &m, off + 1, 1, &g), k);
	cr_expect_eq(g, f);

	/* A module whose file is missing gives an unknown frame, no crash. */
	struct rd_module gone = { .id = 2, .path = "/nonexistent/libgone.so" };
	k = sym_resolve(s, &gone, 0x1234, 1, &f);
	cr_expect_eq(k, 1);
	cr_expect_null(f[0].function);
	cr_expect(!sym_module_usable(s, &gone));

	/* Another build-id: not trusted. */
	uint8_t bid[4] = { 1, 2, 3, 4 };
	struct rd_module other = { .id = 3,
				   .bias = mm.bias,
				   .path = exe,
				   .build_id = bid,
				   .build_id_len = 4 };
	k = sym_resolve(s, &other, off + 1, 1, &f);
	cr_expect_null(f[0].function);
	sym_free(s);
}

/* Numbered blocks over several pages, some renamed to an address: each is
 * found by its free, a lost one is not a free. */
Test(replay, numbered_blocks_over_pages_are_found)
{
	struct replay rp;
	replay_init(&rp);
	uint64_t n = 3 * RP_PAGE + 5;
	for (uint64_t q = 1; q <= n; q++) {
		cr_assert_eq(replay_alloc(&rp, q, RD_SEQ_ID(q),
					  q % 7 == 0 ? 100 : 1,
					  q % 7 == 0 ? 2 : 1),
			     0);
		if (q > 1 && (q - 1) % 7) /* short-lived: freed at once */
			replay_release(&rp, q, RD_SEQ_ID(q - 1));
	}
	cr_expect_eq(site(&rp, 2)->cur_blocks, n / 7, "long-lived all held");
	/* One young and one old block get their addresses (RD_ADDR). */
	cr_assert_eq(replay_rename(&rp, RD_SEQ_ID(7), 0x7000), 0);
	cr_assert_eq(replay_rename(&rp, RD_SEQ_ID(n - n % 7), 0x8000), 0);
	replay_release(&rp, n, 0x7000);
	replay_release(&rp, n, 0x8000);
	cr_expect_eq(rp.sum.unknown_frees, 0);
	for (uint64_t q = 14; q < n - n % 7; q += 7)
		replay_release(&rp, n + q, RD_SEQ_ID(q));
	replay_lost(&rp, RD_SEQ_ID(n));
	replay_release(&rp, 2 * n, RD_SEQ_ID(n)); /* already gone */
	replay_finish(&rp, 3 * n, 1);
	cr_expect_eq(site(&rp, 2)->cur_blocks, 0);
	cr_expect_eq(rp.sum.unknown_frees, 1);
	cr_expect_eq(rp.sum.reused_live, 1);
	cr_expect_eq(rp.sum.alloc_calls, n);
	cr_expect_eq(rp.sum.end_blocks, 0);
	cr_expect_eq(rp.sum.end_bytes, 0);
	replay_free(&rp);
}

/* Blocks that outlive the ring go to pages by number; a page goes when
 * its last block does, and one whose numbers all left the ring and is
 * down to an eighth moves its blocks to the table and goes too. Against a
 * plain model, under random frees: every block is found once, nothing is
 * invented, and at the end no closed page is left. */
Test(replay, pages_go_and_their_last_blocks_move_to_the_table)
{
	enum { N = RP_RECENT + 6 * RP_PAGE };
	static uint8_t live[N + 1];
	struct replay rp;
	replay_init(&rp);
	uint64_t x = 88172645463325252ull, bytes = 0;
	for (uint64_t q = 1; q <= N; q++) {
		cr_assert_eq(replay_alloc(&rp, q, RD_SEQ_ID(q), q % 5 + 1, 1),
			     0);
		live[q] = 1;
		bytes += q % 5 + 1;
		/* up to three random older blocks go: the oldest pages thin
		 * out first */
		for (int k = 0; k < 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			uint64_t v = 1 + x % q;
			if (live[v]) {
				replay_release(&rp, q, RD_SEQ_ID(v));
				live[v] = 0;
				bytes -= v % 5 + 1;
			}
		}
		cr_assert_eq(rp.cur_bytes, bytes, "after allocation %llu",
			     (unsigned long long)q);
	}
	size_t pages = 0;
	for (size_t i = 0; i < rp.npages; i++)
		pages += rp.pages[i] != NULL;
	cr_expect(pages < (N - RP_RECENT) / RP_PAGE, "%zu pages kept", pages);
	/* numbered blocks reach the table only from a page */
	cr_expect(rp.live.n > 0, "sparse pages moved blocks to the table");
	for (uint64_t q = N; q >= 1; q--)
		if (live[q])
			replay_release(&rp, 2 * N, RD_SEQ_ID(q));
	replay_finish(&rp, 3 * N, 1);
	cr_expect_eq(rp.sum.unknown_frees, 0);
	cr_expect_eq(rp.sum.reused_live, 0);
	cr_expect_eq(rp.sum.end_bytes, 0);
	cr_expect_eq(rp.live.n, 0);
	for (size_t i = 0; i < rp.npages && i < (N - RP_RECENT) >> RP_PAGE_BITS;
	     i++)
		cr_expect_null(rp.pages[i], "closed page %zu left", i);
	replay_free(&rp);
}

/* A page slot keeps 32 bits of size and a site index: a block of 4 GiB or
 * more that outlives the ring goes to the table instead, whole; the
 * others come back from their page with their size, site and time (the
 * age at the peak is computed from it). */
Test(replay, page_slots_keep_size_site_and_time)
{
	struct replay rp;
	replay_init(&rp);
	const uint64_t big = UINT64_C(5) << 32, t0 = UINT64_C(7) << 40;
	cr_assert_eq(replay_alloc(&rp, t0, RD_SEQ_ID(1), big, 3), 0);
	cr_assert_eq(replay_alloc(&rp, t0 + 1, RD_SEQ_ID(2), UINT32_MAX, 4), 0);
	for (uint64_t q = 3; q < 3 + RP_RECENT; q++) /* both leave the ring */
		cr_assert_eq(replay_alloc(&rp, t0 + q, RD_SEQ_ID(q), 1, 5), 0);
	cr_expect_eq(rp.live.n, 1, "the big block went to the table");
	cr_expect_not_null(rp.pages[0], "the other one to its page");
	cr_expect_eq(site(&rp, 4)->cur_tsum, (double)(t0 + 1));
	replay_release(&rp, t0 + 2 * RP_RECENT, RD_SEQ_ID(1));
	cr_expect_eq(site(&rp, 3)->cur_bytes, 0);
	cr_expect_eq(site(&rp, 3)->cur_blocks, 0);
	cr_expect_eq(rp.cur_bytes, UINT32_MAX + (uint64_t)RP_RECENT);
	replay_release(&rp, t0 + 2 * RP_RECENT, RD_SEQ_ID(2));
	cr_expect_eq(site(&rp, 4)->cur_bytes, 0);
	cr_expect_eq(site(&rp, 4)->cur_blocks, 0);
	cr_expect_eq(site(&rp, 4)->cur_tsum, 0.0, "its time came back whole");
	cr_expect_eq(rp.sum.unknown_frees, 0);
	cr_expect_eq(rp.cur_bytes, (uint64_t)RP_RECENT);
	replay_free(&rp);
}

/* A damaged trace's SEQ may name any number: a block far past the others
 * (or below the first page) goes to the table instead of a page array
 * sized by its number. Found by fuzz_records
 * (regressions/fuzz_records/page-number-far-out). */
Test(replay, numbers_far_out_go_to_the_table)
{
	struct replay rp;
	replay_init(&rp);
	const uint64_t far = UINT64_C(1) << 60, q0 = 1000000;
	for (uint64_t q = q0; q < q0 + RP_RECENT + 10; q++)
		cr_assert_eq(replay_alloc(&rp, q, RD_SEQ_ID(q), 8, 1), 0);
	cr_assert_eq(replay_alloc(&rp, 1, RD_SEQ_ID(far), 16, 1), 0);
	cr_assert_eq(replay_alloc(&rp, 2, RD_SEQ_ID(far + RP_RECENT), 16, 1),
		     0);
	cr_assert_eq(replay_alloc(&rp, 3, RD_SEQ_ID(5), 32, 1), 0);
	cr_assert_eq(replay_alloc(&rp, 4, RD_SEQ_ID(5 + RP_RECENT), 32, 1), 0);
	cr_expect(rp.npages < 1024, "%zu page slots", rp.npages);
	cr_expect_eq(rp.page_base, q0 >> RP_PAGE_BITS);
	replay_release(&rp, 5, RD_SEQ_ID(far));
	replay_release(&rp, 5, RD_SEQ_ID(5));
	replay_release(&rp, 5, RD_SEQ_ID(q0));
	cr_expect_eq(rp.sum.unknown_frees, 0);
	cr_expect_eq(rp.cur_bytes, 8 * (RP_RECENT + 9) + 16 + 32);
	replay_free(&rp);
}

/* Address-keyed blocks under random traffic, with addresses that crowd
 * together: the live table must grow and delete without losing or
 * inventing a block (checked against a plain array). */
Test(replay, live_table_matches_a_plain_model)
{
	enum { ADDRS = 5000 };
	static uint64_t size_at[ADDRS];
	struct replay rp;
	replay_init(&rp);
	uint64_t x = 0x2545f4914f6cdd1dull, bytes = 0, blocks = 0, frees = 0;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned a = (unsigned)(x % ADDRS);
		uint64_t ptr = 0x55550000ull + (uint64_t)a * 16;
		if (size_at[a]) {
			replay_release(&rp, (uint64_t)i, ptr);
			bytes -= size_at[a];
			blocks--;
			frees++;
			size_at[a] = 0;
		} else {
			uint64_t n = 1 + (x >> 40) % 100;
			cr_assert_eq(replay_alloc(&rp, (uint64_t)i, ptr, n,
						  1 + a % 3),
				     0);
			size_at[a] = n;
			bytes += n;
			blocks++;
		}
		cr_assert_eq(rp.cur_bytes, bytes, "step %d", i);
	}
	cr_expect_eq(rp.cur_blocks, blocks);
	cr_expect_eq(rp.live.n, blocks);
	cr_expect_eq(rp.sum.unknown_frees, 0);
	cr_expect_eq(rp.sum.reused_live, 0);
	cr_expect_eq(rp.sum.free_calls, frees);
	replay_free(&rp);
}

/* ---- report --at: what was held at one moment ---- */

static struct rd_event
ev_alloc(uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack)
{
	return (struct rd_event){ .kind = RD_ALLOC,
				  .time_ns = t,
				  .ptr = ptr,
				  .size = size,
				  .stack = stack };
}

static struct rd_event
ev_free(uint64_t t, uint64_t ptr)
{
	return (struct rd_event){ .kind = RD_FREE, .time_ns = t, .ptr = ptr };
}

#define S (1000000000ull)

/* A at 0 s (100 B), B at 5 s (200 B, numbered: it lives in the ring),
 * mark "m" at 20 s, A freed at 30 s, C at 100 s. */
static void
play(struct replay *rp, const struct rp_at *at)
{
	replay_init(rp);
	replay_want_at(rp, at);
	struct rd_event ev[] = {
		ev_alloc(0, 0x1000, 100, 1),
		ev_alloc(5 * S, RD_SEQ_ID(7), 200, 2),
		{ .kind = RD_MARK,
		  .time_ns = 20 * S,
		  .label = "mxx",
		  .label_len = 1 },
		ev_free(30 * S, 0x1000),
		ev_alloc(100 * S, 0x3000, 400, 3),
	};
	for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
		cr_assert_eq(replay_apply(rp, &ev[i]), 0);
	replay_finish(rp, 100 * S, 1);
}

Test(replay, at_a_time_holds_what_the_events_up_to_it_left)
{
	struct replay rp;
	struct rp_at at = { .kind = RP_AT_TIME, .time_ns = 25 * S };
	play(&rp, &at);
	cr_assert(rp.at.taken);
	cr_assert_eq(rp.at.at_ns, 25 * S);
	cr_assert_eq(rp.at.bytes, 300);
	cr_assert_eq(rp.at.blocks, 2);
	/* A is 25 s old (10-60 s), B 20 s old */
	cr_assert_eq(rp.at.age_bytes[RP_AGE_60S], 300);
	cr_assert_eq(site(&rp, 1)->at_bytes, 100);
	cr_assert_eq(replay_at_age(&rp, site(&rp, 1)), 25 * S);
	cr_assert_eq(site(&rp, 2)->at_age_bytes[RP_AGE_60S], 200);
	cr_assert_eq(site(&rp, 3)->at_bytes, 0); /* after the moment */
	replay_free(&rp);
}

Test(replay, at_a_time_just_before_an_event_leaves_it_out)
{
	struct replay rp;
	struct rp_at at = { .kind = RP_AT_TIME, .time_ns = 5 * S - 1 };
	play(&rp, &at);
	cr_assert_eq(rp.at.bytes, 100);
	cr_assert_eq(rp.at.age_bytes[RP_AGE_10S], 100); /* 5 s old */
	replay_free(&rp);
	at.time_ns = 5 * S; /* "after every event up to it" */
	play(&rp, &at);
	cr_assert_eq(rp.at.bytes, 300);
	cr_assert_eq(rp.at.age_bytes[RP_AGE_1S], 200);
	replay_free(&rp);
}

Test(replay, at_a_mark_and_at_the_end)
{
	struct replay rp;
	struct rp_at at = { .kind = RP_AT_MARK, .label = "m" };
	play(&rp, &at);
	cr_assert(rp.at.taken);
	cr_assert_eq(rp.at.at_ns, 20 * S);
	cr_assert_eq(rp.at.bytes, 300);
	replay_free(&rp);
	at = (struct rp_at){ .kind = RP_AT_END };
	play(&rp, &at);
	cr_assert_eq(rp.at.bytes, 600);
	cr_assert_eq(rp.at.age_bytes[RP_AGE_1S], 400);	  /* C: 0 s */
	cr_assert_eq(rp.at.age_bytes[RP_AGE_OLDER], 200); /* B: 95 s */
	replay_free(&rp);
}

Test(replay, at_what_the_trace_does_not_reach_is_not_taken)
{
	struct replay rp;
	struct rp_at at = { .kind = RP_AT_MARK, .label = "mx" };
	play(&rp, &at);
	cr_assert_not(rp.at.taken); /* a label is matched whole */
	replay_free(&rp);
	at = (struct rp_at){ .kind = RP_AT_TIME, .time_ns = 100 * S + 1 };
	play(&rp, &at);
	cr_assert_not(rp.at.taken);
	replay_free(&rp);
}

Test(replay, at_the_peaks_event)
{
	struct replay rp;
	struct rp_at none = { .kind = RP_AT_NONE };
	play(&rp, &none);
	uint64_t peak_event = rp.peak_event;
	cr_assert_eq(peak_event, 5); /* C's: 600 B */
	replay_free(&rp);
	struct rp_at at = { .kind = RP_AT_EVENT, .event = peak_event };
	play(&rp, &at);
	cr_assert_eq(rp.at.bytes, rp.sum.peak_bytes);
	replay_free(&rp);
}
