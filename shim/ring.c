/* SPDX-License-Identifier: MIT */
/*
 * The per-thread SPSC byte ring. The hot path is two memcpy and one release
 * store; only a full ring costs a sched_yield or a short sleep.
 */
#include "ring.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Atomic int ring_stop;
_Atomic int ring_kick;

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

void
ring_wait_kick(long timeout_ns)
{
	if (atomic_load(&ring_kick))
		return;
	struct timespec ts = { timeout_ns / 1000000000L,
			       timeout_ns % 1000000000L };
	syscall(SYS_futex, (int *)&ring_kick, FUTEX_WAIT_PRIVATE, 0, &ts, NULL,
		0);
}

int
ring_init(struct ring *r, size_t cap)
{
	size_t c = 4096;
	while (c < cap)
		c <<= 1;
	memset(r, 0, sizeof(*r));
	void *m = mmap(NULL, c, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	r->buf = m;
	r->cap = c;
	return 0;
}

void
ring_destroy(struct ring *r)
{
	if (r->buf)
		munmap(r->buf, r->cap);
	r->buf = NULL;
}

/* Events and their frames are whole u64 words at word positions: those
 * are copied a word at a time, since a call to memcpy per part of a record
 * (a few words) was 3% of a python thread's time under the shim. The
 * writer reads the same way. */
static inline void
copy(void *dst, const void *src, size_t n)
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

static void
put(struct ring *r, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)(pos & (r->cap - 1));
	size_t first = r->cap - off;
	if (first >= n) {
		copy(r->buf + off, src, n);
	} else {
		copy(r->buf + off, src, first);
		copy(r->buf, (const uint8_t *)src + first, n - first);
	}
}

void
ring_read(const struct ring *r, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)(pos & (r->cap - 1));
	size_t first = r->cap - off;
	if (first >= n) {
		copy(dst, r->buf + off, n);
	} else {
		copy(dst, r->buf + off, first);
		copy((uint8_t *)dst + first, r->buf, n - first);
	}
}

int
ring_push(struct ring *r, const void *a, size_t an, const void *b, size_t bn)
{
	size_t n = an + bn;
	if (n > r->cap)
		return -1;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (tail + n - head > r->cap) {
		unsigned spins = 0;
		r->waits++;
		do {
			if (atomic_load_explicit(&ring_stop,
						 memory_order_relaxed))
				return -1;
			ring_kick_consumer();
			if (spins++ < 16)
				sched_yield();
			else
				ring_nap(50000);
			head = atomic_load_explicit(&r->head,
						    memory_order_acquire);
		} while (tail + n - head > r->cap);
	} else if (tail + n - head > r->cap / 2) {
		ring_kick_consumer();
	}
	put(r, tail, a, an);
	if (bn)
		put(r, tail + an, b, bn);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return 0;
}
