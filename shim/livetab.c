/* SPDX-License-Identifier: MIT */
/*
 * The table of live blocks behind the counters (count.c): pointer ->
 * size, and while a trace is recorded the block's tag. 256 shards, each
 * behind its own spin lock on its own cache line: a lock is held for a
 * few dozen instructions, and two threads rarely want the same shard.
 *
 * A shard has two open-addressing tables (linear probing, backward-shift
 * deletion, memory from mmap). The packed one holds nearly every block in
 * one 8-byte word: the pointer without its 4 low bits (glibc hands out
 * 16-byte aligned blocks below 2^48 on 64-bit targets) and the size in
 * the 20 bits left. The wide one, {pointer, size}, takes what does not
 * fit: blocks of 1 MiB or more, and pointers that are odd or high (another
 * allocator, the bootstrap arena). Big blocks are few, so the wide table
 * is usually empty and a lookup there costs one load of its count.
 *
 * While a trace is recorded, each entry also carries a 32-bit tag the
 * writer derives from the block's allocation number (lt_tag_blocks), so
 * that its free can name it by number: 4 bytes right behind the slot's
 * words, in the same cache line. Count mode does not pay for them.
 */
#include "livetab.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "attrs.h"
#include "mapmem.h"
#include "hb_assert.h"

#define SHARD_BITS 8
#define NSHARDS (1u << SHARD_BITS)
#define PAGE_BYTES 4096u /* a table starts as one page */

/* The packed word: pointer >> ALIGN_BITS above, size below; 0 is empty
 * (a non-NULL aligned pointer leaves a non-zero key). */
#define ALIGN_BITS 4
#define SIZE_BITS 20
#define SIZE_MASK ((UINT64_C(1) << SIZE_BITS) - 1)
#define PTR_BITS (64 - SIZE_BITS + ALIGN_BITS) /* 48 */

/* One table. Wide slots take two words {pointer, size}; the word that
 * holds the pointer is 0 when the slot is empty. A tagged table's slots
 * have the tag behind the words (stride()). Only touched under the
 * shard's lock. 32-bit counts keep a shard on one cache line: a shard
 * never grows past MAX_CAP slots (over 2^38 blocks in all). */
#define MAX_CAP (UINT32_C(1) << 31)

struct table {
	uint64_t *slots;
	uint32_t cap;	  /* slots, a multiple of RUN; 0: no table yet */
	uint32_t grow_at; /* entries that make the table grow */
	uint32_t used;
	bool tagged; /* each slot has a tag behind its words */
};

/* Set once by cnt_tag_blocks: tables made or grown from then on keep a
 * tag with each entry. */
static bool tagging;

struct shard {
	_Alignas(64) atomic_int lock;
	_Atomic size_t used; /* packed.used + wide.used, for the readers */
	struct table packed;
	struct table wide;
};

/* A lock, its table headers and the count a lookup needs: one line. */
_Static_assert(sizeof(struct shard) == 64, "a shard is one cache line");

static struct shard shards[NSHARDS];

static inline bool
ptr_packs(uintptr_t p)
{
	return !((uint64_t)p & ((1u << ALIGN_BITS) - 1)) &&
	       !((uint64_t)p >> PTR_BITS);
}

static inline bool
size_packs(size_t n)
{
	return (uint64_t)n <= SIZE_MASK;
}

/* Neighbours share cache lines: blocks allocated one after another sit
 * side by side in the heap, and are often freed together. So the hash
 * (Fibonacci) is of the 256-byte stretch of addresses a block starts in,
 * which picks the shard and a run of 16 slots; the block's 16-byte step
 * within the stretch is its slot in the run (its low 4 bits). At most 8
 * glibc chunks (32 bytes or more) start in a stretch, so a run holds them. */
#define RUN_BITS 4
#define RUN (1u << RUN_BITS)

static inline uint64_t
hash_ptr(uintptr_t p)
{
	uint64_t stretch = (uint64_t)p >> (ALIGN_BITS + RUN_BITS);
	return (stretch * 0x9e3779b97f4a7c15u & ~(uint64_t)(RUN - 1)) |
	       ((uint64_t)p >> ALIGN_BITS & (RUN - 1));
}

static inline struct shard *
shard_of(uint64_t h)
{
	return &shards[h >> (64 - SHARD_BITS)];
}

/* The slot an entry would occupy in an empty table: its run from 32 hash
 * bits below the shard's, scaled to the table's runs (a multiply, not a
 * mask: tables grow by half, not double), its place in the run from the
 * low bits. */
static inline size_t
home(const struct table *t, uint64_t h)
{
	uint64_t r = (h << SHARD_BITS) >> 32;
	return (size_t)((r * (t->cap >> RUN_BITS)) >> 32) << RUN_BITS |
	       (size_t)(h & (RUN - 1));
}

static inline size_t
next_slot(const struct table *t, size_t i)
{
	return i + 1 == t->cap ? 0 : i + 1;
}

/* Slot access. `wide` is a constant at every call site, so each table
 * gets its own straight-line code. A slot is its words (one packed, two
 * wide) and, in a tagged table, its tag right behind them: one cache line
 * holds both, where a separate tag array cost the writer a second miss
 * per lookup. */
static inline __attribute__((always_inline)) size_t
stride(const struct table *t, bool wide)
{
	return (wide ? 16 : 8) + (t->tagged ? sizeof(uint32_t) : 0);
}

static inline __attribute__((always_inline)) uint8_t *
slot_at(const struct table *t, size_t i, bool wide)
{
	return (uint8_t *)t->slots + i * stride(t, wide);
}

static inline __attribute__((always_inline)) uint64_t
word(const struct table *t, size_t i, bool wide, size_t k)
{
	uint64_t w;
	memcpy(&w, slot_at(t, i, wide) + 8 * k, sizeof w);
	return w;
}

static inline __attribute__((always_inline)) void
set_word(struct table *t, size_t i, bool wide, size_t k, uint64_t w)
{
	memcpy(slot_at(t, i, wide) + 8 * k, &w, sizeof w);
}

static inline __attribute__((always_inline)) uintptr_t
slot_ptr(const struct table *t, size_t i, bool wide)
{
	if (wide)
		return (uintptr_t)word(t, i, true, 0);
	return (uintptr_t)((word(t, i, false, 0) >> SIZE_BITS) << ALIGN_BITS);
}

static inline __attribute__((always_inline)) size_t
slot_size(const struct table *t, size_t i, bool wide)
{
	return wide ? (size_t)word(t, i, true, 1)
		    : (size_t)(word(t, i, false, 0) & SIZE_MASK);
}

static inline __attribute__((always_inline)) void
slot_set(struct table *t, size_t i, uintptr_t p, size_t n, bool wide)
{
	if (wide) {
		set_word(t, i, true, 0, (uint64_t)p);
		set_word(t, i, true, 1, (uint64_t)n);
	} else {
		hb_assert(ptr_packs(p) && size_packs(n));
		set_word(t, i, false, 0,
			 ((uint64_t)p >> ALIGN_BITS) << SIZE_BITS |
				 (uint64_t)n);
	}
}

static inline __attribute__((always_inline)) uint32_t
slot_tag(const struct table *t, size_t i, bool wide)
{
	uint32_t tag = 0;
	if (t->tagged)
		memcpy(&tag, slot_at(t, i, wide) + (wide ? 16 : 8), sizeof tag);
	return tag;
}

static inline __attribute__((always_inline)) void
slot_set_tag(struct table *t, size_t i, uint32_t tag, bool wide)
{
	if (t->tagged)
		memcpy(slot_at(t, i, wide) + (wide ? 16 : 8), &tag, sizeof tag);
}

static inline __attribute__((always_inline)) void
slot_move(struct table *t, size_t to, size_t from, bool wide)
{
	memcpy(slot_at(t, to, wide), slot_at(t, from, wide), stride(t, wide));
}

static inline __attribute__((always_inline)) void
slot_clear(struct table *t, size_t i, bool wide)
{
	set_word(t, i, wide, 0, 0);
}

static inline size_t
table_bytes(size_t cap, bool wide, bool tagged)
{
	return cap * (sizeof(uint64_t) * (wide ? 2 : 1) +
		      (tagged ? sizeof(uint32_t) : 0));
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
	hb_assert(atomic_load_explicit(&s->lock, memory_order_relaxed));
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* The slot that holds p, or the empty slot where p belongs. A packed
 * word holds p when it differs from p's key only in the size bits: one
 * xor and one compare per slot, no decoding. */
static inline __attribute__((always_inline)) size_t
probe(const struct table *t, uint64_t h, uintptr_t p, bool wide)
{
	size_t i = home(t, h);
	if (wide) {
		while (word(t, i, true, 0) &&
		       word(t, i, true, 0) != (uint64_t)p)
			i = next_slot(t, i);
		return i;
	}
	uint64_t key = ((uint64_t)p >> ALIGN_BITS) << SIZE_BITS;
	for (;;) {
		uint64_t w = word(t, i, false, 0);
		if (!w || (w ^ key) <= SIZE_MASK)
			return i;
		i = next_slot(t, i);
	}
}

static inline void
publish_used(struct shard *s)
{
	/* only under the lock: a plain store, atomic for the readers */
	atomic_store_explicit(&s->used, s->packed.used + s->wide.used,
			      memory_order_relaxed);
}

/* Grows the table by half when it is due (or makes the first one, one
 * page), else rebuilds it at its size with room for tags, which tagging
 * asks for. False when there is no memory for it; the old table is then
 * still in place. Growing by half rather than doubling keeps a table
 * between 1/2 and 3/4 full instead of 3/8 and 3/4: python-json's 2.2M
 * blocks took 48 MiB of tables while recording, 40 after. */
static __attribute__((noinline)) bool
remake(struct table *t, bool wide)
{
	bool tagged = t->tagged || tagging;
	size_t cap = PAGE_BYTES / table_bytes(1, wide, false);
	if (t->cap && t->used >= t->grow_at)
		cap = ((size_t)t->cap + t->cap / 2) & ~(size_t)(RUN - 1);
	else if (t->cap)
		cap = t->cap;
	if (cap > MAX_CAP)
		return false;
	hb_assert(cap % RUN == 0); /* home() picks whole runs */
	struct table n = { .slots = hb_map_filled(
				   table_bytes(cap, wide, tagged)),
			   .cap = (uint32_t)cap,
			   .used = t->used,
			   .tagged = tagged };
	if (!n.slots)
		return false;
	size_t moved = 0;
	for (size_t i = 0; i < t->cap; i++) {
		uintptr_t p = slot_ptr(t, i, wide);
		if (!p)
			continue;
		size_t j = probe(&n, hash_ptr(p), p, wide);
		hb_assert(!slot_ptr(&n, j, wide)); /* no pointer twice */
		slot_set(&n, j, p, slot_size(t, i, wide), wide);
		slot_set_tag(&n, j, slot_tag(t, i, wide), wide);
		moved++;
	}
	hb_assert(moved == t->used); /* used counts the entries */
	if (t->cap)
		munmap(t->slots, table_bytes(t->cap, wide, t->tagged));
	/* Linear probing stays short up to 3/4 full (an absent key scans
	 * about 8 slots, one or two cache lines of packed words). The wide
	 * table is rare and keeps 1/2. */
	n.grow_at = (uint32_t)(wide ? cap / 2 : cap / 4 * 3);
	*t = n;
	return true;
}

/* Room for one more entry in t: grows it when due. False when it is full
 * and cannot grow (a full table would make probe loop forever). */
static inline __attribute__((always_inline)) bool
room(struct table *t, bool wide)
{
	if (likely(t->used < t->grow_at && t->tagged == tagging) ||
	    remake(t, wide))
		return true;
	/* full, or cannot keep tags: the caller counts the block lost */
	return t->tagged == tagging && t->cap && t->used + 2 < t->cap;
}

/* Empties slot i and moves later entries of its probe run back into the
 * hole, so that lookups never need tombstones. */
static inline __attribute__((always_inline)) void
erase(struct table *t, size_t i, bool wide)
{
	for (size_t j = i;;) {
		j = next_slot(t, j);
		uintptr_t p = slot_ptr(t, j, wide);
		if (!p)
			break;
		size_t k = home(t, hash_ptr(p));
		/* The entry at j stays if its home lies cyclically in (i, j].
		 */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		slot_move(t, i, j, wide);
		i = j;
	}
	slot_clear(t, i, wide);
	hb_assert(t->used > 0);
	t->used--;
}

/* Removes p from t if it is there; its entry goes to *e. */
static inline __attribute__((always_inline)) bool
table_take(struct table *t, uint64_t h, uintptr_t p, struct lt_entry *e,
	   bool wide)
{
	if (!t->used)
		return false;
	size_t i = probe(t, h, p, wide);
	if (!slot_ptr(t, i, wide))
		return false;
	e->size = slot_size(t, i, wide);
	e->tag = slot_tag(t, i, wide);
	erase(t, i, wide);
	return true;
}

/* Enters p -> e in t, which has room. Returns whether p replaced an
 * entry, which goes to *old. */
static inline __attribute__((always_inline)) bool
table_put(struct table *t, uint64_t h, uintptr_t p, struct lt_entry e,
	  struct lt_entry *old, bool wide)
{
	size_t i = probe(t, h, p, wide);
	bool was = slot_ptr(t, i, wide) != 0;
	if (was) {
		old->size = slot_size(t, i, wide);
		old->tag = slot_tag(t, i, wide);
	} else {
		t->used++;
	}
	slot_set(t, i, p, e.size, wide);
	slot_set_tag(t, i, e.tag, wide);
	/* an empty slot is left: probe ends */
	hb_assert(t->used < t->cap);
	return was;
}

/* Enters p -> e. Returns false when the table is full and cannot grow;
 * *stale gets an entry that p replaced (a block whose free we never saw:
 * the replay drops it the same way) and *replaced whether there was one.
 * p is in at most one of the shard's tables: an entry in the other one is
 * taken out. */
bool
lt_insert(uintptr_t p, struct lt_entry e, struct lt_entry *stale,
	  bool *replaced, bool solo)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = shard_of(h);
	bool packs = ptr_packs(p) && size_packs(e.size), ok = true;
	*stale = (struct lt_entry){ 0, 0 };
	*replaced = false;
	if (!solo)
		lock(s);
	if (likely(packs)) {
		if (unlikely(!room(&s->packed, false))) {
			ok = false;
			goto out;
		}
		if (unlikely(s->wide.used))
			*replaced = table_take(&s->wide, h, p, stale, true);
		if (table_put(&s->packed, h, p, e, stale, false))
			*replaced = true;
	} else {
		if (!room(&s->wide, true)) {
			ok = false;
			goto out;
		}
		if (ptr_packs(p))
			*replaced = table_take(&s->packed, h, p, stale, false);
		if (table_put(&s->wide, h, p, e, stale, true))
			*replaced = true;
	}
	/* p is in one of the shard's tables only */
	hb_assert(packs ? !s->wide.used ||
				  !slot_ptr(&s->wide,
					    probe(&s->wide, h, p, true), true)
			: !ptr_packs(p) || !s->packed.used ||
				  !slot_ptr(&s->packed,
					    probe(&s->packed, h, p, false),
					    false));
	publish_used(s);
out:
	if (!solo)
		unlock(s);
	return ok;
}

bool
lt_take(uintptr_t p, bool solo, struct lt_entry *e)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = shard_of(h);
	*e = (struct lt_entry){ 0, 0 };
	if (!solo)
		lock(s);
	bool known = (ptr_packs(p) && table_take(&s->packed, h, p, e, false)) ||
		     table_take(&s->wide, h, p, e, true);
	if (known)
		publish_used(s);
	if (!solo)
		unlock(s);
	return known;
}

void
lt_tag_blocks(void)
{
	tagging = true;
}

/* Every entry of t whose tag old() says is stale is left without one. */
static void
untag_table(struct table *t, bool wide,
	    bool (*old)(void *, uintptr_t, uint32_t), void *ctx)
{
	if (!t->tagged || !t->used)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		uintptr_t p = slot_ptr(t, i, wide);
		uint32_t tag = slot_tag(t, i, wide);
		if (p && tag && old(ctx, p, tag))
			slot_set_tag(t, i, 0, wide);
	}
}

void
lt_untag_solo(bool (*old)(void *ctx, uintptr_t p, uint32_t tag), void *ctx)
{
	for (unsigned i = 0; i < NSHARDS; i++) {
		untag_table(&shards[i].packed, false, old, ctx);
		untag_table(&shards[i].wide, true, old, ctx);
	}
}

void
lt_prefetch(uintptr_t p)
{
	uint64_t h = hash_ptr(p);
	const struct table *t = &shard_of(h)->packed;
	if (t->cap)
		__builtin_prefetch(slot_at(t, home(t, h), false));
}

size_t
lt_blocks(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < NSHARDS; i++)
		n += atomic_load_explicit(&shards[i].used,
					  memory_order_relaxed);
	return n;
}

void
lt_lock_all(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		lock(&shards[i]);
}

void
lt_unlock_all(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		unlock(&shards[i]);
}
