/* SPDX-License-Identifier: MIT */
/*
 * A single-producer/single-consumer byte ring: each application thread owns
 * one and only writes; the writer thread only reads. Positions grow without
 * bound (u64) and are reduced modulo the power-of-two capacity. The memory
 * comes from mmap, never from the allocator being traced.
 */
#ifndef HELDBY_RING_H
#define HELDBY_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RING_PENDING_IDLE 0u /* no order key held */
/* otherwise: 2 + a lower bound of the oldest key not yet pushed */

enum ring_state { RING_FREE = 0, RING_ACTIVE = 1, RING_DEAD = 2 };

/* Frames of the last stack kept per ring (HELDBY_DEPTH's maximum). */
#define RING_STACK_MAX 256

struct ring {
	/* producer side */
	_Alignas(64) _Atomic uint64_t tail;
	_Atomic uint64_t pending;
	uint64_t waits;	  /* times the producer found the ring full */
	uint64_t next_lo; /* producer-private: a lower bound of its next key */
	void *uw_memo;	  /* producer-private: the fast unwinder's last walk */
	/* The last stack pushed, outermost frame at the end (right-aligned,
	 * so that a shared outer part stays in place): an event carries only
	 * the frames that differ from it. prev_* is the producer's copy,
	 * w_prev_* the writer's, rebuilt from the events; both follow the
	 * ring's order, and a recycled ring keeps both. */
	_Alignas(64) uint32_t prev_n;
	/* the fast unwinder's number of the walk prev_ips is, or 0 */
	uint64_t prev_walk;
	uint64_t prev_ips[RING_STACK_MAX];
	/* consumer side */
	_Alignas(64) _Atomic uint64_t head;
	uint64_t seen_gen; /* writer-private: last generation announced */
	uint64_t stuck_pending, stuck_since; /* writer-private */
	/* writer-private, off head's line: the producer reads head */
	_Alignas(64) uint32_t w_prev_n;
	uint64_t w_prev_ips[RING_STACK_MAX];
	/* shared, rarely written */
	_Alignas(64) _Atomic int state;
	_Atomic uint64_t gen; /* +1 each time a thread claims the ring */
	uint64_t tid;
	char name[16];
	struct ring *_Atomic next; /* global list, push-only */
	uint8_t *buf;
	size_t cap;	 /* power of two; the producer doubles it (below) */
	size_t cap_max;	 /* set by the owner; ring_init: cap (no growth) */
	size_t grown_by; /* taken from RING_GROW_BUDGET */
};

/* All rings together grow by at most this much beyond their first sizes:
 * a service with many busy threads keeps a bound on the shim's memory. */
#define RING_GROW_BUDGET ((size_t)8 << 20)

/* Set by the owner of the rings: a producer that finds its ring full gives
 * up as soon as ring_stop is non-zero, and raises ring_kick to ask the
 * consumer to drain early. */
extern _Atomic int ring_stop;
/* The pid whose writer drains the rings (0: not known): a full ring in
 * another process does not wait (ring_wait_room). Set by writer_start. */
extern _Atomic int ring_owner;
extern _Atomic int ring_kick;

/* Raises ring_kick and wakes a consumer sleeping in ring_wait_kick. Any
 * thread; async-signal-safe. */
void ring_kick_consumer(void);
/* ring_kick_consumer, but only while the consumer sleeps an idle sleep
 * (ring_wait_kick's idle): for work that can wait for the consumer's next
 * round while it is busy. */
void ring_kick_if_idle(void);
/* Consumer, after a drain released room in the rings: wakes the
 * producers waiting in ring_wait_room. Cheap when none waits. */
void ring_room_made(void);
/* The number of ring_room_made calls so far, and a sleep until the next
 * one after gen (at most 1 ms): a thread waiting for the consumer's work
 * reads the number, checks, then sleeps. Any thread; async-signal-safe. */
int ring_room_gen(void);
void ring_room_wait(int gen);
/* Sleeps ns nanoseconds; not a cancellation point. */
void ring_nap(long ns);
/* Consumer: sleeps until kicked or timeout_ns passed; idle: a long sleep,
 * with nothing to do (ring_kick_if_idle). Does not clear the kick: the
 * consumer stores 0 when it starts draining. */
void ring_wait_kick(long timeout_ns, bool idle);

/* Maps cap bytes (rounded up to a power of two, at least 4 KiB). Returns 0
 * or -errno. Not thread-safe for the same ring. */
int ring_init(struct ring *r, size_t cap);
void ring_destroy(struct ring *r);

/* Events and their frames are whole u64 words at word positions: those
 * are copied a word at a time, inline, since a call to memcpy per part of
 * a record (a few words) was 3% of a python thread's time under the shim,
 * and a copy loop whose length the compiler cannot see was most of
 * ring_push's own instructions. The writer reads the same way. */
static inline void
ring_copy(void *dst, const void *src, size_t n)
{
	if (((uintptr_t)dst | (uintptr_t)src | n) & 7) {
		memcpy(dst, src, n);
		return;
	}
	/* 8-byte memcpys, which compile to moves: the words are struct ev's
	 * fields and frames, not uint64_t objects to load through a pointer */
	uint8_t *d = dst;
	const uint8_t *s = src;
	for (size_t i = 0; i < n; i += 8)
		memcpy(d + i, s + i, 8);
}

static inline void
ring_put(struct ring *r, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)(pos & (r->cap - 1));
	size_t first = r->cap - off;
	if (first >= n) {
		ring_copy(r->buf + off, src, n);
	} else {
		ring_copy(r->buf + off, src, first);
		ring_copy(r->buf, (const uint8_t *)src + first, n - first);
	}
}

/* The producer's wait while the ring has no room for n bytes at tail:
 * 0 once it has, -1 when ring_stop is set or this is not ring_owner's
 * process. Below cap_max (and within
 * RING_GROW_BUDGET) it waits for the ring to empty and doubles it
 * instead: a burst of events (python freeing a document) then waits once
 * per doubling, not on every record until it ends. */
int ring_wait_room(struct ring *r, uint64_t tail, size_t n);

/* Producer: waits until the ring has room for n bytes (ring_wait_room),
 * before the record's order key is taken. A producer that waited holding
 * a key held the writer's watermark, and with it every other ring's
 * events: threads that all filled their rings at once were let through
 * one per drain (bench: short_threads). Room only grows until the
 * producer itself pushes, so the ring_reserve that follows does not wait.
 * 0, or -1 as ring_reserve. Producer thread only; async-signal-safe. */
static inline int
ring_room(struct ring *r, size_t n)
{
	if (n > r->cap)
		return -1;
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (t + n - head > r->cap)
		return ring_wait_room(r, t, n);
	return 0;
}

/* Producer: room for a record of n bytes at *tail, where it may write it
 * (r->buf and r->cap as they are now: waiting may have grown the ring).
 * Waits while the ring is full (counting r->waits), or returns -1 when
 * ring_stop is set or the record can never fit. Producer thread only;
 * async-signal-safe. */
static inline int
ring_reserve(struct ring *r, size_t n, uint64_t *tail)
{
	if (n > r->cap)
		return -1;
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (t + n - head > r->cap) {
		if (ring_wait_room(r, t, n) != 0)
			return -1;
	} else if (t + n - head > r->cap / 2) {
		ring_kick_consumer();
	}
	*tail = t;
	return 0;
}

/* Producer: hands the records written before tail to the consumer. */
static inline void
ring_publish(struct ring *r, uint64_t tail)
{
	atomic_store_explicit(&r->tail, tail, memory_order_release);
}

/* Producer: appends a then b as one record (ring_reserve says when not). */
static inline int
ring_push(struct ring *r, const void *a, size_t an, const void *b, size_t bn)
{
	uint64_t tail;
	if (ring_reserve(r, an + bn, &tail) != 0)
		return -1;
	ring_put(r, tail, a, an);
	if (bn)
		ring_put(r, tail + an, b, bn);
	ring_publish(r, tail + an + bn);
	return 0;
}

/* Bytes written and not yet consumed. Either side. */
static inline size_t
ring_used(struct ring *r)
{
	return (size_t)(atomic_load_explicit(&r->tail, memory_order_acquire) -
			atomic_load_explicit(&r->head, memory_order_relaxed));
}

/* Consumer: copies n bytes starting at position pos (head <= pos,
 * pos + n <= tail). */
static inline void
ring_read(const struct ring *r, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)(pos & (r->cap - 1));
	size_t first = r->cap - off;
	if (first >= n) {
		ring_copy(dst, r->buf + off, n);
	} else {
		ring_copy(dst, r->buf + off, first);
		ring_copy((uint8_t *)dst + first, r->buf, n - first);
	}
}

/* Consumer: releases everything before pos to the producer. */
static inline void
ring_consume(struct ring *r, uint64_t pos)
{
	atomic_store_explicit(&r->head, pos, memory_order_release);
}

/*
 * Order keys across rings (writer.c explains the protocol). A producer
 * announces a lower bound of its next key in `pending`, takes the key, pushes
 * the event(s) and clears `pending`. A consumer that read the counter (g)
 * first and then every ring's ring_key_bound() can emit every event whose key
 * is below min(g, bounds): none of those can still appear.
 */
static inline uint64_t
ring_key_take(struct ring *r, _Atomic uint64_t *counter)
{
	atomic_store_explicit(&r->pending, r->next_lo + 2,
			      memory_order_relaxed);
	/* release: a consumer whose acquire load of the counter sees this
	 * increment (or a later one: a release sequence of RMWs) sees the
	 * pending store too */
	uint64_t k =
		atomic_fetch_add_explicit(counter, 1, memory_order_acq_rel);
	r->next_lo = k + 1;
	return k;
}

/* A further key while pending is still held (realloc's second event),
 * after the first event was pushed. The bound moves past the first key:
 * kept at it, the first event stayed below no watermark, and a producer
 * that then waited for its full ring to empty (to grow it) waited for
 * the writer's STUCK_NS, 2 s, instead (python3 starting up, 2 runs in 15
 * with 16 KiB rings). Release: a consumer that sees the new bound sees
 * the first event's tail too. */
static inline uint64_t
ring_key_next(struct ring *r, _Atomic uint64_t *counter)
{
	atomic_store_explicit(&r->pending, r->next_lo + 2,
			      memory_order_release);
	uint64_t k =
		atomic_fetch_add_explicit(counter, 1, memory_order_acq_rel);
	r->next_lo = k + 1;
	return k;
}

static inline void
ring_key_done(struct ring *r)
{
	atomic_store_explicit(&r->pending, RING_PENDING_IDLE,
			      memory_order_release);
}

/* Consumer: the lowest key this ring may still push, or UINT64_MAX. Read
 * after the counter and before the ring's tail. */
static inline uint64_t
ring_key_bound(struct ring *r)
{
	uint64_t p = atomic_load_explicit(&r->pending, memory_order_acquire);
	return p >= 2 ? p - 2 : UINT64_MAX;
}

#endif
