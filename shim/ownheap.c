/* SPDX-License-Identifier: MIT */
/*
 * The shim's own heap (ownheap.h says why). Small blocks come in power-of-
 * two classes from 1 MiB chunks and go back to a free list; large ones
 * are mappings of their own. Every mapping starts on a 1 MiB boundary and
 * is entered, granule by granule, in a table that free() consults for a
 * pointer inside the heap's span.
 */
#include "ownheap.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define GRANULE_SHIFT 20
#define GRANULE ((size_t)1 << GRANULE_SHIFT)
#define HDR 16u
/* Class c holds blocks of MIN_BLOCK << c bytes, header included. */
#define MIN_BLOCK 32u
#define NCLASS 13 /* up to 128 KiB; larger blocks are mapped alone */
#define LARGE_CLASS 0xffffu
/* The table of granules: 8192 slots, for up to 6 GiB of heap. */
#define REG_BITS 13
#define REG_SLOTS ((size_t)1 << REG_BITS)
#define REG_TOMB ((uintptr_t)2)

_Atomic uintptr_t own_lo = UINTPTR_MAX, own_hi;

struct hdr {
	size_t bytes; /* the block's, header included; large: the mapping's */
	size_t cls;   /* its class, or LARGE_CLASS */
};

static atomic_flag lock = ATOMIC_FLAG_INIT;
static void *free_list[NCLASS];
static uint8_t *bump, *bump_end; /* the current chunk's unused part */
static _Atomic size_t mapped;
static _Atomic uintptr_t reg[REG_SLOTS];
static size_t reg_used; /* slots not empty (keys and tombstones); locked */

static void
heap_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
		sched_yield();
}

static void
heap_unlock(void)
{
	atomic_flag_clear_explicit(&lock, memory_order_release);
}

static size_t
reg_hash(uintptr_t gid)
{
	return (size_t)((gid * 0x9e3779b97f4a7c15ull) >> (64 - REG_BITS));
}

static uintptr_t
reg_key(uintptr_t gid)
{
	return gid << 1 | 1;
}

bool
own_owns_slow(uintptr_t a)
{
	uintptr_t key = reg_key(a >> GRANULE_SHIFT);
	for (size_t i = reg_hash(a >> GRANULE_SHIFT), n = 0; n < REG_SLOTS;
	     i = (i + 1) & (REG_SLOTS - 1), n++) {
		uintptr_t k =
			atomic_load_explicit(&reg[i], memory_order_acquire);
		if (k == key)
			return true;
		if (!k)
			return false;
	}
	return false;
}

/* Enters granules [base, base + len); locked. False when the table is
 * too full to stay fast. */
static bool
reg_add(uintptr_t base, size_t len)
{
	size_t n = len >> GRANULE_SHIFT;
	if (reg_used + n > REG_SLOTS / 2)
		return false;
	for (size_t g = 0; g < n; g++) {
		uintptr_t gid = (base >> GRANULE_SHIFT) + g;
		size_t i = reg_hash(gid);
		for (;;) {
			uintptr_t k = atomic_load_explicit(
				&reg[i], memory_order_relaxed);
			if (!k || k == REG_TOMB)
				break;
			i = (i + 1) & (REG_SLOTS - 1);
		}
		if (!atomic_load_explicit(&reg[i], memory_order_relaxed))
			reg_used++;
		atomic_store_explicit(&reg[i], reg_key(gid),
				      memory_order_release);
	}
	uintptr_t lo = atomic_load(&own_lo), hi = atomic_load(&own_hi);
	if (base < lo)
		atomic_store(&own_lo, base);
	if (base + len > hi)
		atomic_store(&own_hi, base + len);
	return true;
}

/* Takes granules [base, base + len) out again; locked. */
static void
reg_remove(uintptr_t base, size_t len)
{
	for (size_t g = 0; g < len >> GRANULE_SHIFT; g++) {
		uintptr_t gid = (base >> GRANULE_SHIFT) + g, key = reg_key(gid);
		for (size_t i = reg_hash(gid);; i = (i + 1) & (REG_SLOTS - 1)) {
			uintptr_t k = atomic_load_explicit(
				&reg[i], memory_order_relaxed);
			if (!k)
				break;
			if (k == key) {
				atomic_store_explicit(&reg[i], REG_TOMB,
						      memory_order_release);
				break;
			}
		}
	}
}

/* len bytes (a multiple of GRANULE) of fresh memory starting on a granule
 * boundary, entered in the table; locked. */
static void *
map_granules(size_t len)
{
	size_t over = len + GRANULE;
	uint8_t *m = mmap(NULL, over, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	uintptr_t base = ((uintptr_t)m + GRANULE - 1) & ~(GRANULE - 1);
	size_t head = base - (uintptr_t)m;
	if (head)
		munmap(m, head);
	if (over - head > len)
		munmap((uint8_t *)base + len, over - head - len);
	if (!reg_add(base, len)) {
		munmap((void *)base, len);
		return NULL;
	}
	atomic_fetch_add(&mapped, len);
	return (void *)base;
}

static unsigned
class_of(size_t total)
{
	unsigned c = 0;
	while (((size_t)MIN_BLOCK << c) < total)
		c++;
	return c;
}

/* A block of class c; locked. */
static struct hdr *
small_take(unsigned c)
{
	size_t bytes = (size_t)MIN_BLOCK << c;
	if (free_list[c]) {
		struct hdr *h = free_list[c];
		memcpy(&free_list[c], h + 1, sizeof(void *));
		return h;
	}
	if ((size_t)(bump_end - bump) < bytes) {
		uint8_t *chunk = map_granules(GRANULE);
		if (!chunk)
			return NULL;
		bump = chunk;
		bump_end = chunk + GRANULE;
	}
	struct hdr *h = (struct hdr *)bump;
	bump += bytes;
	h->bytes = bytes;
	h->cls = c;
	return h;
}

void *
own_malloc(size_t n)
{
	if (n > SIZE_MAX - GRANULE - HDR) {
		errno = ENOMEM;
		return NULL;
	}
	size_t total = n + HDR;
	struct hdr *h;
	heap_lock();
	if (total <= ((size_t)MIN_BLOCK << (NCLASS - 1))) {
		h = small_take(class_of(total));
	} else {
		size_t len = (total + GRANULE - 1) & ~(GRANULE - 1);
		h = map_granules(len);
		if (h) {
			h->bytes = len;
			h->cls = LARGE_CLASS;
		}
	}
	heap_unlock();
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	return h + 1;
}

void *
own_calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = own_malloc(n);
	if (p) {
		struct hdr *h = (struct hdr *)p - 1;
		/* a fresh mapping is zero already */
		if (h->cls != LARGE_CLASS)
			memset(p, 0, n);
	}
	return p;
}

size_t
own_usable_size(const void *p)
{
	const struct hdr *h = (const struct hdr *)p - 1;
	return h->bytes - HDR;
}

void
own_free(void *p)
{
	struct hdr *h = (struct hdr *)p - 1;
	heap_lock();
	if (h->cls == LARGE_CLASS) {
		size_t len = h->bytes;
		reg_remove((uintptr_t)h, len);
		munmap(h, len);
		atomic_fetch_sub(&mapped, len);
	} else {
		memcpy(p, &free_list[h->cls], sizeof(void *));
		free_list[h->cls] = h;
	}
	heap_unlock();
}

void *
own_realloc(void *p, size_t n)
{
	if (!p)
		return own_malloc(n);
	size_t have = own_usable_size(p);
	if (n <= have && n >= have / 4)
		return p;
	void *q = own_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, n < have ? n : have);
	own_free(p);
	return q;
}

size_t
own_mapped(void)
{
	return atomic_load(&mapped);
}

void
own_fork_prepare(void)
{
	heap_lock();
}

void
own_fork_parent(void)
{
	heap_unlock();
}

void
own_fork_child(void)
{
	heap_unlock();
}
