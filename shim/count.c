/* SPDX-License-Identifier: MIT */
/*
 * Live counters, exact across threads. Bytes held now are one global
 * atomic (a peak is a property of the whole process, so some word has to
 * be shared); the peak is raised by compare-and-swap only when it grows.
 * A free finds its block's size in the table of live blocks (livetab.c),
 * or in count mode, for a small block, in the shadow map (shadow.h).
 */
#include "count.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/single_threaded.h>

#include "attrs.h"
#include "livetab.h"
#include "shadow.h"

/* Each on its own line: `cur` is written by every allocation, `peak` is
 * read by every allocation and written only while it grows. */
static struct {
	_Alignas(64) _Atomic size_t cur;
	_Atomic size_t small; /* live blocks kept in the shadow */
	_Alignas(64) _Atomic size_t peak;
	_Alignas(64) _Atomic size_t untracked;
} ctr;

/* lt_take, as the callers want it. */
static inline struct cnt_held
take(uintptr_t p, bool solo)
{
	struct lt_entry e;
	bool known = lt_take(p, solo, &e);
	return (struct cnt_held){ e.size, e.tag, known };
}

static inline void
raise_peak(size_t now)
{
	size_t pk = atomic_load_explicit(&ctr.peak, memory_order_relaxed);
	while (now > pk && !atomic_compare_exchange_weak_explicit(
				   &ctr.peak, &pk, now, memory_order_relaxed,
				   memory_order_relaxed))
		;
}

/* apply() for the only thread that changes the counters (cnt_*_solo,
 * and any hook while the process has one thread): plain loads and
 * stores, still atomic for the readers. */
static inline void
apply_solo(size_t add, size_t sub)
{
	size_t cur = atomic_load_explicit(&ctr.cur, memory_order_relaxed) +
		     add - sub;
	atomic_store_explicit(&ctr.cur, cur, memory_order_relaxed);
	if (add > sub &&
	    cur > atomic_load_explicit(&ctr.peak, memory_order_relaxed))
		atomic_store_explicit(&ctr.peak, cur, memory_order_relaxed);
}

/* Applies held += add - sub as one step, as the replay's free-then-alloc
 * pair ends at the same value and the free alone cannot set a peak. A
 * block that nobody else can free yet is the only one added, so the sum
 * never dips below zero on the way. Without a second thread (glibc's
 * __libc_single_threaded, which it clears before a second thread starts)
 * no locked instruction is needed. */
static inline void
apply(size_t add, size_t sub)
{
	if (__libc_single_threaded) {
		apply_solo(add, sub);
	} else if (add > sub) {
		size_t d = add - sub;
		raise_peak(atomic_fetch_add_explicit(&ctr.cur, d,
						     memory_order_relaxed) +
			   d);
	} else if (sub > add) {
		atomic_fetch_sub_explicit(&ctr.cur, sub - add,
					  memory_order_relaxed);
	}
}

/* Live blocks in the shadow += d. */
static inline void
count_small(long d)
{
	if (__libc_single_threaded)
		atomic_store_explicit(
			&ctr.small,
			atomic_load_explicit(&ctr.small, memory_order_relaxed) +
				(size_t)d,
			memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&ctr.small, (size_t)d,
					  memory_order_relaxed);
}

static void
lost(void)
{
	atomic_fetch_add_explicit(&ctr.untracked, 1, memory_order_relaxed);
}

/* Count mode's small blocks: a block's size in its grain byte of the
 * shadow map (shadow.h), 0 for none, size + 1 up to SHADOW_SMALL_MAX;
 * SHADOW_BIG for a block in the table (too big for a byte). One load and
 * one store where the table costs a lock, a hash and a probe, at a
 * sixteenth of the heap's size instead of 10 to 16 bytes a block. Only
 * where the process counts from its start: recording keeps a tag with
 * each block, which only the table has room for.
 *
 * A big block is marked in its grain byte only where its chunk's page of
 * grain bytes is resident anyway, for small blocks (CHUNK_SMALL): a heap
 * of 4 KiB buffers would otherwise take a page of grain bytes for every
 * 16 of them, 6% of the heap, where the table takes 12 to 16 bytes each.
 * The chunk byte counts the table's blocks there without a mark
 * (CHUNK_UNMARKED, stuck at its top once it gets there), and an empty
 * grain byte asks the table only where that count is not 0. */
#define SHADOW_SMALL_MAX 253
#define SHADOW_BIG 255
#define CHUNK_SMALL 0x80
#define CHUNK_UNMARKED 0x7f

/* SHADOW_GAP: a covered block went to the table without a byte (its
 * region could not be mapped): from then on an empty byte does not prove
 * a block unknown. One byte, so that the common cases test both at once. */
#define SHADOW_ON 1
#define SHADOW_GAP 2
static _Atomic uint8_t shadow_mode;

void
cnt_use_shadow(void)
{
	atomic_store_explicit(&shadow_mode, SHADOW_ON, memory_order_relaxed);
}

static inline bool
in_shadow(uintptr_t p)
{
	return (atomic_load_explicit(&shadow_mode, memory_order_relaxed) &
		SHADOW_ON) &&
	       shadow_covers(p);
}

static inline bool
gap(void)
{
	return atomic_load_explicit(&shadow_mode, memory_order_relaxed) &
	       SHADOW_GAP;
}

/* Whether the table may hold a block at p whose grain byte is empty. */
static inline bool
unmarked_here(const struct shadow_spot *s)
{
	return (atomic_load_explicit(s->chunk, memory_order_relaxed) &
		CHUNK_UNMARKED) ||
	       gap();
}

/* The chunk's count of unmarked blocks += d (1 or -1), unless stuck. */
static void
count_unmarked(const struct shadow_spot *s, int d)
{
	uint8_t v = atomic_load_explicit(s->chunk, memory_order_relaxed);
	while ((v & CHUNK_UNMARKED) != CHUNK_UNMARKED &&
	       (d > 0 || (v & CHUNK_UNMARKED)) &&
	       !atomic_compare_exchange_weak_explicit(
		       s->chunk, &v, (uint8_t)(v + d), memory_order_relaxed,
		       memory_order_relaxed))
		;
}

/* A small block of n bytes at s, whose chunk byte read chunk. */
static inline void
put_small(const struct shadow_spot *s, size_t n, uint8_t chunk)
{
	atomic_store_explicit(s->grain, (uint8_t)(n + 1), memory_order_relaxed);
	if (unlikely(!(chunk & CHUNK_SMALL)))
		atomic_fetch_or_explicit(s->chunk, CHUNK_SMALL,
					 memory_order_relaxed);
	count_small(1);
}

/* Takes the small block whose grain byte at s read v. */
static inline struct cnt_held
take_small(const struct shadow_spot *s, uint8_t v)
{
	atomic_store_explicit(s->grain, 0, memory_order_relaxed);
	count_small(-1);
	return (struct cnt_held){ (size_t)v - 1, 0, true };
}

/* A block the table holds at p, found through an empty grain byte. */
static struct cnt_held
take_unmarked(uintptr_t p, const struct shadow_spot *s)
{
	struct cnt_held t = take(p, false);
	/* a block from a gap may have been counted nowhere: keep the count
	 * (only a cost: more lookups) */
	if (t.known && !gap())
		count_unmarked(s, -1);
	return t;
}

/* Takes p out of the shadow (or the table). */
static inline __attribute__((always_inline)) struct cnt_held
shadow_take(uintptr_t p)
{
	struct cnt_held none = { 0, 0, false };
	struct shadow_spot s;
	if (!shadow_find(p, false, &s))
		return gap() ? take(p, false) : none;
	uint8_t v = atomic_load_explicit(s.grain, memory_order_relaxed);
	if (!v)
		return unmarked_here(&s) ? take_unmarked(p, &s) : none;
	if (v != SHADOW_BIG)
		return take_small(&s, v);
	atomic_store_explicit(s.grain, 0, memory_order_relaxed);
	return take(p, false);
}

/* lt_insert() for the hooks, into the shadow where p has a byte. */
static inline __attribute__((always_inline)) bool
enter(uintptr_t p, size_t n, struct lt_entry *stale, bool *replaced)
{
	struct shadow_spot s;
	if (!in_shadow(p) || !shadow_find(p, true, &s)) {
		if (in_shadow(p))
			atomic_fetch_or_explicit(&shadow_mode, SHADOW_GAP,
						 memory_order_relaxed);
		return lt_insert(p, (struct lt_entry){ n, 0 }, stale, replaced,
				 false);
	}
	struct cnt_held old = shadow_take(p);
	*stale = (struct lt_entry){ old.size, 0 };
	*replaced = old.known;
	if (n <= SHADOW_SMALL_MAX) {
		put_small(&s, n,
			  atomic_load_explicit(s.chunk, memory_order_relaxed));
		return true;
	}
	struct lt_entry gone;
	bool was;
	if (!lt_insert(p, (struct lt_entry){ n, 0 }, &gone, &was, false))
		return false;
	stale->size += gone.size;
	*replaced = *replaced || was;
	if (atomic_load_explicit(s.chunk, memory_order_relaxed) & CHUNK_SMALL)
		atomic_store_explicit(s.grain, SHADOW_BIG,
				      memory_order_relaxed);
	else
		count_unmarked(&s, 1);
	return true;
}

/* take() for the hooks. */
static inline __attribute__((always_inline)) struct cnt_held
leave(uintptr_t p)
{
	return in_shadow(p) ? shadow_take(p) : take(p, false);
}

static __attribute__((noinline)) int
alloc_any(void *p, size_t n)
{
	struct lt_entry stale;
	bool replaced;
	if (enter((uintptr_t)p, n, &stale, &replaced)) {
		apply(n, stale.size);
		return !replaced;
	}
	/* an entry p replaced is gone all the same */
	apply(0, stale.size);
	lost();
	return 0;
}

static __attribute__((noinline)) bool
free_any(void *p)
{
	struct cnt_held h = leave((uintptr_t)p);
	if (h.known)
		apply(0, h.size);
	return h.known;
}

/* The shadow's common cases, a small block at a free byte and the free of
 * one, in a few instructions each; everything else takes the general path
 * (enter, leave). The whole of it inlined cost count mode 77 and 58
 * instructions a call on bench/churn, mostly saving registers. */
int
cnt_alloc(void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	struct shadow_spot s;
	if (likely(atomic_load_explicit(&shadow_mode, memory_order_relaxed) ==
			   SHADOW_ON &&
		   shadow_covers(a) && n <= SHADOW_SMALL_MAX &&
		   shadow_find(a, false, &s))) {
		uint8_t c = atomic_load_explicit(s.chunk, memory_order_relaxed);
		if (likely(!(c & CHUNK_UNMARKED) &&
			   !atomic_load_explicit(s.grain,
						 memory_order_relaxed))) {
			put_small(&s, n, c);
			apply(n, 0);
			return 1;
		}
	}
	return alloc_any(p, n);
}

bool
cnt_free(void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct shadow_spot s;
	if (likely(in_shadow(a) && shadow_find(a, false, &s))) {
		uint8_t v = atomic_load_explicit(s.grain, memory_order_relaxed);
		if (likely(v && v != SHADOW_BIG)) {
			apply(0, take_small(&s, v).size);
			return true;
		}
	}
	return free_any(p);
}

int
cnt_alloc_solo(void *p, size_t n, uint32_t tag, uint32_t *old_tag)
{
	struct lt_entry stale;
	bool replaced;
	if (lt_insert((uintptr_t)p, (struct lt_entry){ n, tag }, &stale,
		      &replaced, true)) {
		apply_solo(n, stale.size);
		*old_tag = stale.tag;
		return replaced ? 0 : 1;
	}
	lost();
	return -1;
}

struct cnt_held
cnt_free_solo(void *p)
{
	struct cnt_held h = take((uintptr_t)p, true);
	if (h.known)
		apply_solo(0, h.size);
	return h;
}

struct cnt_held
cnt_detach(void *old)
{
	struct cnt_held none = { 0, 0, false };
	return old ? leave((uintptr_t)old) : none;
}

void
cnt_realloc_done(void *old, struct cnt_held h, void *p, size_t n)
{
	size_t gone = h.known ? h.size : 0;
	struct lt_entry stale;
	bool replaced;
	if (!p && n != 0) {
		/* failed: old is still allocated and still counted */
		if (h.known &&
		    !enter((uintptr_t)old, h.size, &stale, &replaced)) {
			lost();
			apply(0, gone);
		}
		return;
	}
	if (!p) { /* realloc(old, 0) freed old */
		apply(0, gone);
		return;
	}
	if (enter((uintptr_t)p, n, &stale, &replaced)) {
		apply(n, gone + stale.size);
	} else {
		lost();
		apply(0, gone + stale.size);
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
	return atomic_load_explicit(&ctr.small, memory_order_relaxed) +
	       lt_blocks();
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
cnt_tag_blocks(void)
{
	lt_tag_blocks();
}

void
cnt_untag_solo(bool (*old)(void *ctx, uintptr_t p, uint32_t tag), void *ctx)
{
	lt_untag_solo(old, ctx);
}

void
cnt_prefetch(const void *p)
{
	lt_prefetch((uintptr_t)p);
}

void
cnt_lock_all(void)
{
	lt_lock_all();
}

void
cnt_unlock_all(void)
{
	lt_unlock_all();
}
