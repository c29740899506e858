/* SPDX-License-Identifier: MIT */
/*
 * The hot path: per-thread ring lookup and the order protocol. Each event
 * takes a key from one global counter (an allocation after the real call
 * returned, a free before the real free) and announces a lower bound of it
 * in its ring's `pending` word until it is pushed, so the writer can compute
 * a watermark below which every event is already in some ring (writer.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "attrs.h"
#include "backtrace.h"
#include "clock.h"
#include "config.h"
#include "event.h"
#include "guard.h"
#include "lifecycle.h"
#include "ring.h"
#include "signals.h"
#include "unwind.h"

HB_TLS int hb_guard;
HB_TLS uintptr_t hb_guard_sp;
static HB_TLS struct ring *tls_ring;
static HB_TLS int tls_exiting; /* the ring was handed back: pass through */
static HB_TLS int tls_dtor_rounds;

_Atomic uint64_t hb_order;
static struct ring *_Atomic ring_list;
static pthread_key_t ring_key;
static int ring_key_ok;
static _Atomic uint64_t hb_dropped_;

uint64_t
hb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct ring *
event_rings(void)
{
	return atomic_load_explicit(&ring_list, memory_order_acquire);
}

void
event_missed(void)
{
	atomic_fetch_add_explicit(&hb_dropped_, 1, memory_order_relaxed);
}

uint64_t
event_dropped(void)
{
	return atomic_load_explicit(&hb_dropped_, memory_order_relaxed);
}

/* Runs in the exiting thread after C++ thread_local destructors. Re-arms
 * itself so that other keys' destructors, which may run in later rounds,
 * are still recorded; in the last round the ring goes back to the writer. */
static void
ring_dtor(void *v)
{
	if (++tls_dtor_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
		pthread_setspecific(ring_key, v);
		return;
	}
	struct ring *r = tls_ring;
	tls_exiting = 1;
	tls_ring = NULL;
	if (r) {
		ring_key_done(r); /* in case a cancellation unwound a hook */
		atomic_store_explicit(&r->state, RING_DEAD,
				      memory_order_release);
	}
	sig_thread_exit(); /* the crash handler's stack (signals.h) */
}

void
event_init(void)
{
	if (pthread_key_create(&ring_key, ring_dtor) == 0)
		ring_key_ok = 1;
}

static struct ring *
ring_claim(void)
{
	struct ring *r;
	for (r = event_rings(); r; r = atomic_load(&r->next)) {
		int f = RING_FREE;
		if (atomic_load_explicit(&r->state, memory_order_relaxed) ==
			    RING_FREE &&
		    atomic_compare_exchange_strong(&r->state, &f, RING_ACTIVE))
			goto got;
	}
	void *m = mmap(NULL, sizeof(struct ring), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	r = m;
	if (ring_init(r, HB_RING_SIZE) != 0) {
		munmap(m, sizeof(struct ring));
		return NULL;
	}
	r->cap_max = HB_RING_MAX;
	atomic_store(&r->state, RING_ACTIVE);
	struct ring *head = atomic_load(&ring_list);
	do
		atomic_store_explicit(&r->next, head, memory_order_relaxed);
	while (!atomic_compare_exchange_weak(&ring_list, &head, r));
got:
	sig_thread_start(); /* the crash handler's stack (signals.h) */
	r->tid = (uint64_t)gettid();
	r->name[0] = 0;
	prctl(PR_GET_NAME, r->name, 0, 0, 0);
	r->name[15] = 0;
	atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
	if (ring_key_ok)
		pthread_setspecific(ring_key, r);
	return r;
}

struct ring *
event_ring(void)
{
	struct ring *r = tls_ring;
	if (likely(r))
		return r;
	if (tls_exiting)
		return NULL;
	/* a fork child's trace begins with its first event */
	hb_start_deferred();
	return tls_ring = ring_claim();
}

void
event_forked(void)
{
	/* The rings hold the parent's unwritten events and belong to threads
	 * the child does not have: unmap them. Not this thread's own, which a
	 * signal handler that forked may still be pushing to once it returns
	 * into the hook it interrupted: that one is only dropped from the list
	 * (the child writes nothing of it). */
	struct ring *r = atomic_exchange(&ring_list, NULL);
	while (r) {
		struct ring *next = atomic_load(&r->next);
		if (r != tls_ring) {
			ring_destroy(r);
			munmap(r, sizeof(*r));
		}
		r = next;
	}
	tls_ring = NULL;
	atomic_store(&hb_dropped_, 0);
}

static inline uint64_t
key_take(struct ring *r)
{
	return ring_key_take(r, &hb_order);
}

/* Room for records of n bytes in all, made before their key is taken
 * (ring_room says why); false, with the events counted as dropped, when
 * there is none to be had. */
static inline bool
room_for(struct ring *r, size_t n, unsigned events)
{
	if (likely(ring_room(r, n) == 0))
		return true;
	atomic_fetch_add_explicit(&hb_dropped_, events, memory_order_relaxed);
	return false;
}

/* The most an allocation's record takes: no frame shared. */
static inline size_t
alloc_record_max(unsigned nframes)
{
	return sizeof(struct ev) + nframes * sizeof(uint64_t);
}

static inline void
key_done(struct ring *r)
{
	ring_key_done(r);
}

/* struct ev's last word: its four 16-bit fields. */
static inline uint64_t
ev_meta(unsigned kind, unsigned fn, unsigned nframes, unsigned shared)
{
	_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&
			       offsetof(struct ev, kind) == 32 &&
			       offsetof(struct ev, fn) == 34 &&
			       offsetof(struct ev, nframes) == 36 &&
			       offsetof(struct ev, shared) == 38 &&
			       sizeof(struct ev) == 40,
		       "struct ev: four words, then four 16-bit fields, "
		       "low to high");
	return (uint64_t)(uint16_t)kind | (uint64_t)(uint16_t)fn << 16 |
	       (uint64_t)(uint16_t)nframes << 32 |
	       (uint64_t)(uint16_t)shared << 48;
}

static inline void
put_word(uint8_t *d, uint64_t w)
{
	memcpy(d, &w, sizeof w);
}

/* Pushes the event whose struct ev words are key, time, ptr, size and meta
 * (ev_meta), and its frames ips[0..nf) behind them. The words go straight
 * from registers into the ring where they do not wrap. A struct ev built
 * on the stack and copied was stored 8 and 2 bytes at a time and loaded
 * back 16 at a time, which store forwarding cannot serve: the copy waited
 * for the stores to retire (python-json: two fifths of event_free's
 * samples on that load). */
static inline bool
push(struct ring *r, uint64_t key, uint64_t time, uint64_t ptr, uint64_t size,
     uint64_t meta, void *const *ips, size_t nf)
{
	_Static_assert(sizeof(void *) == sizeof(uint64_t), "frames are u64");
	size_t hn = sizeof(struct ev), bn = nf * sizeof(uint64_t);
	uint64_t tail;
	if (ring_reserve(r, hn + bn, &tail)) {
		atomic_fetch_add_explicit(&hb_dropped_, 1,
					  memory_order_relaxed);
		return false;
	}
	size_t off = (size_t)(tail & (r->cap - 1));
	if (off + hn <= r->cap) {
		uint8_t *d = r->buf + off;
		put_word(d, key);
		put_word(d + 8, time);
		put_word(d + 16, ptr);
		put_word(d + 24, size);
		put_word(d + 32, meta);
	} else {
		uint64_t w[5] = { key, time, ptr, size, meta };
		ring_put(r, tail, w, hn);
	}
	if (bn)
		ring_put(r, tail + hn, ips, bn);
	ring_publish(r, tail + hn + bn);
	return true;
}

static inline void
push_free(struct ring *r, uint64_t key, uint64_t time, void *p)
{
	push(r, key, time, (uint64_t)(uintptr_t)p, 0, ev_meta(EV_FREE, 0, 0, 0),
	     NULL, 0);
}

/* How many outermost frames of ips[0..n) the ring's previous stack ends
 * with. When the previous stack is the unwinder's previous walk, the
 * frames the unwinder took over from it are known to match: the compare
 * starts after them. */
static inline unsigned
shared_outer(const struct ring *r, void *const *ips, unsigned n,
	     const struct uw_reuse *reuse)
{
	const uint64_t *prev = r->prev_ips + RING_STACK_MAX;
	unsigned k = 0, m = r->prev_n;
	if (reuse->walk && reuse->walk == r->prev_walk + 1) {
		k = reuse->same_outer;
		k = k < n ? k : n;
		k = k < m ? k : m;
	}
	while (k < n && k < m &&
	       (uint64_t)(uintptr_t)ips[n - 1 - k] == prev[-1 - (int)k])
		k++;
	return k;
}

/* Pushes an allocation with the stack ips[0..n): only the frames that
 * differ from the previous one travel; the writer has the rest. */
static void
push_alloc(struct ring *r, uint64_t key, uint64_t time, uint64_t ptr,
	   uint64_t size, unsigned fn, void *const *ips, unsigned n,
	   const struct uw_reuse *reuse)
{
	unsigned k = shared_outer(r, ips, n, reuse);
	if (!push(r, key, time, ptr, size, ev_meta(EV_ALLOC, fn, n - k, k), ips,
		  n - k))
		return; /* the writer never sees it: keep the old stack */
	uint64_t *to = r->prev_ips + RING_STACK_MAX - n;
	for (unsigned i = 0; i < n - k; i++)
		to[i] = (uint64_t)(uintptr_t)ips[i];
	r->prev_n = n;
	r->prev_walk = reuse->walk;
}

void
event_alloc(void *p, size_t n, unsigned fn, const void *caller)
{
	struct ring *r = event_ring();
	if (!r)
		return;
	int saved = errno;
	void *buf[hb_cfg.depth + BT_SLACK];
	int first;
	struct uw_reuse reuse;
	unsigned nf = (unsigned)bt_capture(buf, hb_cfg.depth, &first,
					   &r->uw_memo, caller, &reuse);
	if (!room_for(r, alloc_record_max(nf), 1)) {
		errno = saved;
		return;
	}
	uint64_t key = key_take(r);
	push_alloc(r, key, clk_event_raw(), (uint64_t)(uintptr_t)p, n, fn,
		   buf + first, nf, &reuse);
	key_done(r);
	errno = saved;
}

void
event_free(void *p)
{
	struct ring *r = event_ring();
	if (!r)
		return;
	int saved = errno;
	if (!room_for(r, sizeof(struct ev), 1)) {
		errno = saved;
		return;
	}
	uint64_t key = key_take(r);
	push_free(r, key, clk_event_raw(), p);
	key_done(r);
	errno = saved;
}

void
event_realloc_begin(struct realloc_state *st)
{
	st->ring = event_ring();
	if (!st->ring)
		return;
	int saved = errno;
	st->nframes = bt_capture(st->buf, hb_cfg.depth, &st->first,
				 &st->ring->uw_memo, st->caller, &st->reuse);
	/* the free and the allocation: whichever of them the call makes */
	if (!room_for(st->ring,
		      sizeof(struct ev) +
			      alloc_record_max((unsigned)st->nframes),
		      1)) {
		st->ring = NULL;
		errno = saved;
		return;
	}
	st->key = key_take(st->ring);
	errno = saved;
}

void
event_realloc_end(struct realloc_state *st, void *old, void *p, size_t n,
		  unsigned fn)
{
	struct ring *r = st->ring;
	if (!r)
		return;
	int saved = errno;
	if (!p && n != 0) {
		/* failed: old is still allocated; the key stays unused */
		key_done(r);
		errno = saved;
		return;
	}
	uint64_t t = clk_event_raw();
	if (old) {
		push_free(r, st->key, t, old);
	}
	if (p) {
		push_alloc(r, ring_key_next(r, &hb_order), t,
			   (uint64_t)(uintptr_t)p, n, fn, st->buf + st->first,
			   (unsigned)st->nframes, &st->reuse);
	}
	key_done(r);
	errno = saved;
}

void
event_mark(const char *label)
{
	struct ring *r = event_ring();
	if (!r)
		return;
	int saved = errno;
	uint64_t words[(HB_MARK_MAX + 7) / 8] = { 0 };
	size_t n = 0;
	while (label && n < HB_MARK_MAX && label[n]) {
		((char *)words)[n] = label[n];
		n++;
	}
	size_t nw = (n + 7) / 8;
	if (!room_for(r, sizeof(struct ev) + nw * 8, 1)) {
		errno = saved;
		return;
	}
	uint64_t key = key_take(r);
	push(r, key, clk_event_raw_exact(), 0, n, ev_meta(EV_MARK, 0, nw, 0),
	     (void *const *)words, nw);
	key_done(r);
	errno = saved;
}
