/* SPDX-License-Identifier: MIT */
/*
 * The per-thread SPSC byte ring: what is not on the hot path (ring.h has
 * that). Only a full ring costs a sched_yield or a short sleep.
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

int
ring_wait_room(struct ring *r, uint64_t tail, size_t n)
{
	uint64_t head;
	unsigned spins = 0;
	r->waits++;
	do {
		if (atomic_load_explicit(&ring_stop, memory_order_relaxed))
			return -1;
		ring_kick_consumer();
		if (spins++ < 16)
			sched_yield();
		else
			ring_nap(50000);
		head = atomic_load_explicit(&r->head, memory_order_acquire);
	} while (tail + n - head > r->cap);
	return 0;
}
