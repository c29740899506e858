/* SPDX-License-Identifier: MIT */
/*
 * The writer's window of recent allocations against a plain model: every
 * allocation is found by its address until it is freed or leaves the
 * window, and one that leaves the window while live is handed back once.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "livewin.h"

Test(livewin, free_finds_its_allocation_and_only_once)
{
	struct livewin w;
	cr_assert_eq(lw_init(&w, 4), 0);
	uint64_t s, os, op;
	cr_assert_not(lw_evict(&w, 1, &os, &op));
	cr_assert_not(lw_put(&w, 1, 0x1000, &s));
	cr_assert_not(lw_put(&w, 2, 0x2000, &s));
	cr_assert(lw_take(&w, 0x1000, &s));
	cr_expect_eq(s, 1);
	cr_expect_not(lw_take(&w, 0x1000, &s), "already freed");
	cr_expect_not(lw_take(&w, 0x3000, &s), "never allocated");
	cr_assert(lw_take(&w, 0x2000, &s));
	cr_expect_eq(s, 2);
	lw_destroy(&w);
}

Test(livewin, allocation_leaving_the_window_live_is_handed_back)
{
	struct livewin w;
	cr_assert_eq(lw_init(&w, 4), 0); /* 16 allocations */
	uint64_t s, os, op;
	lw_put(&w, 1, 0x1000, &s);
	lw_put(&w, 2, 0x2000, &s);
	cr_assert(lw_take(&w, 0x2000, &s));
	for (uint64_t q = 3; q <= 16; q++) {
		cr_assert_not(lw_evict(&w, q, &os, &op));
		cr_assert_not(lw_put(&w, q, 0x10000 + q * 16, &s));
	}
	cr_assert(lw_evict(&w, 17, &os, &op));
	cr_expect_eq(os, 1);
	cr_expect_eq(op, 0x1000);
	cr_expect_not(lw_take(&w, 0x1000, &s), "gone from the window");
	cr_assert_not(lw_put(&w, 17, 0x1000, &s));
	cr_expect_not(lw_evict(&w, 18, &os, &op), "2 was freed");
	cr_assert(lw_put(&w, 18, 0x1000, &s), "17's free went unseen");
	cr_expect_eq(s, 17);
	cr_expect(lw_take(&w, 0x1000, &s));
	cr_expect_eq(s, 18);
	cr_expect_not(lw_evict(&w, 33, &os, &op), "17 is gone from the window");
	lw_destroy(&w);
}

/* Random traffic with colliding addresses: the table's deletions must
 * never lose or invent an entry. */
Test(livewin, matches_a_plain_model_under_random_traffic)
{
	enum { BITS = 6, W = 1 << BITS, ADDRS = 300 };
	struct livewin w;
	cr_assert_eq(lw_init(&w, BITS), 0);
	static uint64_t seq_at[ADDRS]; /* model: live seq per address, 0 none */
	static uint64_t addr_of[1 << 16];
	uint64_t next = 1, x = 88172645463325252ull;
	for (int i = 0; i < 60000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned a = (unsigned)(x % ADDRS);
		uint64_t ptr = 0x5555000000ull + (uint64_t)a * 0x40000; /* collide */
		uint64_t s, os, op;
		if (seq_at[a] && (x >> 32) & 1) {
			bool in = next - seq_at[a] <= W;
			cr_assert_eq(lw_take(&w, ptr, &s), in);
			if (in)
				cr_assert_eq(s, seq_at[a]);
			seq_at[a] = 0;
		} else if (!seq_at[a]) {
			bool ev = lw_evict(&w, next, &os, &op);
			uint64_t old = next > W ? next - W : 0;
			bool want = old && addr_of[old & 0xffff] &&
				    seq_at[(addr_of[old & 0xffff] - 0x5555000000ull) / 0x40000] == old;
			cr_assert_eq(ev, want, "step %d", i);
			if (ev) {
				cr_assert_eq(os, old);
				cr_assert_eq(op, addr_of[old & 0xffff]);
			}
			cr_assert_not(lw_put(&w, next, ptr, &s));
			seq_at[a] = next;
			addr_of[next & 0xffff] = ptr;
			next++;
		}
	}
	lw_destroy(&w);
}
