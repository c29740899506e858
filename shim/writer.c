/* SPDX-License-Identifier: MIT */
/*
 * The writer thread: drains every ring, merges the events by order key,
 * interns stacks, announces modules and threads, encodes and writes blocks.
 *
 * Ordering (ring.h has the primitives, tests/unit/test_ring.c checks them):
 * a thread stores pending = c + 2, c a lower bound of its next key, takes
 * its key k >= c with a fetch_add (release), pushes, and clears pending
 * (release). A drain reads g = hb_order first (acquire), then each ring's
 * pending word, then its tail. A key k < g was taken before g was read, so
 * its pending store is visible: either still there (and w <= c <= k) or
 * cleared after the push, which the tail then shows. So every key below the
 * watermark w = min(g, pending bounds) is in a ring we can see and none can
 * appear later; each ring is in key order, so a k-way merge of the events
 * below w emits them in true order. A thread waiting on a full ring holds
 * no key (ring_room), so a drain always makes room; realloc's second key
 * (ring_key_next) stores a new bound, past its first event, before it is
 * taken.
 *
 * While recording, the live counters (count.c) are kept here rather than
 * in the hooks: every drained event is counted in key order, the order the
 * replay uses, and the hot path does no lookup in a table as large as the
 * live set. writer_settle lets a reader of the counters wait for the
 * events taken before it asked.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compressor.h"
#include "encode.h"
#include "guard.h"
#include "lastthread.h"
#include "own_thread.h"
#include "ownheap.h"
#include "runlog.h"
#include "stacktab.h"
#include "heldby/trace.h"
#include "seqtag.h"
#include "shim.h"
#include "tracefile.h"
#include "unwind.h"

/* Each of the two raw buffers: the writer encodes into one while the
 * compressor has the other. */
#define RAW_CAP (4u << 20)
/* Of RAW_CAP, for the block's time table: an entry a millisecond, of 3 to
 * 5 bytes, and a block is written every HELDBY_FLUSH_MS (200) at least. */
#define TIME_TABLE_BYTES (64u << 10)
/* Drain at least this often while events flow; a full ring wakes the
 * writer. */
#define DRAIN_NS 5000000L

static struct tfile tf;
static int tf_ok;
static struct enc enc;
static uint64_t start_mono, start_real;
static struct clk_cal cal; /* event times to ns (clock.h) */
static pthread_t w_thread;
static _Atomic int w_running, w_quit, w_done, w_finishing;
static _Atomic uint64_t sync_req, sync_done;
static _Atomic uint64_t settle_req, settle_done;
static uint64_t n_events;
/* Held by the writer while it drains, and by a forking thread (atfork).
 * The drain goes inside the loader (dl_iterate_phdr holds
 * dl_load_write_lock, which glibc's fork (2.36, sysdeps/nptl/fork.c) does
 * not reset in the child, so a child forked meanwhile would deadlock in
 * its first dl_iterate_phdr), and the child must find every event either
 * counted and consumed or still in its ring (writer_count_leftovers). */
static pthread_mutex_t w_fork_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- stack interning (stacktab.c) ---- */

static struct stacktab stk;
static int stk_ok;

static int flush_block(void);

/* Writes a record, flushing the block first when it is full. True when
 * written. */
#define EMIT(call) (!!((call) == 0 || (flush_block() == 0 && (call) == 0)))

/* MODULE and MODULE_UNLOAD records, for mod_refresh and mod_need. */
static int
emit_mod(void *ctx, int unload, uint64_t id, uint64_t bias, size_t nranges,
	 const uint64_t *starts, const uint64_t *lens, const char *path,
	 const uint8_t *bid, size_t bidlen)
{
	(void)ctx;
	if (unload)
		return EMIT(enc_module_unload(&enc, id)) ? 0 : -1;
	return EMIT(enc_module(&enc, id, bias, nranges, starts, lens, path, bid,
			       bidlen))
		       ? 0
		       : -1;
}

/* The innermost node of the stack ips[0..n) (innermost first), writing the
 * NODE records of any node not seen before; 0: no stack. */
static uint64_t
stack_intern(const uint64_t *ips, int n)
{
	if (n <= 0 || !stk_ok)
		return 0;
	struct st_hash h = st_hash(ips, n);
	uint64_t id = st_cached(&stk, h, n);
	if (id)
		return id;
	uint64_t parent = 0;
	for (int i = n - 1; i >= 0; i--) {
		bool fresh;
		id = st_node(&stk, parent, ips[i], &fresh);
		if (!id)
			return 0;
		if (fresh && (mod_need(ips[i], emit_mod, NULL) != 0 ||
			      !EMIT(enc_node_ip(&enc, id, parent, ips[i]))))
			return 0;
		parent = id;
	}
	st_remember(&stk, h, n, id);
	return id;
}

/* ---- output ---- */

static void
write_failed(int err)
{
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "heldby: writing the trace failed (%s); recording stopped\n",
		 strerror(-err));
	hb_warn(msg);
	tf_ok = 0;
	clk_untick();
	/* The hooks count from now on; this thread counts what the rings
	 * already hold. */
	atomic_store(&hb_counting, 1);
	atomic_store(&hb_state, HB_STOPPED);
	atomic_store(&ring_stop, 1);
}

/* Both raw buffers, one mapping; enc.buf is one of them. */
static uint8_t *raw_bufs;

/* Hands the block to the compressor and goes on in the other buffer. */
static int
flush_block(void)
{
	if (enc.len && tf_ok) {
		int err = compressor_submit(enc.buf, enc_finish(&enc));
		if (err)
			write_failed(err);
		enc.buf = enc.buf == raw_bufs ? raw_bufs + RAW_CAP : raw_bufs;
	}
	enc_clear(&enc);
	return tf_ok ? 0 : -1;
}

/* flush_block, and every block is in the file when it returns. */
static void
flush_and_wait(void)
{
	flush_block();
	int err = compressor_wait();
	if (err && tf_ok)
		write_failed(err);
}

/* ---- drain and merge ---- */

/* How many events ahead of the one being written the writer prefetches
 * the table slots of: with millions of live blocks (python-json) each
 * lookup would otherwise wait on memory, and the program on a full ring. */
#define AHEAD 8

/* q holds the event at pos (e points to it) and up to AHEAD read after
 * it: reading ahead never overwrites the event being written. */
#define QLEN (2 * AHEAD)
_Static_assert((QLEN & (QLEN - 1)) == 0 && QLEN > AHEAD, "q: a power of 2");

struct cur {
	struct ring *r;
	uint64_t pos, tail;
	unsigned since;
	const struct ev *e; /* the event at pos, in q */
	uint64_t ahead_pos; /* the next event to read ahead */
	unsigned ahead;	    /* events read ahead of pos, kept in q */
	unsigned qh;	    /* q's slot of the event at pos */
	struct ev q[QLEN];
};
static struct cur *curs;
static size_t ccurs;
static struct cur **act;

static void prefetch_slots(const struct ev *e);

static void
read_ahead(struct cur *c)
{
	while (c->ahead < AHEAD &&
	       c->ahead_pos + sizeof(struct ev) <= c->tail) {
		struct ev *e = &c->q[(c->qh + 1 + c->ahead) % QLEN];
		ring_read(c->r, c->ahead_pos, e, sizeof(*e));
		prefetch_slots(e);
		c->ahead_pos += sizeof(*e) + e->nframes * sizeof(uint64_t);
		c->ahead++;
	}
}

static int
cur_peek(struct cur *c, uint64_t w)
{
	if (c->pos + sizeof(struct ev) > c->tail)
		return 0;
	if (c->ahead) { /* read ahead already: not again from the ring */
		c->qh = (c->qh + 1) % QLEN;
		c->ahead--;
	} else {
		ring_read(c->r, c->pos, &c->q[c->qh], sizeof(struct ev));
		c->ahead_pos = c->pos + sizeof(struct ev) +
			       c->q[c->qh].nframes * sizeof(uint64_t);
	}
	c->e = &c->q[c->qh];
	read_ahead(c);
	return c->e->key < w;
}

/* ---- events: frees name their allocation by number ---- */

static void
prefetch_slots(const struct ev *e)
{
	if (e->kind == EV_ALLOC || e->kind == EV_FREE)
		cnt_prefetch((const void *)(uintptr_t)e->ptr);
}

/* The counters' table keeps each live block's allocation number, as a
 * tag (seqtag.h). Numbers go on across the traces of one process, so a
 * block numbered below first_seq was entered for an earlier trace (the
 * parent's, in a fork child) and this one never named it. */
static uint64_t first_seq;

/* Allocations that replaced a live block in the counters' table, and
 * LOST records written: the replay drops a block whose address came back
 * only by a LOST record, so the writer's counts are the replay's only
 * while the two agree. */
static uint64_t sum_replaced, sum_lost;

/* What counting an event found: the number of the block a free released
 * or an allocation replaced (0: none this trace named), and whether an
 * allocation went into the table. */
struct counted {
	uint64_t num;
	bool entered;
};

static void
emit_alloc(uint64_t t, uint64_t size, uint64_t ptr, uint64_t stack, unsigned fn,
	   struct counted k)
{
	uint64_t seq;
	if (!EMIT(enc_alloc_seq(&enc, t, size, stack, fn, &seq)))
		return;
	if (!k.entered) /* not in the table: its free will name the address */
		(void)EMIT(enc_addr(&enc, seq, ptr));
	if (k.num) { /* it took the address of a block whose free went unseen */
		(void)EMIT(enc_lost(&enc, k.num));
		sum_lost++;
	}
}

static void
emit_free(uint64_t t, uint64_t ptr, struct counted k)
{
	if (k.num)
		(void)EMIT(enc_free_seq(&enc, t, k.num));
	else
		(void)EMIT(enc_free_addr(&enc, t, ptr));
}

/* What a replay of this trace will find (HELDBY_REC_SUMMARY), valid while
 * sum_ok: the counters' table was empty when the trace began and nothing
 * was left out of it since. */
static struct enc_summary sum;
static uint64_t sum_blocks;
static bool sum_ok;

/* The number of the block with this tag, 0 when this trace has none. */
static uint64_t
named(uint32_t tag)
{
	if (!tag)
		return 0;
	uint64_t seq = seqtag_seq(tag, enc.next_seq);
	return seq >= first_seq ? seq : 0;
}

static bool
untag_if_old(void *ctx, uintptr_t p, uint32_t tag)
{
	(void)ctx;
	uint64_t seq = named(tag);
	if (seq && enc.next_seq - seq < SEQTAG_SPAN)
		return false;
	if (seq) /* from now on its free names its address */
		(void)EMIT(enc_addr(&enc, seq, (uint64_t)p));
	return true;
}

/* Keeps every tag younger than 2 * SEQTAG_SPAN allocations (seqtag.h):
 * once every SEQTAG_SPAN, about two minutes at 15M allocations a second,
 * a pass over the table. */
static void
untag_old_blocks(void)
{
	if (enc.next_seq % SEQTAG_SPAN == 0)
		cnt_untag_solo(untag_if_old, NULL);
}

/* The hooks count only once recording stopped, which this thread does
 * itself (write_failed) or which happens after it finished: until then it
 * is the table's only writer and skips the locks. While recording, an
 * allocation enters the table with the number its ALLOC_SEQ record is
 * about to take. */
static struct counted
count_event(const struct ev *e)
{
	struct counted k = { 0, true };
	void *p = (void *)(uintptr_t)e->ptr;
	bool solo = !atomic_load_explicit(&hb_counting, memory_order_relaxed);
	if (e->kind == EV_ALLOC) {
		sum.alloc_calls++;
		uint32_t old = 0, tag = 0;
		if (solo && tf_ok) {
			untag_old_blocks();
			tag = seqtag_of(enc.next_seq);
		}
		int added = solo ? cnt_alloc_solo(p, (size_t)e->size, tag, &old)
				 : cnt_alloc(p, (size_t)e->size);
		sum_blocks += added > 0;
		sum_replaced += added <= 0;
		k.entered = added >= 0;
		k.num = named(old);
	} else if (e->kind == EV_FREE) {
		sum.free_calls++;
		if (solo) {
			struct cnt_held h = cnt_free_solo(p);
			sum_blocks -= h.known;
			k.num = named(h.tag);
		} else {
			sum_blocks -= cnt_free(p);
		}
	}
	return k;
}

/* After an allocation was written: a new peak happens at the time the
 * reader will give that record. */
static void
note_peak(void)
{
	size_t cur = cnt_current();
	if (cur > sum.peak_bytes) {
		sum.peak_bytes = cur;
		sum.peak_blocks = sum_blocks;
		sum.peak_time = enc.prev_time;
	}
}

/* The whole stack of the allocation event e at pos: its own frames go in
 * front of the outer ones it shares with the ring's previous stack, in the
 * ring's copy, which becomes the previous stack. Returns its frames, *n
 * of them. */
static const uint64_t *
ring_stack(struct ring *r, uint64_t pos, const struct ev *e, int *n)
{
	unsigned own = e->nframes, k = e->shared;
	if (k > r->w_prev_n) /* cannot happen: the two copies agree */
		k = r->w_prev_n;
	if (own + k > RING_STACK_MAX)
		own = RING_STACK_MAX - k;
	uint64_t *to = r->w_prev_ips + RING_STACK_MAX - (own + k);
	ring_read(r, pos + sizeof(*e), to, (size_t)own * sizeof(uint64_t));
	r->w_prev_n = own + k;
	*n = (int)(own + k);
	return to;
}

/* Events that took the writer's tick (clock.h) share their raw time: the
 * last conversion is kept, until the calibration moves (each drain). */
static uint64_t conv_raw = UINT64_MAX, conv_ns;

static uint64_t
event_ns(uint64_t raw)
{
	if (raw != conv_raw) {
		conv_raw = raw;
		conv_ns = clk_cal_ns(&cal, raw);
	}
	return conv_ns;
}

static void
emit_event(struct cur *c, struct counted k)
{
	const struct ev *e = c->e;
	uint64_t ns = event_ns(e->time);
	uint64_t t = ns > start_mono ? ns - start_mono : 0;
	if (e->kind == EV_ALLOC) {
		int n;
		const uint64_t *ips = ring_stack(c->r, c->pos, e, &n);
		uint64_t id = stack_intern(ips, n);
		emit_alloc(t, e->size, e->ptr, id, e->fn, k);
	} else if (e->kind == EV_MARK) {
		char label[HB_MARK_MAX + 1];
		size_t n = e->size <= HB_MARK_MAX ? (size_t)e->size : 0;
		ring_read(c->r, c->pos + sizeof(*e), label, n);
		label[n] = 0;
		(void)EMIT(enc_mark(&enc, t, label));
	} else {
		emit_free(t, e->ptr, k);
	}
	if (++n_events % 256 == 0)
		clk_tick(); /* a long drain keeps the events' clock going */
}

/* A thread that never leaves the few instructions between taking a key and
 * pushing its event (stopped for good, or a signal handler that jumped out
 * of the hook) would hold the watermark back forever and, once the rings
 * fill, every other thread with it. After STUCK_NS of the same pending word
 * on a ring that is not full, drain past it. */
#define STUCK_NS 2000000000u

static bool
pending_stuck(struct ring *r, uint64_t b)
{
	if (b == UINT64_MAX) {
		r->stuck_pending = b;
		return false;
	}
	uint64_t now = hb_now();
	if (b != r->stuck_pending) {
		r->stuck_pending = b;
		r->stuck_since = now;
		return false;
	}
	return now - r->stuck_since > STUCK_NS && ring_used(r) < r->cap / 2;
}

/* Counts and emits every event below the watermark; returns the
 * watermark. Hold w_fork_lock. */
static uint64_t
drain_locked(void)
{
	uint64_t g = atomic_load_explicit(&hb_order, memory_order_acquire);
	uint64_t w = g;
	size_t nc = 0;
	for (struct ring *r = event_rings(); r; r = atomic_load(&r->next)) {
		uint64_t b = ring_key_bound(r);
		if (!pending_stuck(r, b) && b < w)
			w = b;
		if (nc == ccurs) {
			size_t n = ccurs ? ccurs * 2 : 64;
			struct cur *nc_ = own_realloc(curs, n * sizeof(*curs));
			struct cur **na = own_realloc(act, n * sizeof(*act));
			if (nc_)
				curs = nc_;
			if (na)
				act = na;
			if (!nc_ || !na) {
				w = 0; /* a ring left out: emit nothing */
				break;
			}
			ccurs = n;
		}
		struct cur *c = &curs[nc++];
		c->r = r;
		c->pos = atomic_load_explicit(&r->head, memory_order_relaxed);
		c->tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		c->since = 0;
		c->ahead = 0;
		c->qh = 0;
	}
	clk_cal_update(&cal); /* after the tails: every event is older */
	conv_raw = UINT64_MAX;
	if (tf_ok)
		mod_refresh(emit_mod, NULL, false);
	uw_resolve_wanted();

	size_t na = 0;
	for (size_t i = 0; i < nc; i++) {
		struct ring *r = curs[i].r;
		uint64_t gen =
			atomic_load_explicit(&r->gen, memory_order_acquire);
		if (gen != r->seen_gen) {
			r->seen_gen = gen;
			if (tf_ok)
				(void)EMIT(enc_thread(&enc, r->tid, r->name));
		}
		if (cur_peek(&curs[i], w))
			act[na++] = &curs[i];
	}
	while (na) {
		size_t bi = 0;
		for (size_t i = 1; i < na; i++)
			if (act[i]->e->key < act[bi]->e->key)
				bi = i;
		struct cur *c = act[bi];
		struct counted k = count_event(c->e);
		if (tf_ok) {
			emit_event(c, k);
			if (c->e->kind == EV_ALLOC)
				note_peak();
		}
		c->pos += sizeof(struct ev) + c->e->nframes * sizeof(uint64_t);
		if (++c->since >= 64) {
			ring_consume(c->r, c->pos);
			c->since = 0;
		}
		if (!cur_peek(c, w))
			act[bi] = act[--na];
	}
	for (size_t i = 0; i < nc; i++) {
		struct cur *c = &curs[i];
		ring_consume(c->r, c->pos);
		int st = atomic_load_explicit(&c->r->state,
					      memory_order_acquire);
		if (st == RING_DEAD && atomic_load(&c->r->tail) == c->pos &&
		    atomic_load(&c->r->pending) == RING_PENDING_IDLE)
			atomic_store_explicit(&c->r->state, RING_FREE,
					      memory_order_release);
	}
	ring_room_made();
	return w;
}

static uint64_t
drain(void)
{
	pthread_mutex_lock(&w_fork_lock);
	uint64_t w = drain_locked();
	pthread_mutex_unlock(&w_fork_lock);
	return w;
}

/* The rules the program's threads asked for (unwind.c: why), looked up
 * between drains: while events flow the writer wakes every CLK_TICK_NS
 * but drains every DRAIN_NS, and a stack through an address without a
 * rule is libunwind's until the lookup. */
static void
resolve_wanted(void)
{
	if (!uw_rules_wanted())
		return; /* most ticks: no lock taken */
	pthread_mutex_lock(&w_fork_lock);
	uw_resolve_wanted();
	pthread_mutex_unlock(&w_fork_lock);
}

/* Drains until every key taken before the call is written, or timeout. */
static void
drain_all(uint64_t timeout_ns)
{
	uint64_t target = atomic_load(&hb_order);
	uint64_t deadline = hb_now() + timeout_ns;
	while (drain() < target && hb_now() < deadline)
		sched_yield();
}

/* In a block of its own, so that a reader finds it without decoding the
 * rest of the file. */
static void
write_summary(void)
{
	if (!sum_ok || cnt_untracked() != 0 || sum_replaced != sum_lost)
		return;
	sum.end_bytes = cnt_current();
	sum.end_blocks = sum_blocks;
	if (flush_block() == 0)
		(void)EMIT(enc_summary(&enc, &sum));
}

/* How long the writer sleeps once a drain found nothing, after sleeping
 * idle_ns already. Each idle round doubles it, up to half a flush period:
 * an idle program's writer woke 200 times a second, and in this VM those
 * wakes cost 0.6% of a core while the program slept. An event that comes
 * meanwhile waits in its ring until the wake (or wakes the writer by
 * filling it), so it is on disk within a flush period, as
 * HELDBY_FLUSH_MS promises; where the block holds events not yet
 * written, the sleep ends when they are due. */
static uint64_t
idle_sleep_ns(uint64_t idle_ns, uint64_t last_flush, uint64_t flush_ns)
{
	uint64_t s = idle_ns;
	if (s > flush_ns / 2)
		s = flush_ns / 2;
	if (tf_ok && enc.len) { /* after a write error nothing is due */
		uint64_t now = hb_now(), due = last_flush + flush_ns;
		if (due <= now)
			return CLK_TICK_NS;
		if (due - now < s)
			s = due - now;
	}
	return s > CLK_TICK_NS ? s : CLK_TICK_NS;
}

/* Nothing the shim's own threads do is recorded. */
static void
guard_for_good(void)
{
	hb_guard = HB_GUARD_OWN;
}

static void *
writer_main(void *arg)
{
	(void)arg;
	guard_for_good();
	/* A block is written every half flush period: an event also waits
	 * for the next drain, then for zstd and write(2), and on a loaded
	 * machine for each of these threads to be scheduled. Written every
	 * whole period, a kill -9 lost more than the period even on a quiet
	 * machine (bench/flush_bound.py, docs/lifecycle.md). */
	uint64_t flush_ns = (uint64_t)hb_cfg.flush_ms * 1000000u / 2;
	uint64_t last_flush = hb_now();
	uint64_t done = 0, settled = 0;
	bool busy = false; /* the last drain found events */
	uint64_t last_drain = 0;
	uint64_t idle_ns = DRAIN_NS; /* the next idle sleep (idle_sleep_ns) */
	/* The program's threads all left with pthread_exit: glibc would end
	 * the process now, but the shim's threads count for it
	 * (lastthread.c). The trace is finished, then the process ends as
	 * natively: exit(0), the program's atexit handlers and stdio's flush
	 * on this thread. */
	bool program_gone = false;
	/* After a write error the loop goes on without writing: the events
	 * already in the rings still have to be counted. */
	while (!atomic_load(&w_quit)) {
		if (atomic_load(&sync_req) == done &&
		    atomic_load(&settle_req) == settled) {
			/* While events flow, tick for them (clock.h), draining
			 * as often as before; idle, let each event read the
			 * clock. */
			if (busy)
				clk_tick();
			else
				clk_untick();
			ring_wait_kick(busy ? CLK_TICK_NS
					    : (long)idle_sleep_ns(idle_ns,
								  last_flush,
								  flush_ns),
				       !busy);
			if (busy) {
				clk_tick();
				resolve_wanted();
				if (!atomic_load_explicit(
					    &ring_kick, memory_order_relaxed) &&
				    hb_now() - last_drain < DRAIN_NS &&
				    atomic_load(&sync_req) == done &&
				    atomic_load(&settle_req) == settled)
					continue;
			}
		}
		atomic_store_explicit(&ring_kick, 0, memory_order_relaxed);
		uint64_t req = atomic_load(&sync_req);
		uint64_t sreq = atomic_load(&settle_req);
		if (req != done || sreq != settled) {
			drain_all(500000000u);
			if (req != done) {
				flush_and_wait();
				last_flush = hb_now();
				done = req;
				atomic_store(&sync_done, req);
			}
			settled = sreq;
			atomic_store(&settle_done, sreq);
			ring_room_made(); /* wakes wait_for */
			continue;
		}
		uint64_t before = n_events;
		drain();
		busy = n_events != before;
		if (busy)
			idle_ns = DRAIN_NS;
		else if (idle_ns < flush_ns)
			idle_ns *= 2;
		if (!busy && lastthread_gone(1 + compressor_running())) {
			program_gone = true;
			break;
		}
		last_drain = hb_now();
		clk_untick(); /* the compressor may keep it waiting */
		uint64_t now = hb_now();
		if (tf_ok &&
		    (now - last_flush >= flush_ns || enc.len >= enc.cap / 2)) {
			flush_block();
			last_flush = now;
		}
	}
	clk_untick();
	drain_all(1000000000u);
	if (tf_ok) {
		uint64_t waits = 0;
		for (struct ring *r = event_rings(); r;
		     r = atomic_load(&r->next))
			waits += r->waits;
		uint64_t now = hb_now();
		write_summary();
		(void)EMIT(enc_end(&enc, now - start_mono, event_dropped(),
				   waits));
		flush_block();
	}
	int err = compressor_stop();
	if (err && tf_ok)
		write_failed(err);
	fds_trace(NULL);
	tfile_close(&tf);
	tf_ok = 0;
	atomic_store(&w_done, 1);
	ring_room_made(); /* wakes wait_for */
	if (program_gone)
		exit(0); /* what glibc's last pthread_exit does */
	return NULL;
}

/* ---- control ---- */

static void *
z_alloc(void *opaque, size_t n)
{
	(void)opaque;
	return own_malloc(n);
}

static void
z_free(void *opaque, void *p)
{
	(void)opaque;
	if (p)
		own_free(p);
}

static void
expand_output(char *out, size_t cap, const char *pat)
{
	size_t o = 0;
	for (const char *p = pat; *p && o + 24 < cap; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			o += (size_t)snprintf(out + o, cap - o, "%ld",
					      (long)getpid());
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			out[o++] = '%';
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

int
writer_start(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	start_real = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	start_mono = hb_now();
	clk_cal_start(&cal);
	conv_raw = UINT64_MAX;

	char base[4096], path[4200];
	expand_output(base, sizeof(base), hb_cfg.output);
	tfile_alloc = z_alloc;
	tfile_free = z_free;
	tfile_open = fds_open;
	int err = -EEXIST;
	size_t cmdlen;
	const char *cmdline = mod_cmdline(&cmdlen);
	/* HELDBY_OUTPUT=/out/%p/t.hbt: this process's folder is its own to make */
	tfile_make_folders(base);
	for (int i = 0; i < 100 && err == -EEXIST; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s", base);
		else
			snprintf(path, sizeof(path), "%s.%d", base, i);
		err = tfile_create(&tf, path, (uint64_t)getpid(), start_real,
				   start_mono, mod_exe_path(), cmdline, cmdlen,
				   HELDBY_TRACE_F_TIME_TABLE);
	}
	if (err) {
		char msg[4400];
		snprintf(msg, sizeof(msg),
			 "heldby: cannot create the trace %s (%s); not "
			 "recording\n",
			 base, strerror(-err));
		hb_warn(msg);
		return err;
	}
	runlog_trace(path);
	bool again = raw_bufs != NULL; /* a second trace reuses them */
	if (!again) {
		void *m = mmap(NULL, 2 * RAW_CAP, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			err = -errno;
			goto out_close;
		}
		raw_bufs = m;
	}
	/* A second trace of this process (fork child, failed exec) goes on
	 * numbering where the first stopped: see first_seq. */
	first_seq = again ? enc.next_seq : 1;
	enc_init(&enc, raw_bufs, RAW_CAP);
	enc_time_table(&enc, TIME_TABLE_BYTES);
	enc.next_seq = first_seq;
	cnt_tag_blocks();
	memset(&sum, 0, sizeof(sum));
	sum_blocks = 0;
	sum_replaced = sum_lost = 0;
	sum_ok =
		cnt_current() == 0 && cnt_blocks() == 0 && cnt_untracked() == 0;
	fds_trace(&tf);
	stk_ok = st_init(&stk) == 0 || stk.tab;
	tf_ok = 1;
	/* Without its thread, the writer compresses blocks itself. */
	(void)compressor_start(&tf, guard_for_good);

	atomic_store(&ring_owner, (int)getpid());
	err = own_thread_start(&w_thread, writer_main, "heldby-writer");
	if (err)
		goto out_unmap;
	atomic_store(&w_running, 1);
	return 0;

out_unmap:
	tf_ok = 0;
	(void)compressor_stop();
	munmap(raw_bufs, 2 * RAW_CAP);
	raw_bufs = NULL;
	memset(&enc, 0, sizeof(enc));
out_close:
	fds_trace(NULL);
	tfile_close(&tf);
	hb_warn("heldby: cannot start the writer; not recording\n");
	return err;
}

bool
writer_done(void)
{
	return !atomic_load(&w_running) || atomic_load(&w_done);
}

bool
writer_running(void)
{
	return atomic_load(&w_running) && !atomic_load(&w_done) &&
	       !atomic_load(&w_finishing);
}

/* Yields first: a settle is usually answered within tens of µs, and
 * readers of the counters may ask often. */
static void
wait_for(_Atomic uint64_t *v, uint64_t want, uint64_t timeout_ns)
{
	uint64_t deadline = hb_now() + timeout_ns;
	for (;;) {
		int gen = ring_room_gen(); /* before the check: no lost wake */
		if (atomic_load(v) >= want || atomic_load(&w_done) ||
		    hb_now() >= deadline)
			return;
		ring_room_wait(gen);
	}
}

void
writer_sync_for(uint64_t timeout_ns)
{
	if (!writer_running())
		return;
	uint64_t req = atomic_fetch_add(&sync_req, 1) + 1;
	ring_kick_consumer();
	wait_for(&sync_done, req, timeout_ns);
}

void
writer_settle(void)
{
	if (!writer_running())
		return;
	uint64_t req = atomic_fetch_add(&settle_req, 1) + 1;
	ring_kick_consumer();
	wait_for(&settle_done, req, 1000000000u);
}

void
writer_sync(void)
{
	writer_sync_for(2000000000u);
}

void
writer_finish(void)
{
	if (!atomic_load(&w_running))
		return;
	if (!atomic_exchange(&w_finishing, 1)) {
		atomic_store(&w_quit, 1);
		ring_kick_consumer();
	}
	uint64_t deadline = hb_now() + 5000000000u;
	while (!atomic_load(&w_done) && hb_now() < deadline)
		ring_nap(200000);
}

/* Forgets the writer and its tables so that writer_start can begin a new
 * trace. The tables are dropped, not freed: in a fork child the writer
 * thread may have been changing them when the parent forked, and untouched
 * they stay shared with the parent (copy-on-write) at no cost. The raw
 * buffer is kept. */
static void
writer_forget(void)
{
	clk_untick(); /* no writer ticks for the events any more */
	atomic_store(&w_running, 0);
	atomic_store(&w_quit, 0);
	atomic_store(&w_done, 0);
	atomic_store(&w_finishing, 0);
	atomic_store(&sync_req, 0);
	atomic_store(&sync_done, 0);
	atomic_store(&settle_req, 0);
	atomic_store(&settle_done, 0);
	tf_ok = 0;
	compressor_forget();
	memset(&tf, 0, sizeof(tf));
	tf.fd = -1;
	n_events = 0;
	memset(&stk, 0, sizeof(stk));
	stk_ok = 0;
	curs = NULL;
	act = NULL;
	ccurs = 0;
	if (enc.buf)
		enc_clear(&enc);
}

static HB_TLS int w_fork_locked; /* by this thread, for its fork handlers */

void
writer_fork_prepare(void)
{
	/* Bounded: a program that forks from inside a dl_iterate_phdr
	 * callback holds the lock the writer is waiting for. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	w_fork_locked = pthread_mutex_timedlock(&w_fork_lock, &ts) == 0;
}

void
writer_fork_parent(void)
{
	if (w_fork_locked)
		pthread_mutex_unlock(&w_fork_lock);
}

void
writer_forked(void)
{
	if (w_fork_locked) /* taken by this thread before fork */
		pthread_mutex_unlock(&w_fork_lock);
	/* The child has no writer thread and must never write the parent's
	 * file: forget both. Its copy of the descriptor goes, unless the
	 * number is a file of the program's by now. */
	fds_trace(NULL);
	tfile_drop_fd(&tf);
	writer_forget();
}

void
writer_count_leftovers(void)
{
	size_t n = 0;
	for (struct ring *r = event_rings(); r; r = atomic_load(&r->next))
		n++;
	struct cur *cs = n ? own_malloc(n * sizeof(*cs)) : NULL;
	if (!cs)
		return;
	/* One thread is left: nothing is pending any more, and every key
	 * that was pushed is in its ring. */
	size_t na = 0;
	for (struct ring *r = event_rings(); r; r = atomic_load(&r->next)) {
		struct cur *c = &cs[na];
		c->r = r;
		c->pos = atomic_load(&r->head);
		c->tail = atomic_load(&r->tail);
		c->ahead = 0;
		c->qh = 0;
		if (cur_peek(c, UINT64_MAX))
			na++;
	}
	while (na) {
		size_t bi = 0;
		for (size_t i = 1; i < na; i++)
			if (cs[i].e->key < cs[bi].e->key)
				bi = i;
		struct cur *c = &cs[bi];
		(void)count_event(c->e);
		c->pos += sizeof(struct ev) + c->e->nframes * sizeof(uint64_t);
		if (!cur_peek(c, UINT64_MAX))
			cs[bi] = cs[--na];
	}
	own_free(cs);
}

int
writer_restart_after_exec(void)
{
	/* The writer finished before exec: join it, then begin anew. One that
	 * did not finish in time still owns the file and the tables. */
	if (atomic_load(&w_running)) {
		if (!atomic_load(&w_done))
			return -EBUSY;
		pthread_join(w_thread, NULL);
	}
	/* No other thread uses the tables now: free them. */
	st_destroy(&stk);
	if (curs)
		own_free(curs);
	if (act)
		own_free(act);
	writer_forget();
	return 0;
}
