/* SPDX-License-Identifier: MIT */
/*
 * The writer's stack interning: nodes shared by common callers, ids stable
 * across the tables' growth, and a stack cache that answers only for the
 * very same frames.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "stacktab.h"

Test(stacktab, common_callers_share_their_nodes)
{
	struct stacktab t;
	cr_assert_eq(st_init(&t), 0);
	bool fresh;
	uint64_t a = st_node(&t, 0, 0x1000, &fresh);
	cr_expect(fresh);
	uint64_t b = st_node(&t, a, 0x2000, &fresh);
	cr_expect(fresh);
	cr_expect_eq(st_node(&t, 0, 0x1000, &fresh), a);
	cr_expect_not(fresh);
	uint64_t c = st_node(&t, a, 0x3000, &fresh);
	cr_expect(fresh);
	cr_expect_neq(c, b);
	cr_expect_neq(st_node(&t, b, 0x1000, &fresh), a,
		      "same ip under another caller: another node");
	cr_expect_eq(st_ip(&t, b), 0x2000);
	cr_expect_eq(st_ip(&t, 0), 0);
	st_destroy(&t);
}

Test(stacktab, ids_survive_the_tables_growing)
{
	enum { N = 200000 };
	static uint64_t ids[N];
	struct stacktab t;
	cr_assert_eq(st_init(&t), 0);
	bool fresh;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < N; i++) {
		uint64_t parent = i ? ids[(x >> 11) % (uint64_t)i] : 0;
		ids[i] =
			st_node(&t, parent, 0x400000 + (uint64_t)i * 4, &fresh);
		cr_assert(fresh);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < N; i++) {
		uint64_t parent = i ? ids[(x >> 11) % (uint64_t)i] : 0;
		cr_assert_eq(
			st_node(&t, parent, 0x400000 + (uint64_t)i * 4, &fresh),
			ids[i], "node %d", i);
		cr_assert_not(fresh);
		cr_assert_eq(st_ip(&t, ids[i]), 0x400000 + (uint64_t)i * 4);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	st_destroy(&t);
}

Test(stacktab, cache_answers_only_for_the_same_frames)
{
	struct stacktab t;
	cr_assert_eq(st_init(&t), 0);
	uint64_t s1[6] = { 1, 2, 3, 4, 5, 6 }, s2[6] = { 1, 2, 3, 4, 5, 7 };
	struct st_hash h1 = st_hash(s1, 6);
	cr_expect_eq(st_cached(&t, h1, 6), 0);
	st_remember(&t, h1, 6, 42);
	cr_expect_eq(st_cached(&t, st_hash(s1, 6), 6), 42);
	cr_expect_eq(st_cached(&t, st_hash(s2, 6), 6), 0, "one frame differs");
	cr_expect_eq(st_cached(&t, st_hash(s1, 5), 5), 0, "shallower");
	struct st_hash a = st_hash(s1, 6), b = st_hash(s2, 6);
	cr_expect(a.h != b.h && a.h2 != b.h2);
	st_destroy(&t);
}
