/* SPDX-License-Identifier: MIT */
/*
 * The per-thread SPSC ring (shim/ring.c): records survive wrap-around intact,
 * a producer that outruns the consumer waits instead of overwriting, and a
 * ring that may grow does so without losing or tearing a record.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"

/* A record: u32 length, u32 sequence number, then length bytes of pattern. */
static void
make_payload(uint8_t *p, uint32_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31u + i);
}

static int
pop_one(struct ring *r, uint32_t expect_seq)
{
	uint64_t head = atomic_load(&r->head);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (tail - head < 8)
		return 0;
	uint32_t hdr[2];
	ring_read(r, head, hdr, sizeof(hdr));
	cr_assert_eq(hdr[1], expect_seq, "sequence %u, expected %u", hdr[1],
		     expect_seq);
	uint8_t got[4096], want[4096] = { 0 };
	cr_assert_leq(hdr[0], sizeof(got));
	cr_assert_geq(tail - head, 8 + hdr[0]);
	ring_read(r, head + 8, got, hdr[0]);
	make_payload(want, hdr[1], hdr[0]);
	cr_assert(memcmp(got, want, hdr[0]) == 0, "record %u corrupted",
		  hdr[1]);
	ring_consume(r, head + 8 + hdr[0]);
	return 1;
}

static int
push_one(struct ring *r, uint32_t seq, uint32_t len)
{
	uint32_t hdr[2] = { len, seq };
	uint8_t payload[4096];
	make_payload(payload, seq, len);
	return ring_push(r, hdr, sizeof(hdr), payload, len);
}

/* Pushes records of len bytes until the next would not fit; returns how
 * many. */
static uint32_t
fill(struct ring *r, uint32_t len)
{
	uint32_t seq = 0;
	while (r->cap - ring_used(r) >= 8 + len)
		cr_assert_eq(push_one(r, seq++, len), 0);
	return seq;
}

Test(ring, ring_wraps_around)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	cr_assert_eq(r.cap, 4096);
	/* Odd sizes so that records straddle the end of the buffer in every
	 * possible way; 10 times the capacity in all. */
	uint32_t next_pop = 0, seq;
	uint64_t pushed = 0;
	for (seq = 0; pushed < 10 * r.cap; seq++) {
		uint32_t len = (seq * 37u) % 700u + 1u;
		while (r.cap - ring_used(&r) < 8 + len)
			cr_assert(pop_one(&r, next_pop++));
		cr_assert_eq(push_one(&r, seq, len), 0);
		pushed += 8 + len;
	}
	while (pop_one(&r, next_pop))
		next_pop++;
	cr_assert_eq(next_pop, seq);
	cr_assert_eq(ring_used(&r), 0);
	cr_assert_eq(r.waits, 0);
	ring_destroy(&r);
}

Test(ring, ring_rejects_record_larger_than_capacity)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	static uint8_t big[8192];
	cr_assert_eq(ring_push(&r, big, sizeof(big), NULL, 0), -1);
	cr_assert_eq(ring_used(&r), 0);
	ring_destroy(&r);
}

#define NREC 20000u

static void *
consumer(void *arg)
{
	struct ring *r = arg;
	uint32_t next = 0;
	while (next < NREC) {
		if (pop_one(r, next))
			next++;
		else
			sched_yield();
	}
	return NULL;
}

Test(ring, ring_blocks_when_full)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	/* Fill the ring before the consumer runs: the producer must wait. */
	uint32_t seq = fill(&r, 500);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, consumer, &r), 0);
	uint64_t bytes = 0;
	for (; seq < NREC; seq++) {
		uint32_t len = (seq * 13u) % 1000u + 1u;
		cr_assert_eq(push_one(&r, seq, len), 0);
		bytes += 8 + len;
	}
	pthread_join(t, NULL);
	cr_assert_gt(bytes, 100 * r.cap);
	cr_assert_gt(r.waits, 0, "the producer never found the ring full");
	cr_assert_eq(ring_used(&r), 0);
	ring_destroy(&r);
}

/* A consumer that lags: it sleeps now and then, so that the producer finds
 * the ring full more than once, and right after its first records, so that
 * the producer's first wait sees a ring neither full nor empty. */
static void *
slow_consumer(void *arg)
{
	struct ring *r = arg;
	uint32_t next = 0;
	while (next < NREC) {
		if (pop_one(r, next)) {
			if (++next < 4)
				usleep(2000);
		} else if (next % 1024 == 0) {
			usleep(200);
		} else {
			sched_yield();
		}
	}
	return NULL;
}

Test(ring, ring_grows_when_full_and_keeps_every_record)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	r.cap_max = 64 << 10;
	uint32_t seq = fill(&r, 500);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, slow_consumer, &r), 0);
	for (; seq < NREC; seq++)
		cr_assert_eq(push_one(&r, seq, (seq * 13u) % 1000u + 1u), 0);
	pthread_join(t, NULL); /* it checked every record's bytes */
	cr_assert_gt(r.waits, 0);
	cr_assert_gt(r.cap, 4096, "the ring never grew");
	cr_assert_leq(r.cap, 64 << 10);
	cr_assert_eq(r.cap & (r.cap - 1), 0);
	cr_assert_eq(ring_used(&r), 0);
	ring_destroy(&r);
}

Test(ring, ring_waiting_to_grow_gives_up_on_stop)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	r.cap_max = 64 << 10;
	uint32_t seq = fill(&r, 100);
	atomic_store(&ring_stop, 1);
	cr_assert_eq(push_one(&r, seq, 100), -1);
	atomic_store(&ring_stop, 0);
	cr_assert_eq(r.cap, 4096);
	ring_destroy(&r);
}

Test(ring, ring_full_gives_up_on_stop)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	uint32_t seq = fill(&r, 100);
	atomic_store(&ring_stop, 1);
	cr_assert_eq(push_one(&r, seq, 100), -1);
	atomic_store(&ring_stop, 0);
	ring_destroy(&r);
}

/* The consumer of ring_room_made_wakes_a_producer_waiting_for_room: it
 * drains the ring once the producer waits, and says so. */
static void *
drain_once(void *arg)
{
	struct ring *r = arg;
	while (r->waits == 0)
		sched_yield();
	uint32_t next = 0;
	while (pop_one(r, next))
		next++;
	ring_room_made();
	return NULL;
}

/* event.c makes room before it takes an order key (a producer that waited
 * holding one held back every other ring): once ring_room has returned,
 * the record's ring_reserve must not wait again. */
Test(ring, room_made_before_the_key_lasts_until_the_push)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	uint32_t seq = fill(&r, 500);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, drain_once, &r), 0);
	cr_assert_eq(ring_room(&r, 8 + 500), 0);
	cr_assert_eq(r.waits, 1);
	cr_assert_eq(push_one(&r, seq, 500), 0);
	cr_assert_eq(r.waits, 1, "the push waited after room was made");
	pthread_join(t, NULL);
	ring_destroy(&r);
}

/* realloc pushes two events, the second under a key taken after the first
 * was pushed. Until the second is pushed, the consumer may emit every key
 * below ring_key_bound: the first event must be among them, or a producer
 * that waits for its full ring to empty (to grow it) with the second in
 * hand waits for ever (the writer drained past it after 2 s). */
Test(ring, realloc_first_event_below_the_bound_before_the_second)
{
	static _Atomic uint64_t counter = 7;
	struct ring r;
	cr_assert_eq(ring_init(&r, 4096), 0);
	uint64_t k1 = ring_key_take(&r, &counter);
	cr_assert_leq(ring_key_bound(&r), k1, "the first key is held");
	cr_assert_eq(ring_push(&r, &k1, sizeof(k1), NULL, 0), 0);
	uint64_t k2 = ring_key_next(&r, &counter);
	cr_assert_gt(k2, k1);
	uint64_t w = atomic_load(&counter), b = ring_key_bound(&r);
	cr_expect_gt(b < w ? b : w, k1, "watermark %lu, first key %lu",
		     (unsigned long)(b < w ? b : w), (unsigned long)k1);
	cr_expect_leq(b, k2, "the second key is still held");
	ring_key_done(&r);
	ring_destroy(&r);
}

/*
 * The order protocol across rings: producers take keys from one counter and
 * push into their own small rings (so they often wait on a full ring); the
 * consumer emits only keys below the watermark, merging the rings. Every key
 * is pushed exactly once, so the merged stream must be exactly 0, 1, 2, ...
 */
#define NPROD 4
#define PER_PROD 50000u

static _Atomic uint64_t order;
static struct ring prod_ring[NPROD];

static void *
producer(void *arg)
{
	struct ring *r = arg;
	for (uint32_t i = 0; i < PER_PROD; i++) {
		uint64_t k = ring_key_take(r, &order);
		cr_assert_eq(ring_push(r, &k, sizeof(k), NULL, 0), 0);
		if (i % 7 == 0) {
			/* realloc: a second key while the first is held */
			uint64_t k2 = ring_key_next(r, &order);
			cr_assert_eq(ring_push(r, &k2, sizeof(k2), NULL, 0), 0);
		}
		ring_key_done(r);
	}
	return NULL;
}

Test(ring, ring_keys_merge_in_global_order)
{
	pthread_t t[NPROD];
	for (int i = 0; i < NPROD; i++) {
		cr_assert_eq(ring_init(&prod_ring[i], 4096), 0);
		cr_assert_eq(
			pthread_create(&t[i], NULL, producer, &prod_ring[i]),
			0);
	}
	uint64_t total = NPROD * (PER_PROD + (PER_PROD + 6) / 7);
	uint64_t next = 0;
	while (next < total) {
		uint64_t w = atomic_load_explicit(&order, memory_order_acquire);
		uint64_t pos[NPROD], tail[NPROD];
		for (int i = 0; i < NPROD; i++) {
			uint64_t b = ring_key_bound(&prod_ring[i]);
			if (b < w)
				w = b;
			pos[i] = atomic_load(&prod_ring[i].head);
			tail[i] = atomic_load_explicit(&prod_ring[i].tail,
						       memory_order_acquire);
		}
		for (;;) {
			int best = -1;
			uint64_t bk = 0;
			for (int i = 0; i < NPROD; i++) {
				if (pos[i] >= tail[i])
					continue;
				uint64_t k;
				ring_read(&prod_ring[i], pos[i], &k, sizeof(k));
				if (k < w && (best < 0 || k < bk)) {
					best = i;
					bk = k;
				}
			}
			if (best < 0)
				break;
			cr_assert_eq(bk, next, "emitted key %lu, expected %lu",
				     (unsigned long)bk, (unsigned long)next);
			next++;
			pos[best] += sizeof(uint64_t);
			ring_consume(&prod_ring[best], pos[best]);
		}
		sched_yield();
	}
	uint64_t waits = 0;
	for (int i = 0; i < NPROD; i++) {
		pthread_join(t[i], NULL);
		waits += prod_ring[i].waits;
		cr_assert_eq(ring_used(&prod_ring[i]), 0);
		ring_destroy(&prod_ring[i]);
	}
	cr_assert_eq(next, total);
	cr_assert_gt(waits, 0, "no producer ever waited: test too easy");
}
