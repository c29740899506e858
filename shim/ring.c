/* SPDX-License-Identifier: MIT */
/*
 * The per-thread SPSC byte ring: what is not on the hot path (ring.h has
 * that). Only a full ring costs a wait, on a futex the consumer wakes after
 * each drain.
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mapmem.h"
#include "sigmask.h"
#include "hb_assert.h"

_Atomic int ring_stop;
_Atomic int ring_kick;
_Atomic int ring_owner;
static _Atomic int consumer_idle;
/* Bumped by the consumer after each drain: producers waiting for room
 * sleep on it (room_wait) instead of polling the rings. */
static _Atomic int room_gen;
static _Atomic int room_waiters;

void
ring_kick_consumer(void)
{
	/* One syscall per kick, and only on the 0 -> 1 edge: a producer
	 * crosses half full at most once per drain. */
	if (atomic_load_explicit(&ring_kick, memory_order_relaxed) ||
	    atomic_exchange(&ring_kick, 1))
		return;
	syscall(SYS_futex, (int *)&ring_kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
		0);
}

void
ring_nap(long ns)
{
	/* The raw system call: glibc's nanosleep is a cancellation point, and
	 * a thread must not be cancelled from inside malloc. */
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
	syscall(SYS_nanosleep, &ts, NULL);
}

int
ring_room_gen(void)
{
	return atomic_load(&room_gen);
}

void
ring_room_made(void)
{
	atomic_fetch_add(&room_gen, 1);
	if (atomic_load(&room_waiters))
		syscall(SYS_futex, (int *)&room_gen, FUTEX_WAKE_PRIVATE,
			INT_MAX, NULL, NULL, 0);
}

/* Sleeps until the consumer's next drain after the one that made gen, or
 * ROOM_WAIT_NS: the bound is for a consumer that is not running yet, or
 * has stopped (ring_stop). The seq_cst order of room_waiters' increment
 * and room_gen's bump makes a missed wake impossible: a drain that found
 * no waiter has changed room_gen, and FUTEX_WAIT does not sleep then. */
#define ROOM_WAIT_NS 1000000L
void
ring_room_wait(int gen)
{
	struct timespec ts = { 0, ROOM_WAIT_NS };
	atomic_fetch_add(&room_waiters, 1);
	syscall(SYS_futex, (int *)&room_gen, FUTEX_WAIT_PRIVATE, gen, &ts, NULL,
		0);
	atomic_fetch_sub(&room_waiters, 1);
}

void
ring_kick_if_idle(void)
{
	if (atomic_load_explicit(&consumer_idle, memory_order_relaxed))
		ring_kick_consumer();
}

void
ring_wait_kick(long timeout_ns, bool idle)
{
	if (atomic_load(&ring_kick))
		return;
	struct timespec ts = { timeout_ns / 1000000000L,
			       timeout_ns % 1000000000L };
	atomic_store_explicit(&consumer_idle, idle, memory_order_relaxed);
	syscall(SYS_futex, (int *)&ring_kick, FUTEX_WAIT_PRIVATE, 0, &ts, NULL,
		0);
	atomic_store_explicit(&consumer_idle, 0, memory_order_relaxed);
}

int
ring_init(struct ring *r, size_t cap)
{
	size_t c = 4096;
	while (c < cap)
		c <<= 1;
	/* positions are reduced with cap - 1 (ring_put, ring_read) */
	hb_assert((c & (c - 1)) == 0 && c >= cap);
	memset(r, 0, sizeof(*r));
	void *m = hb_map_with(c, MAP_NORESERVE);
	if (!m)
		return -errno;
	r->buf = m;
	r->cap = c;
	r->cap_max = c;
	return 0;
}

static _Atomic size_t grown;

static void
grow_budget_give(size_t bytes)
{
	size_t had = atomic_fetch_sub(&grown, bytes);
	hb_assert(had >= bytes); /* gives back no more than was taken */
}

void
ring_destroy(struct ring *r)
{
	if (r->buf)
		munmap(r->buf, r->cap);
	r->buf = NULL;
	grow_budget_give(r->grown_by);
	r->grown_by = 0;
}

/* Takes bytes out of RING_GROW_BUDGET, or fails. */
static bool
grow_budget_take(size_t bytes)
{
	size_t g = atomic_load_explicit(&grown, memory_order_relaxed);
	do {
		if (g + bytes > RING_GROW_BUDGET)
			return false;
	} while (!atomic_compare_exchange_weak(&grown, &g, g + bytes));
	return true;
}

/* The producer, with the ring empty (head == tail) and the growth (cap
 * bytes) taken from the budget: the consumer has read and released
 * everything, and reads nothing more until it sees a later tail, whose
 * release store publishes the new buffer with it. So the producer alone
 * swaps the buffer, and positions go on as they were. */
static bool
grow_empty(struct ring *r)
{
	size_t c = r->cap * 2;
	hb_assert(atomic_load(&r->head) == atomic_load(&r->tail));
	void *m = hb_map_with(c, MAP_NORESERVE);
	if (!m)
		return false;
	munmap(r->buf, r->cap);
	r->grown_by += c - r->cap;
	r->buf = m;
	r->cap = c;
	return true;
}

/* Whether this process is not the one whose writer drains the rings. A
 * system call: only when a ring is full. */
static bool
ring_foreign(void)
{
	int owner = atomic_load_explicit(&ring_owner, memory_order_relaxed);
	return owner && owner != (int)getpid();
}

/* A handler that leaves with siglongjmp must not find the ring half
 * changed: grow_empty unmaps the old buffer before the ring points at the
 * new one, and the next push would write into the hole. The slow path
 * waits for the writer anyway; its signals come once it has room. */
static int wait_room(struct ring *r, uint64_t tail, size_t n);

int
ring_wait_room(struct ring *r, uint64_t tail, size_t n)
{
	sigset_t old;
	sig_block_async(&old);
	int ret = wait_room(r, tail, n);
	sig_unblock(&old);
	return ret;
}

static int
wait_room(struct ring *r, uint64_t tail, size_t n)
{
	/* The budget is taken before waiting for the ring to empty: once it
	 * is spent, a full ring waits for room for one record, as a ring
	 * that may not grow does, not for all of it. */
	/* A child made without fork's handlers (_Fork, a raw clone) has our
	 * rings and no writer: nobody would ever make room. Its events are
	 * dropped (a vfork child's too: it shares the parent's memory, so it
	 * must not change the rings' state). */
	if (ring_foreign())
		return -1;
	bool grow = r->cap < r->cap_max && grow_budget_take(r->cap);
	r->waits++;
	for (;;) {
		if (atomic_load_explicit(&ring_stop, memory_order_relaxed)) {
			if (grow)
				grow_budget_give(r->cap);
			return -1;
		}
		/* read before head: a drain after this read wakes room_wait */
		int gen = atomic_load(&room_gen);
		uint64_t head = atomic_load(&r->head);
		/* the consumer never passes the producer, nor the producer
		 * a byte the consumer has not read */
		hb_assert(head <= tail && tail - head <= r->cap);
		if (grow && head == tail) {
			if (grow_empty(r))
				return 0;
			grow_budget_give(r->cap);
			grow = false;
		}
		if (!grow && tail + n - head <= r->cap)
			return 0;
		ring_kick_consumer();
		ring_room_wait(gen);
	}
}
