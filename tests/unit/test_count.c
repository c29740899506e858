/* SPDX-License-Identifier: MIT */
/*
 * The live counters (shim/count.c) against the replay's rules: a free of an
 * unknown pointer is ignored, an allocation at a live address replaces the
 * old block, realloc is a free and an allocation, and the peak is exact
 * with threads. Criterion runs each test in its own process, so each starts
 * from zero. Pointers are made up: the table never dereferences them.
 *
 * Built twice (tests/unit/meson.build): as the hooks count while a trace is
 * recorded or cannot be (the table only), and with COUNT_SHADOW as they
 * count in count mode (small blocks in the shadow map, shim/shadow.h).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "count.h"

#define P(x) ((void *)(uintptr_t)(x))

#ifdef COUNT_SHADOW
static void
count_mode(void)
{
	cnt_use_shadow();
}
TestSuite(count, .init = count_mode);
#endif

Test(count, balances_through_growth_and_deletion)
{
	enum { N = 100000 };
	size_t sum = 0;
	for (size_t i = 1; i <= N; i++) {
		cnt_alloc(P(i * 16), i % 1000 + 1);
		sum += i % 1000 + 1;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), N);
	cr_assert_eq(cnt_peak(), sum);
	for (size_t i = 1; i <= N; i += 2) {
		cnt_free(P(i * 16));
		sum -= i % 1000 + 1;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), N / 2);
	for (size_t i = 2; i <= N; i += 2)
		cnt_free(P(i * 16));
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_blocks(), 0);
	cr_assert_eq(cnt_untracked(), 0);
}

/* Random inserts and deletes against a plain array: every entry that
 * should be there is found with its size (backward-shift deletion must not
 * lose an entry behind a hole). */
Test(count, random_mix_matches_a_model)
{
	enum { SLOTS = 20000, OPS = 400000 };
	size_t *model = calloc(SLOTS, sizeof(size_t)); /* 0: not live */
	cr_assert_not_null(model);
	unsigned seed = 12345;
	size_t sum = 0, live = 0;
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		size_t k = (seed >> 8) % SLOTS;
		/* addresses close together, like a real heap's */
		void *p = P(0x10000 + k * 32);
		if (model[k]) {
			cnt_free(p);
			sum -= model[k];
			model[k] = 0;
			live--;
		} else {
			size_t n = 1 + (seed >> 4) % 4096;
			cnt_alloc(p, n);
			model[k] = n;
			sum += n;
			live++;
		}
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), live);
	for (size_t k = 0; k < SLOTS; k++) {
		struct cnt_held h = cnt_detach(P(0x10000 + k * 32));
		cr_assert_eq(h.known, model[k] != 0, "slot %zu", k);
		if (model[k])
			cr_assert_eq(h.size, model[k], "slot %zu", k);
	}
	cr_assert_eq(cnt_blocks(), 0);
	free(model);
}

Test(count, peak_is_the_highest_current_and_reset_lowers_it)
{
	cnt_alloc(P(0x100), 1000);
	cnt_alloc(P(0x200), 500);
	cnt_free(P(0x100));
	cr_assert_eq(cnt_current(), 500);
	cr_assert_eq(cnt_peak(), 1500);
	cnt_reset_peak();
	cr_assert_eq(cnt_peak(), 500);
	cnt_alloc(P(0x300), 10);
	cr_assert_eq(cnt_peak(), 510);
}

Test(count, unknown_free_is_ignored_and_live_address_replaces)
{
	cnt_free(P(0x100)); /* allocated before we looked */
	cr_assert_eq(cnt_current(), 0);
	cnt_alloc(P(0x100), 300);
	cnt_alloc(P(0x100), 100); /* its free was never seen */
	cr_assert_eq(cnt_current(), 100);
	cr_assert_eq(cnt_blocks(), 1);
	cr_assert_eq(cnt_peak(), 300, "replace: drop 300, then add 100");
}

Test(count, realloc_is_a_free_then_an_allocation)
{
	cnt_alloc(P(0x100), 1000);
	/* grows and moves: the peak is the new size, not old + new */
	struct cnt_held h = cnt_detach(P(0x100));
	cnt_realloc_done(P(0x100), h, P(0x900), 3000);
	cr_assert_eq(cnt_current(), 3000);
	cr_assert_eq(cnt_peak(), 3000);
	/* shrinks in place */
	h = cnt_detach(P(0x900));
	cnt_realloc_done(P(0x900), h, P(0x900), 10);
	cr_assert_eq(cnt_current(), 10);
	cr_assert_eq(cnt_blocks(), 1);
	/* fails: the old block stays, counted */
	h = cnt_detach(P(0x900));
	cnt_realloc_done(P(0x900), h, NULL, 1u << 30);
	cr_assert_eq(cnt_current(), 10);
	cr_assert_eq(cnt_blocks(), 1);
	/* realloc(p, 0) frees p */
	h = cnt_detach(P(0x900));
	cnt_realloc_done(P(0x900), h, NULL, 0);
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_blocks(), 0);
	/* realloc(NULL, n) allocates */
	h = cnt_detach(NULL);
	cnt_realloc_done(NULL, h, P(0x500), 42);
	cr_assert_eq(cnt_current(), 42);
	cr_assert_eq(cnt_peak(), 3000);
}

enum { THREADS = 4, HOLD = 1000, ROUNDS = 20, SIZE = 64 };
static pthread_barrier_t all_hold;

/* Each thread holds HOLD blocks of SIZE at once, ROUNDS times; once per
 * round all threads hold theirs together. Frees cross threads: a block is
 * freed by the next thread. */
static void *
holder(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	for (uintptr_t r = 0; r < ROUNDS; r++) {
		for (uintptr_t i = 0; i < HOLD; i++)
			cnt_alloc(P(((r * THREADS + t) * HOLD + i + 1) * 16),
				  SIZE);
		pthread_barrier_wait(&all_hold);
		pthread_barrier_wait(&all_hold);
		uintptr_t o = (t + 1) % THREADS;
		for (uintptr_t i = 0; i < HOLD; i++)
			cnt_free(P(((r * THREADS + o) * HOLD + i + 1) * 16));
		pthread_barrier_wait(&all_hold);
	}
	return NULL;
}

Test(count, exact_across_threads)
{
	pthread_t th[THREADS];
	pthread_barrier_init(&all_hold, NULL, THREADS);
	for (uintptr_t t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, holder, (void *)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_blocks(), 0);
	cr_assert_eq(cnt_peak(), (size_t)THREADS * HOLD * SIZE);
}

/* The packed slot holds sizes below 1 MiB (20 bits); from there on a
 * block goes to the shard's wide table. Both must give back the exact
 * size. */
enum { PACK_LIMIT = 1 << 20 };

Test(count, sizes_on_both_sides_of_the_packing_limit_are_exact)
{
	size_t sizes[] = { 0,
			   1,
			   PACK_LIMIT - 1,
			   PACK_LIMIT,
			   PACK_LIMIT + 1,
			   (size_t)1 << 40,
			   SIZE_MAX / 4 };
	size_t n = sizeof sizes / sizeof sizes[0], sum = 0;
	for (size_t i = 0; i < n; i++) {
		cnt_alloc(P(0x1000 + i * 16), sizes[i]);
		sum += sizes[i];
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), n);
	for (size_t i = 0; i < n; i++) {
		struct cnt_held h = cnt_detach(P(0x1000 + i * 16));
		cr_assert(h.known, "size %zu", sizes[i]);
		cr_assert_eq(h.size, sizes[i]);
	}
	cr_assert_eq(cnt_blocks(), 0);
}

/* The shadow keeps sizes up to 253 in a byte and sends bigger blocks to
 * the table; the table alone packs them all. Exact on both sides. */
Test(count, sizes_on_both_sides_of_the_shadow_limit_are_exact)
{
	size_t sum = 0, n = 0;
	for (size_t sz = 250; sz <= 258; sz++, n++) {
		cnt_alloc(P(0x40000000 + n * 16), sz);
		sum += sz;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), n);
	for (size_t i = 0; i < n; i++) {
		struct cnt_held h = cnt_detach(P(0x40000000 + i * 16));
		cr_assert(h.known);
		cr_assert_eq(h.size, 250 + i);
	}
	cr_assert_eq(cnt_blocks(), 0);
	cr_assert_eq(cnt_peak(), sum);
}

/* Frees of addresses nobody allocated, where the shadow never mapped a
 * region and where it did, next to a live block: ignored. */
Test(count, unknown_frees_in_any_region_are_ignored)
{
	cnt_alloc(P(0x80000000), 100);
	cr_assert_not(cnt_free(P(0x80000010)));
	cr_assert_not(cnt_free(P((uintptr_t)7 << 40)));
	cr_assert_not(cnt_detach(P((uintptr_t)9 << 40)).known);
	cr_assert_eq(cnt_current(), 100);
	cr_assert_eq(cnt_blocks(), 1);
	cr_assert(cnt_free(P(0x80000000)));
	cr_assert_not(cnt_free(P(0x80000000)));
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_blocks(), 0);
}

/* In count mode a big block gets a mark in the shadow only where small
 * blocks live too (its page of marks is there anyway); elsewhere the
 * table alone holds it, and a 64 KiB chunk counts such blocks, up to a
 * limit where it stops counting. Both kinds, in a chunk with and without
 * small blocks and past the limit, are found by a free and replaced by an
 * allocation at their address (a missed free), small or big. */
Test(count, big_blocks_with_and_without_small_neighbours_are_found)
{
	enum { N = 600, STEP = 256 };
	uintptr_t base = 0x50000000; /* a 64 KiB chunk is 256 steps */
	size_t sum = 0;
	cnt_alloc(P(base + 64 * 1024 * 2 + 8 * STEP + 32),
		  10); /* small: chunk 2 */
	sum += 10;
	for (uintptr_t i = 0; i < N; i++) {
		cnt_alloc(P(base + i * STEP), 300 + i);
		sum += 300 + i;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), N + 1);
	for (uintptr_t i = 0; i < N; i += 3) { /* missed frees: replaced */
		size_t n = i % 2 ? 20 : 5000;
		cnt_alloc(P(base + i * STEP), n);
		sum += n - (300 + i);
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), N + 1);
	for (uintptr_t i = 0; i < N; i++) {
		struct cnt_held h = cnt_detach(P(base + i * STEP));
		cr_assert(h.known, "block %zu", (size_t)i);
		cr_assert_eq(h.size,
			     i % 3   ? 300 + i
			     : i % 2 ? 20
				     : 5000,
			     "block %zu", (size_t)i);
		cr_assert_not(cnt_free(P(base + i * STEP)));
		cnt_realloc_done(P(base + i * STEP), h, NULL, 0); /* freed */
	}
	cr_assert_eq(cnt_blocks(), 1);
	cr_assert_eq(cnt_current(), 10);
	/* the chunks that stopped counting still answer right */
	for (uintptr_t i = 0; i < N; i++)
		cr_assert_eq(cnt_alloc(P(base + i * STEP + 16), i % 400), 1);
	for (uintptr_t i = 0; i < N; i++)
		cr_assert(cnt_free(P(base + i * STEP + 16)));
	cr_assert_eq(cnt_current(), 10);
	cr_assert_eq(cnt_blocks(), 1);
}

/* Pointers the packed word cannot hold: not 16-byte aligned, or at or
 * above 2^48. */
Test(count, odd_and_high_pointers_are_kept)
{
	uintptr_t ptrs[] = { 0x1001,
			     0x1008,
			     0x100f,
			     (uintptr_t)1 << 48,
			     ((uintptr_t)1 << 48) - 16,
			     UINTPTR_MAX & ~(uintptr_t)15,
			     UINTPTR_MAX };
	size_t n = sizeof ptrs / sizeof ptrs[0], sum = 0;
	for (size_t i = 0; i < n; i++) {
		cnt_alloc(P(ptrs[i]), 100 + i);
		sum += 100 + i;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), n);
	/* neighbours of those addresses were never allocated */
	cnt_free(P(0x1000));
	cnt_free(P(0x1010));
	cnt_free(P(((uintptr_t)1 << 48) + 16));
	cr_assert_eq(cnt_current(), sum);
	for (size_t i = 0; i < n; i++) {
		struct cnt_held h = cnt_detach(P(ptrs[i]));
		cr_assert(h.known, "pointer %#zx", (size_t)ptrs[i]);
		cr_assert_eq(h.size, 100 + i);
	}
	cr_assert_eq(cnt_blocks(), 0);
}

/* An address that is live in one table and allocated again with a size
 * for the other: the old block is replaced, not counted twice. */
Test(count, replacing_moves_between_small_and_big)
{
	cnt_alloc(P(0x2000), 10);
	cnt_alloc(P(0x2000), 2 * PACK_LIMIT); /* missed free, now big */
	cr_assert_eq(cnt_current(), 2 * PACK_LIMIT);
	cr_assert_eq(cnt_blocks(), 1);
	cnt_alloc(P(0x2000), 20); /* and small again */
	cr_assert_eq(cnt_current(), 20);
	cr_assert_eq(cnt_blocks(), 1);
	/* realloc from small to big in place, and back */
	struct cnt_held h = cnt_detach(P(0x2000));
	cnt_realloc_done(P(0x2000), h, P(0x2000), 3 * PACK_LIMIT);
	cr_assert_eq(cnt_current(), 3 * PACK_LIMIT);
	h = cnt_detach(P(0x2000));
	cr_assert_eq(h.size, 3 * PACK_LIMIT);
	cnt_realloc_done(P(0x2000), h, P(0x2000), 5);
	cr_assert_eq(cnt_current(), 5);
	cr_assert_eq(cnt_blocks(), 1);
	cr_assert_eq(cnt_peak(), 3 * PACK_LIMIT);
	cnt_free(P(0x2000));
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_blocks(), 0);
}

/* The model test again, with every kind of entry in play: aligned and odd
 * pointers, small, boundary and big sizes, so that both tables grow,
 * delete with backward shifts and trade entries. */
static size_t
mixed_size(unsigned r)
{
	switch (r % 4) {
	case 0: return PACK_LIMIT - 1 + r / 4 % 3; /* the boundary */
	case 1: return PACK_LIMIT + (size_t)(r / 4) * 4096;
	default: return r / 4 % 2048;
	}
}

Test(count, mixed_tables_match_a_model)
{
	enum { SLOTS = 20000, OPS = 300000 };
	size_t *model = calloc(SLOTS, sizeof(size_t));
	bool *live = calloc(SLOTS, sizeof(bool));
	cr_assert(model && live);
	unsigned seed = 777;
	size_t sum = 0, blocks = 0;
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		size_t k = (seed >> 8) % SLOTS;
		/* every third address is odd; the same address keeps its
		 * kind, its size decides the table */
		void *p = P(0x10000 + k * 16 + (k % 3 == 0 ? 8 : 0));
		unsigned r = seed >> 4;
		if (live[k] && r % 3 == 0) {
			cnt_free(p);
			sum -= model[k];
			live[k] = false;
			blocks--;
		} else { /* a new block, or one at a live address */
			size_t n = mixed_size(r);
			cnt_alloc(p, n);
			if (live[k])
				sum -= model[k];
			else
				blocks++;
			model[k] = n;
			live[k] = true;
			sum += n;
		}
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), blocks);
	for (size_t k = 0; k < SLOTS; k++) {
		struct cnt_held h =
			cnt_detach(P(0x10000 + k * 16 + (k % 3 == 0 ? 8 : 0)));
		cr_assert_eq(h.known, live[k], "slot %zu", k);
		if (live[k])
			cr_assert_eq(h.size, model[k], "slot %zu", k);
	}
	cr_assert_eq(cnt_blocks(), 0);
	free(model);
	free(live);
}

/* Threads that all grow the tables at once (each shard doubles several
 * times while others insert into it and free from it): nothing lost. */
enum { GROWERS = 4, GROW_EACH = 150000 };

static void *
grower(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	for (uintptr_t i = 0; i < GROW_EACH; i++) {
		uintptr_t p = (i * GROWERS + t + 1) * 16;
		cnt_alloc(P(p), i % 7 == 0 ? PACK_LIMIT + i : i % 500);
		/* free one a thread behind, often in another's shard */
		if (i % 2)
			cnt_free(P(p - 16 * GROWERS));
	}
	return NULL;
}

Test(count, growth_under_load_from_threads)
{
	pthread_t th[GROWERS];
	for (uintptr_t t = 0; t < GROWERS; t++)
		pthread_create(&th[t], NULL, grower, (void *)t);
	for (int t = 0; t < GROWERS; t++)
		pthread_join(th[t], NULL);
	size_t sum = 0, blocks = 0;
	for (uintptr_t i = 0; i < GROW_EACH; i++) {
		if (i % 2 == 0 && i + 1 < GROW_EACH) /* freed by i + 1 */
			continue;
		size_t n = i % 7 == 0 ? PACK_LIMIT + i : i % 500;
		sum += n * GROWERS;
		blocks += GROWERS;
	}
	cr_assert_eq(cnt_current(), sum);
	cr_assert_eq(cnt_blocks(), blocks);
	cr_assert_eq(cnt_untracked(), 0);
	for (uintptr_t t = 0; t < GROWERS; t++)
		for (uintptr_t i = 0; i < GROW_EACH; i++) {
			uintptr_t p = (i * GROWERS + t + 1) * 16;
			bool kept = !(i % 2 == 0 && i + 1 < GROW_EACH);
			struct cnt_held h = cnt_detach(P(p));
			cr_assert_eq(h.known, kept, "thread %zu block %zu",
				     (size_t)t, (size_t)i);
			if (kept)
				cr_assert_eq(h.size, i % 7 == 0 ? PACK_LIMIT + i
								: i % 500);
		}
	cr_assert_eq(cnt_blocks(), 0);
}

#ifndef COUNT_SHADOW /* tags are for recording, which has no shadow */
/* Recording: every block carries its tag through growth, backward-shift
 * deletion and replacement, in both tables (small sizes at aligned
 * addresses, big or odd ones), and gives it back at its free. The model
 * is a plain array; tags count up from 1 as the writer's do. */
Test(count, tagged_blocks_keep_their_tag)
{
	enum { SLOTS = 30000, OPS = 300000 };
	cnt_tag_blocks();
	uint32_t *tag = calloc(SLOTS, sizeof(uint32_t)); /* 0: not live */
	size_t *size = calloc(SLOTS, sizeof(size_t));
	cr_assert(tag && size);
	unsigned seed = 777;
	uint32_t next = 1;
	size_t live = 0;
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		size_t k = (seed >> 8) % SLOTS;
		/* every 5th address odd, every 7th block big: the wide table */
		void *p = P(0x10000 + k * 48 + (k % 5 == 0));
		size_t n = k % 7 == 0 ? PACK_LIMIT + k : k % 900;
		uint32_t old = 99;
		if (tag[k] && seed % 3) {
			struct cnt_held h = cnt_free_solo(p);
			cr_assert(h.known);
			cr_assert_eq(h.tag, tag[k], "slot %zu", k);
			cr_assert_eq(h.size, size[k]);
			tag[k] = 0;
			live--;
		} else if (tag[k]) { /* its free went unseen: replaced */
			cr_assert_eq(cnt_alloc_solo(p, n, next, &old), 0);
			cr_assert_eq(old, tag[k], "slot %zu", k);
			tag[k] = next++;
			size[k] = n;
		} else {
			cr_assert_eq(cnt_alloc_solo(p, n, next, &old), 1);
			tag[k] = next++;
			size[k] = n;
			live++;
		}
	}
	cr_assert_eq(cnt_blocks(), live);
	for (size_t k = 0; k < SLOTS; k++) {
		struct cnt_held h =
			cnt_free_solo(P(0x10000 + k * 48 + (k % 5 == 0)));
		cr_assert_eq(h.known, tag[k] != 0);
		cr_assert_eq(h.tag, tag[k], "slot %zu", k);
	}
	cr_assert_eq(cnt_blocks(), 0);
	cr_assert_eq(cnt_current(), 0);
	cr_assert_eq(cnt_untracked(), 0);
	free(tag);
	free(size);
}

/* Blocks entered before tagging began (by the hooks before the writer
 * started) read as tag 0; their tables make room for tags at the next
 * insert, so no later block loses its tag. */
Test(count, blocks_from_before_tagging_have_none)
{
	for (uintptr_t i = 1; i <= 10; i++)
		cnt_alloc(P(i * 16), 8);
	cnt_tag_blocks();
	uint32_t old;
	for (uintptr_t i = 11; i <= 20000; i++)
		cr_assert_eq(cnt_alloc_solo(P(i * 16), 8, (uint32_t)i, &old),
			     1);
	for (uintptr_t i = 1; i <= 20000; i++) {
		struct cnt_held h = cnt_free_solo(P(i * 16));
		cr_assert(h.known);
		cr_assert_eq(h.tag, i <= 10 ? 0 : i);
	}
	cr_assert_eq(cnt_blocks(), 0);
}

/* The writer's periodic pass: every tagged block is offered once, with
 * its address and tag; the ones taken lose their tag and nothing else. */
static size_t offered;

static bool
take_odd_tags(void *ctx, uintptr_t p, uint32_t tag)
{
	cr_assert_eq(ctx, &offered);
	cr_assert_eq(p, (uintptr_t)tag * 32 + (tag % 3 == 0 ? 8 : 0));
	offered++;
	return tag % 2;
}

Test(count, untag_takes_the_tags_it_is_told_to)
{
	enum { N = 50000 };
	cnt_tag_blocks();
	uint32_t old;
	for (uint32_t i = 1; i <= N; i++) /* every 3rd odd: the wide table */
		cr_assert_eq(cnt_alloc_solo(P((uintptr_t)i * 32 +
					      (i % 3 == 0 ? 8 : 0)),
					    i, i, &old),
			     1);
	cnt_untag_solo(take_odd_tags, &offered);
	cr_assert_eq(offered, N);
	for (uint32_t i = 1; i <= N; i++) {
		struct cnt_held h = cnt_free_solo(
			P((uintptr_t)i * 32 + (i % 3 == 0 ? 8 : 0)));
		cr_assert(h.known);
		cr_assert_eq(h.size, i);
		cr_assert_eq(h.tag, i % 2 ? 0 : i, "block %u", i);
	}
	cr_assert_eq(cnt_current(), 0);
}
#endif
