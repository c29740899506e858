/* SPDX-License-Identifier: MIT */
/*
 * Live counters, exact across threads. Bytes held now are one global
 * atomic (a peak is a property of the whole process, so some word has to
 * be shared); the peak is raised by compare-and-swap only when it grows.
 * The sizes of live blocks sit in 256 open-addressing tables (linear
 * probing, backward-shift deletion, memory from mmap), each behind its own
 * spin lock on its own cache line: a lock is held for a few dozen
 * instructions, and two threads rarely want the same shard.
 */
#include "count.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#define SHARD_BITS 8
#define NSHARDS (1u << SHARD_BITS)
#define BITS_MIN 8 /* 256 slots: one 4 KiB page per shard to start */

struct slot {
	uintptr_t ptr; /* 0: empty */
	size_t size;
};

struct shard {
	_Alignas(64) atomic_int lock;
	unsigned shift;  /* 64 - log2 of the capacity */
	size_t mask;     /* capacity - 1; 0 while there is no table */
	size_t grow_at;  /* entries that make the table grow */
	_Atomic size_t used;
	struct slot *slots;
};

static struct shard shards[NSHARDS];

/* Each on its own line: `cur` is written by every allocation, `peak` is
 * read by every allocation and written only while it grows. */
static struct {
	_Alignas(64) _Atomic size_t cur;
	_Alignas(64) _Atomic size_t peak;
	_Alignas(64) _Atomic size_t untracked;
} ctr;

static inline uint64_t
hash_ptr(uintptr_t p)
{
	return (uint64_t)p * 0x9e3779b97f4a7c15u; /* Fibonacci hashing */
}

static inline struct shard *
shard_of(uint64_t h)
{
	return &shards[h >> (64 - SHARD_BITS)];
}

/* The slot an entry would occupy in an empty table: the hash bits below
 * the shard's. */
static inline size_t
home(const struct shard *s, uint64_t h)
{
	return (size_t)((h << SHARD_BITS) >> s->shift);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void
lock_slow(struct shard *s)
{
	for (unsigned spins = 0;; spins++) {
		if (!atomic_load_explicit(&s->lock, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&s->lock, 1,
					      memory_order_acquire))
			return;
		/* The holder may have been preempted (or be growing the
		 * table): stop burning its CPU after a short spin. */
		if (spins < 128)
			cpu_relax();
		else
			sched_yield();
	}
}

static inline void
lock(struct shard *s)
{
	if (likely(!atomic_exchange_explicit(&s->lock, 1,
					     memory_order_acquire)))
		return;
	lock_slow(s);
}

static inline void
unlock(struct shard *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* The slot that holds p, or the empty slot where p belongs. */
static inline size_t
probe(const struct shard *s, uint64_t h, uintptr_t p)
{
	size_t i = home(s, h);
	while (s->slots[i].ptr && s->slots[i].ptr != p)
		i = (i + 1) & s->mask;
	return i;
}

static inline void
set_used(struct shard *s, size_t n)
{
	/* only under the lock: a plain store, atomic for the readers */
	atomic_store_explicit(&s->used, n, memory_order_relaxed);
}

/* Doubles the table (or makes the first one). False when there is no
 * memory for it; the old table is then still in place. */
static __attribute__((noinline)) bool
grow(struct shard *s)
{
	unsigned bits = s->mask ? 64 - s->shift + 1 : BITS_MIN;
	void *m = mmap(NULL, sizeof(struct slot) << bits,
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED)
		return false;
	struct shard n = {
		.shift = 64 - bits,
		.mask = ((size_t)1 << bits) - 1,
		.slots = m,
	};
	for (size_t i = 0; s->mask && i <= s->mask; i++) {
		uintptr_t p = s->slots[i].ptr;
		if (p)
			n.slots[probe(&n, hash_ptr(p), p)] = s->slots[i];
	}
	if (s->mask)
		munmap(s->slots, sizeof(struct slot) * (s->mask + 1));
	s->shift = n.shift;
	s->mask = n.mask;
	s->slots = n.slots;
	/* Load factor at most 1/2 keeps probes short. */
	s->grow_at = (n.mask + 1) / 2;
	return true;
}

/* Enters p -> n. Returns false when the table is full and cannot grow;
 * *stale gets the size of an entry that p replaced (a block whose free we
 * never saw: the replay drops it the same way). */
static inline __attribute__((always_inline)) bool
insert(uintptr_t p, size_t n, size_t *stale)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = shard_of(h);
	bool ok = true;
	*stale = 0;
	lock(s);
	size_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
	if (unlikely(used >= s->grow_at) && !grow(s) &&
	    (!s->mask || used + 2 > s->mask)) {
		ok = false;
		goto out;
	}
	size_t i = probe(s, h, p);
	if (s->slots[i].ptr) {
		*stale = s->slots[i].size;
	} else {
		s->slots[i].ptr = p;
		set_used(s, used + 1);
	}
	s->slots[i].size = n;
out:
	unlock(s);
	return ok;
}

/* Empties slot i and moves later entries of its probe run back into the
 * hole, so that lookups never need tombstones. */
static inline void
erase(struct shard *s, size_t i)
{
	for (size_t j = i;;) {
		j = (j + 1) & s->mask;
		uintptr_t p = s->slots[j].ptr;
		if (!p)
			break;
		size_t k = home(s, hash_ptr(p));
		/* The entry at j stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	s->slots[i].ptr = 0;
}

/* Removes p; returns whether it was there and its size. */
static inline __attribute__((always_inline)) struct cnt_held
take(uintptr_t p)
{
	struct cnt_held h = {0, false};
	uint64_t hp = hash_ptr(p);
	struct shard *s = shard_of(hp);
	lock(s);
	if (likely(s->mask)) {
		size_t i = probe(s, hp, p);
		if (likely(s->slots[i].ptr)) {
			h.size = s->slots[i].size;
			h.known = true;
			erase(s, i);
			set_used(s, atomic_load_explicit(
					    &s->used, memory_order_relaxed) -
					    1);
		}
	}
	unlock(s);
	return h;
}

static inline void
raise_peak(size_t now)
{
	size_t pk = atomic_load_explicit(&ctr.peak, memory_order_relaxed);
	while (now > pk &&
	       !atomic_compare_exchange_weak_explicit(&ctr.peak, &pk, now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* Applies held += add - sub as one step, as the replay's free-then-alloc
 * pair ends at the same value and the free alone cannot set a peak. A
 * block that nobody else can free yet is the only one added, so the sum
 * never dips below zero on the way. */
static inline void
apply(size_t add, size_t sub)
{
	if (add > sub) {
		size_t d = add - sub;
		raise_peak(atomic_fetch_add_explicit(&ctr.cur, d,
						     memory_order_relaxed) +
			   d);
	} else if (sub > add) {
		atomic_fetch_sub_explicit(&ctr.cur, sub - add,
					  memory_order_relaxed);
	}
}

static void
lost(void)
{
	atomic_fetch_add_explicit(&ctr.untracked, 1, memory_order_relaxed);
}

void
cnt_alloc(void *p, size_t n)
{
	size_t stale;
	if (insert((uintptr_t)p, n, &stale))
		apply(n, stale);
	else
		lost();
}

void
cnt_free(void *p)
{
	struct cnt_held h = take((uintptr_t)p);
	if (h.known)
		apply(0, h.size);
}

struct cnt_held
cnt_detach(void *old)
{
	struct cnt_held none = {0, false};
	return old ? take((uintptr_t)old) : none;
}

void
cnt_realloc_done(void *old, struct cnt_held h, void *p, size_t n)
{
	size_t gone = h.known ? h.size : 0, stale;
	if (!p && n != 0) {
		/* failed: old is still allocated and still counted */
		if (h.known && !insert((uintptr_t)old, h.size, &stale)) {
			lost();
			apply(0, gone);
		}
		return;
	}
	if (!p) { /* realloc(old, 0) freed old */
		apply(0, gone);
		return;
	}
	if (insert((uintptr_t)p, n, &stale)) {
		apply(n, gone + stale);
	} else {
		lost();
		apply(0, gone);
	}
}

size_t
cnt_current(void)
{
	return atomic_load_explicit(&ctr.cur, memory_order_relaxed);
}

size_t
cnt_peak(void)
{
	return atomic_load_explicit(&ctr.peak, memory_order_relaxed);
}

size_t
cnt_blocks(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < NSHARDS; i++)
		n += atomic_load_explicit(&shards[i].used,
					  memory_order_relaxed);
	return n;
}

void
cnt_reset_peak(void)
{
	atomic_store_explicit(&ctr.peak, cnt_current(), memory_order_relaxed);
}

size_t
cnt_untracked(void)
{
	return atomic_load_explicit(&ctr.untracked, memory_order_relaxed);
}

void
cnt_lock_all(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		lock(&shards[i]);
}

void
cnt_unlock_all(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		unlock(&shards[i]);
}
