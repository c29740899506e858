/* SPDX-License-Identifier: MIT */
/*
 * The writer thread: drains every ring, merges the events by order key
 * (merge.h), counts them, interns stacks, announces modules and threads,
 * encodes and writes blocks, and at the end the run's summary (summary.h).
 * Its state is one struct, so that a fork child forgets it at once.
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

#include "attrs.h"
#include "clock.h"
#include "compressor.h"
#include "config.h"
#include "control.h"
#include "count.h"
#include "encode.h"
#include "event.h"
#include "fds.h"
#include "guard.h"
#include "heldby/trace.h"
#include "lastthread.h"
#include "lifecycle.h"
#include "merge.h"
#include "modules.h"
#include "own_thread.h"
#include "ownheap.h"
#include "ring.h"
#include "runlog.h"
#include "seqtag.h"
#include "stacktab.h"
#include "summary.h"
#include "tracefile.h"
#include "unwind.h"
#include "writer.h"

/* Each of the two raw buffers: the writer encodes into one while the
 * compressor has the other. */
#define RAW_CAP (4u << 20)
/* Of RAW_CAP, for the block's time table: an entry a millisecond, of 3 to
 * 5 bytes, and a block is written every HELDBY_FLUSH_MS (200) at least. */
#define TIME_TABLE_BYTES (64u << 10)
/* Drain at least this often while events flow; a full ring wakes the
 * writer. */
#define DRAIN_NS 5000000L

/* The writer's state for one trace. writer_forget drops it whole (fork
 * child, failed exec) and writer_start fills it anew. What outlives a
 * trace is outside it: the fork lock, the raw buffers, and the number of
 * the next allocation (first_seq). */
static struct writer {
	struct tfile tf;
	int tf_ok;  /* writing: the file is open and no write failed */
	int tf_err; /* once tf_ok is 0: -errno of the write that failed */
	struct enc enc;
	uint64_t start_mono, start_real;
	struct clk_cal cal; /* event times to ns (clock.h) */
	/* Events that took the writer's tick (clock.h) share their raw
	 * time: the last conversion is kept, until the calibration moves
	 * (each drain). */
	uint64_t conv_raw, conv_ns;
	struct stacktab stk; /* stack interning (stacktab.c) */
	int stk_ok;
	struct merge merge; /* the drain's cursors, one a ring (merge.h) */
	uint64_t n_events;  /* written */
	/* The counters' table keeps each live block's allocation number, as
	 * a tag (seqtag.h). Numbers go on across the traces of one process,
	 * so a block numbered below first_seq was entered for an earlier
	 * trace (the parent's, in a fork child) and this one never named
	 * it. */
	uint64_t first_seq;
	struct sum sum; /* HELDBY_REC_SUMMARY (summary.h) */
	struct ctl ctl; /* `heldby snapshot`'s requests (control.h) */
	/* The thread, and what the program's threads ask of it. */
	pthread_t thread;
	_Atomic int running, quit, done, finishing;
	_Atomic uint64_t sync_req, sync_done;
	_Atomic uint64_t settle_req, settle_done;
} wr;

/* Held by the writer while it drains, and by a forking thread (atfork).
 * The drain goes inside the loader (dl_iterate_phdr holds
 * dl_load_write_lock, which glibc's fork (2.36, sysdeps/nptl/fork.c) does
 * not reset in the child, so a child forked meanwhile would deadlock in
 * its first dl_iterate_phdr), and the child must find every event either
 * counted and consumed or still in its ring (writer_count_leftovers). */
static pthread_mutex_t w_fork_lock = PTHREAD_MUTEX_INITIALIZER;
/* Moves while the writer drains (every 64 events of a ring), so that a
 * fork waits for a long drain but not for a writer stuck in the loader. */
static _Atomic uint64_t w_progress;

/* Both raw buffers, one mapping; wr.enc.buf is one of them. A second
 * trace of the process reuses them. */
static uint8_t *raw_bufs;

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
		return EMIT(enc_module_unload(&wr.enc, id)) ? 0 : -1;
	return EMIT(enc_module(&wr.enc, id, bias, nranges, starts, lens, path,
			       bid, bidlen))
		       ? 0
		       : -1;
}

/* The innermost node of the stack ips[0..n) (innermost first), writing the
 * NODE records of any node not seen before; 0: no stack. */
static uint64_t
stack_intern(const uint64_t *ips, int n)
{
	if (n <= 0 || !wr.stk_ok)
		return 0;
	struct st_hash h = st_hash(ips, n);
	uint64_t id = st_cached(&wr.stk, h, n);
	if (id)
		return id;
	uint64_t parent = 0;
	for (int i = n - 1; i >= 0; i--) {
		bool fresh;
		id = st_node(&wr.stk, parent, ips[i], &fresh);
		if (!id)
			return 0;
		if (fresh && (mod_need(ips[i], emit_mod, NULL) != 0 ||
			      !EMIT(enc_node_ip(&wr.enc, id, parent, ips[i]))))
			return 0;
		parent = id;
	}
	st_remember(&wr.stk, h, n, id);
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
	wr.tf_ok = 0;
	wr.tf_err = err ? err : -EIO;
	clk_untick();
	/* The hooks count from now on; this thread counts what the rings
	 * already hold. */
	atomic_store(&hb_counting, 1);
	atomic_store(&hb_state, HB_STOPPED);
	atomic_store(&ring_stop, 1);
}

/* Hands the block to the compressor and goes on in the other buffer. */
static int
flush_block(void)
{
	if (wr.enc.len && wr.tf_ok) {
		int err = compressor_submit(wr.enc.buf, enc_finish(&wr.enc));
		if (err)
			write_failed(err);
		wr.enc.buf =
			wr.enc.buf == raw_bufs ? raw_bufs + RAW_CAP : raw_bufs;
	}
	enc_clear(&wr.enc);
	return wr.tf_ok ? 0 : -1;
}

/* flush_block, and every block is in the file when it returns. */
static void
flush_and_wait(void)
{
	flush_block();
	int err = compressor_wait();
	if (err && wr.tf_ok)
		write_failed(err);
}

/* In a block of its own, so that a reader finds it without decoding the
 * rest of the file. */
static void
write_summary(void)
{
	const struct enc_summary *s = sum_end(&wr.sum);
	if (s && flush_block() == 0)
		(void)EMIT(enc_summary(&wr.enc, s));
}

/* ---- events: frees name their allocation by number ---- */

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
	if (!EMIT(enc_alloc_seq(&wr.enc, t, size, stack, fn, &seq)))
		return;
	if (!k.entered) /* not in the table: its free will name the address */
		(void)EMIT(enc_addr(&wr.enc, seq, ptr));
	if (k.num) { /* it took the address of a block whose free went unseen */
		(void)EMIT(enc_lost(&wr.enc, k.num));
		sum_lost(&wr.sum);
	}
}

static void
emit_free(uint64_t t, uint64_t ptr, struct counted k)
{
	if (k.num)
		(void)EMIT(enc_free_seq(&wr.enc, t, k.num));
	else
		(void)EMIT(enc_free_addr(&wr.enc, t, ptr));
}

/* The number of the block with this tag, 0 when this trace has none. */
static uint64_t
named(uint32_t tag)
{
	if (!tag)
		return 0;
	uint64_t seq = seqtag_seq(tag, wr.enc.next_seq);
	return seq >= wr.first_seq ? seq : 0;
}

static bool
untag_if_old(void *ctx, uintptr_t p, uint32_t tag)
{
	(void)ctx;
	uint64_t seq = named(tag);
	if (seq && wr.enc.next_seq - seq < SEQTAG_SPAN)
		return false;
	if (seq) /* from now on its free names its address */
		(void)EMIT(enc_addr(&wr.enc, seq, (uint64_t)p));
	return true;
}

/* Keeps every tag younger than 2 * SEQTAG_SPAN allocations (seqtag.h):
 * once every SEQTAG_SPAN, about two minutes at 15M allocations a second,
 * a pass over the table. */
static void
untag_old_blocks(void)
{
	if (wr.enc.next_seq % SEQTAG_SPAN == 0)
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
		uint32_t old = 0, tag = 0;
		if (solo && wr.tf_ok) {
			untag_old_blocks();
			tag = seqtag_of(wr.enc.next_seq);
		}
		int added = solo ? cnt_alloc_solo(p, (size_t)e->size, tag, &old)
				 : cnt_alloc(p, (size_t)e->size);
		sum_alloc(&wr.sum, added);
		k.entered = added >= 0;
		k.num = named(old);
	} else if (e->kind == EV_FREE) {
		if (solo) {
			struct cnt_held h = cnt_free_solo(p);
			sum_free(&wr.sum, h.known);
			k.num = named(h.tag);
		} else {
			sum_free(&wr.sum, cnt_free(p));
		}
	}
	return k;
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

static uint64_t
event_ns(uint64_t raw)
{
	if (raw != wr.conv_raw) {
		wr.conv_raw = raw;
		wr.conv_ns = clk_cal_ns(&wr.cal, raw);
	}
	return wr.conv_ns;
}

/* The records of e, the event at c's position. */
static void
emit_event(const struct merge_cur *c, const struct ev *e, struct counted k)
{
	uint64_t ns = event_ns(e->time);
	uint64_t t = ns > wr.start_mono ? ns - wr.start_mono : 0;
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
		(void)EMIT(enc_mark(&wr.enc, t, label));
	} else {
		emit_free(t, e->ptr, k);
	}
	if (++wr.n_events % 256 == 0)
		clk_tick(); /* a long drain keeps the events' clock going */
}

/* ---- drain ---- */

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

/* A cursor on every ring, from its head to its tail, and the watermark:
 * the order counter first, then each ring's pending bound before its tail
 * (the order above). 0 when a ring was left out: nothing is emitted. */
static uint64_t
open_cursors(void)
{
	uint64_t w = atomic_load_explicit(&hb_order, memory_order_acquire);
	merge_reset(&wr.merge);
	for (struct ring *r = event_rings(); r; r = atomic_load(&r->next)) {
		uint64_t b = ring_key_bound(r);
		if (!pending_stuck(r, b) && b < w)
			w = b;
		uint64_t head =
			atomic_load_explicit(&r->head, memory_order_relaxed);
		uint64_t tail =
			atomic_load_explicit(&r->tail, memory_order_acquire);
		if (merge_add(&wr.merge, r, head, tail) != 0)
			return 0;
	}
	return w;
}

/* A THREAD record for each ring that a thread claimed since the last
 * drain. */
static void
announce_threads(void)
{
	for (size_t i = 0; i < wr.merge.n; i++) {
		struct ring *r = wr.merge.curs[i].r;
		uint64_t gen =
			atomic_load_explicit(&r->gen, memory_order_acquire);
		if (gen != r->seen_gen) {
			r->seen_gen = gen;
			if (wr.tf_ok)
				(void)EMIT(
					enc_thread(&wr.enc, r->tid, r->name));
		}
	}
}

/* Counts every event below the watermark w, in key order, and writes its
 * records while the file is written. */
static void
write_events(uint64_t w)
{
	struct merge_run m = merge_start(&wr.merge, w);
	for (struct merge_cur *c; (c = merge_first(&m)) != NULL;) {
		const struct ev *e = merge_ev(c);
		struct counted k = count_event(e);
		if (wr.tf_ok) {
			emit_event(c, e, k);
			if (e->kind == EV_ALLOC)
				sum_note_peak(&wr.sum, wr.enc.prev_time);
		}
		merge_next(&m, c);
		if (++c->since >= 64) { /* room for the producer meanwhile */
			ring_consume(c->r, c->pos);
			c->since = 0;
			atomic_store_explicit(
				&w_progress,
				atomic_load_explicit(&w_progress,
						     memory_order_relaxed) +
					1,
				memory_order_relaxed);
		}
	}
}

/* Gives each ring the room the drain read, and frees the ring of a thread
 * that exited once it is empty. */
static void
close_cursors(void)
{
	for (size_t i = 0; i < wr.merge.n; i++) {
		struct merge_cur *c = &wr.merge.curs[i];
		ring_consume(c->r, c->pos);
		int st = atomic_load_explicit(&c->r->state,
					      memory_order_acquire);
		if (st == RING_DEAD && atomic_load(&c->r->tail) == c->pos &&
		    atomic_load(&c->r->pending) == RING_PENDING_IDLE)
			atomic_store_explicit(&c->r->state, RING_FREE,
					      memory_order_release);
	}
}

/* Counts and emits every event below the watermark; returns the
 * watermark. Hold w_fork_lock. */
static uint64_t
drain_locked(void)
{
	uint64_t w = open_cursors();
	clk_cal_update(&wr.cal); /* after the tails: every event is older */
	wr.conv_raw = UINT64_MAX;
	if (wr.tf_ok)
		mod_refresh(emit_mod, NULL, false);
	uw_resolve_wanted();
	announce_threads();
	write_events(w);
	close_cursors();
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

/* ---- the thread's loop ---- */

/* What the loop keeps from one round to the next. */
struct loop {
	uint64_t flush_ns; /* a block at least this often */
	uint64_t last_flush, last_drain;
	uint64_t idle_ns;	/* the next idle sleep (idle_sleep_ns) */
	uint64_t done, settled; /* the sync and settle requests answered */
	bool busy;		/* the last drain found events */
};

static struct loop
loop_begin(void)
{
	/* A block is written every half flush period: an event also waits
	 * for the next drain, then for zstd and write(2), and on a loaded
	 * machine for each of these threads to be scheduled. Written every
	 * whole period, a kill -9 lost more than the period even on a quiet
	 * machine (bench/flush_bound.py, docs/lifecycle.md). */
	return (struct loop){
		.flush_ns = (uint64_t)hb_cfg.flush_ms * 1000000u / 2,
		.last_flush = hb_now(),
		.idle_ns = DRAIN_NS,
	};
}

/* A sync or a settle was asked for since the loop last answered. */
static bool
loop_asked(const struct loop *l)
{
	return atomic_load(&wr.sync_req) != l->done ||
	       atomic_load(&wr.settle_req) != l->settled;
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
	if (wr.tf_ok && wr.enc.len) { /* after a write error nothing is due */
		uint64_t now = hb_now(), due = last_flush + flush_ns;
		if (due <= now)
			return CLK_TICK_NS;
		if (due - now < s)
			s = due - now;
	}
	return s > CLK_TICK_NS ? s : CLK_TICK_NS;
}

/* Sleeps until a kick or the end of the sleep. True when this round has
 * nothing more to do: events flow, but the next drain is not due. */
static bool
loop_sleep(struct loop *l)
{
	/* While events flow, tick for them (clock.h), draining as often as
	 * before; idle, let each event read the clock. */
	if (l->busy)
		clk_tick();
	else
		clk_untick();
	ring_wait_kick(l->busy ? CLK_TICK_NS
			       : (long)idle_sleep_ns(l->idle_ns, l->last_flush,
						     l->flush_ns),
		       !l->busy);
	if (!l->busy)
		return false;
	clk_tick();
	resolve_wanted();
	return !atomic_load_explicit(&ring_kick, memory_order_relaxed) &&
	       hb_now() - l->last_drain < DRAIN_NS && !loop_asked(l);
}

/* Answers the syncs and settles asked for; false when none was. */
static bool
loop_answer(struct loop *l)
{
	uint64_t req = atomic_load(&wr.sync_req);
	uint64_t sreq = atomic_load(&wr.settle_req);
	if (req == l->done && sreq == l->settled)
		return false;
	drain_all(500000000u);
	if (req != l->done) {
		flush_and_wait();
		l->last_flush = hb_now();
		l->done = req;
		atomic_store(&wr.sync_done, req);
	}
	l->settled = sreq;
	atomic_store(&wr.settle_done, sreq);
	ring_room_made(); /* wakes wait_for */
	return true;
}

/* One drain, and the next sleep's length. False when the program's
 * threads are all gone. */
static bool
loop_drain(struct loop *l)
{
	uint64_t before = wr.n_events;
	drain();
	l->busy = wr.n_events != before;
	if (l->busy)
		l->idle_ns = DRAIN_NS;
	else if (l->idle_ns < l->flush_ns)
		l->idle_ns *= 2;
	if (!l->busy && lastthread_gone(1 + compressor_running()))
		return false;
	l->last_drain = hb_now();
	clk_untick(); /* the compressor may keep it waiting */
	return true;
}

/* Writes the block once a flush period passed or it is half full. */
static void
loop_flush(struct loop *l)
{
	uint64_t now = hb_now();
	if (wr.tf_ok && (now - l->last_flush >= l->flush_ns ||
			 wr.enc.len >= wr.enc.cap / 2)) {
		flush_block();
		l->last_flush = now;
	}
}

/* A snapshot `heldby snapshot` asked for (control.h): a MARK at now,
 * after every event taken before, in the file and on the disk before the
 * answer. The requests are rare: durable means fdatasync. Outside
 * w_fork_lock but for the drain, which takes it. */
static void
loop_snapshot(struct loop *l)
{
	struct ctl_req q;
	if (!ctl_due(&wr.ctl, hb_now()) || !ctl_take(&wr.ctl, wr.tf.path, &q))
		return;
	drain_all(500000000u);
	uint64_t now = hb_now();
	uint64_t t = now > wr.start_mono ? now - wr.start_mono : 0;
	if (wr.tf_ok && EMIT(enc_mark(&wr.enc, t, q.label))) {
		t = wr.enc.prev_time; /* the mark's, never behind the block's */
		flush_and_wait();
		l->last_flush = hb_now();
	}
	ctl_answer(&q, t, wr.tf_ok ? tfile_sync(&wr.tf) : wr.tf_err);
}

/* Times the program's threads found their ring full, over every ring. */
static uint64_t
ring_waits(void)
{
	uint64_t waits = 0;
	for (struct ring *r = event_rings(); r; r = atomic_load(&r->next))
		waits += r->waits;
	return waits;
}

/* The end of the trace: the events left, the summary and the END record,
 * and the file closed. */
static void
end_trace(void)
{
	clk_untick();
	drain_all(1000000000u);
	if (wr.tf_ok) {
		uint64_t waits = ring_waits();
		uint64_t now = hb_now();
		write_summary();
		(void)EMIT(enc_end(&wr.enc, now - wr.start_mono,
				   event_dropped(), waits));
		flush_block();
	}
	int err = compressor_stop();
	if (err && wr.tf_ok)
		write_failed(err);
	fds_trace(NULL);
	tfile_close(&wr.tf);
	wr.tf_ok = 0;
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
	struct loop l = loop_begin();
	/* The program's threads all left with pthread_exit: glibc would end
	 * the process now, but the shim's threads count for it
	 * (lastthread.c). The trace is finished, then the process ends as
	 * natively: exit(0), the program's atexit handlers and stdio's flush
	 * on this thread. */
	bool program_gone = false;
	/* After a write error the loop goes on without writing: the events
	 * already in the rings still have to be counted. */
	while (!atomic_load(&wr.quit)) {
		if (!loop_asked(&l) && loop_sleep(&l))
			continue;
		atomic_store_explicit(&ring_kick, 0, memory_order_relaxed);
		if (loop_answer(&l))
			continue;
		if (!loop_drain(&l)) {
			program_gone = true;
			break;
		}
		loop_flush(&l);
		loop_snapshot(&l);
	}
	end_trace();
	atomic_store(&wr.done, 1);
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

/* The trace at base, or at the first of base.1 to base.99 not taken,
 * with its header; its name goes to path. 0 or -errno. */
static int
create_file(const char *base, char *path, size_t cap)
{
	int err = -EEXIST;
	size_t cmdlen;
	const char *cmdline = mod_cmdline(&cmdlen);
	/* HELDBY_OUTPUT=/out/%p/t.hbt: this process's folder is its own to
	 * make */
	tfile_make_folders(base);
	for (int i = 0; i < 100 && err == -EEXIST; i++) {
		if (i == 0)
			snprintf(path, cap, "%s", base);
		else
			snprintf(path, cap, "%s.%d", base, i);
		err = tfile_create(&wr.tf, path, (uint64_t)getpid(),
				   wr.start_real, wr.start_mono, mod_exe_path(),
				   cmdline, cmdlen, HELDBY_TRACE_F_TIME_TABLE);
	}
	return err;
}

/* Creates the trace file (HELDBY_OUTPUT) and notes when it began: 0, or
 * -errno after a warning. */
static int
create_trace(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wr.start_real =
		(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	wr.start_mono = hb_now();
	clk_cal_start(&wr.cal);
	wr.conv_raw = UINT64_MAX;

	char base[4096], path[4200];
	expand_output(base, sizeof(base), hb_cfg.output);
	tfile_alloc = z_alloc;
	tfile_free = z_free;
	tfile_open = fds_open;
	int err = create_file(base, path, sizeof(path));
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
	return 0;
}

/* The encoder, the counters' tags, the summary and the stack table for a
 * new trace; again: an earlier trace of this process used the buffers. */
static void
begin_trace(bool again)
{
	/* A second trace of this process (fork child, failed exec) goes on
	 * numbering where the first stopped: see first_seq. */
	wr.first_seq = again ? wr.enc.next_seq : 1;
	enc_init(&wr.enc, raw_bufs, RAW_CAP);
	enc_time_table(&wr.enc, TIME_TABLE_BYTES);
	wr.enc.next_seq = wr.first_seq;
	cnt_tag_blocks();
	sum_begin(&wr.sum);
	fds_trace(&wr.tf);
	wr.stk_ok = st_init(&wr.stk) == 0 || wr.stk.tab;
	wr.tf_ok = 1;
	/* Without its thread, the writer compresses blocks itself. */
	(void)compressor_start(&wr.tf, guard_for_good);
}

int
writer_start(void)
{
	int err = create_trace();
	if (err)
		return err;
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
	begin_trace(again);

	atomic_store(&ring_owner, (int)getpid());
	err = own_thread_start(&wr.thread, writer_main, "heldby-writer");
	if (err)
		goto out_unmap;
	atomic_store(&wr.running, 1);
	return 0;

out_unmap:
	wr.tf_ok = 0;
	(void)compressor_stop();
	munmap(raw_bufs, 2 * RAW_CAP);
	raw_bufs = NULL;
	memset(&wr.enc, 0, sizeof(wr.enc));
out_close:
	fds_trace(NULL);
	tfile_close(&wr.tf);
	hb_warn("heldby: cannot start the writer; not recording\n");
	return err;
}

bool
writer_done(void)
{
	return !atomic_load(&wr.running) || atomic_load(&wr.done);
}

bool
writer_running(void)
{
	return atomic_load(&wr.running) && !atomic_load(&wr.done) &&
	       !atomic_load(&wr.finishing);
}

/* Yields first: a settle is usually answered within tens of µs, and
 * readers of the counters may ask often. */
static void
wait_for(_Atomic uint64_t *v, uint64_t want, uint64_t timeout_ns)
{
	uint64_t deadline = hb_now() + timeout_ns;
	for (;;) {
		int gen = ring_room_gen(); /* before the check: no lost wake */
		if (atomic_load(v) >= want || atomic_load(&wr.done) ||
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
	uint64_t req = atomic_fetch_add(&wr.sync_req, 1) + 1;
	ring_kick_consumer();
	wait_for(&wr.sync_done, req, timeout_ns);
}

void
writer_settle(void)
{
	if (!writer_running())
		return;
	uint64_t req = atomic_fetch_add(&wr.settle_req, 1) + 1;
	ring_kick_consumer();
	wait_for(&wr.settle_done, req, 1000000000u);
}

void
writer_sync(void)
{
	writer_sync_for(2000000000u);
}

void
writer_finish(void)
{
	if (!atomic_load(&wr.running))
		return;
	if (!atomic_exchange(&wr.finishing, 1)) {
		atomic_store(&wr.quit, 1);
		ring_kick_consumer();
	}
	uint64_t deadline = hb_now() + 5000000000u;
	while (!atomic_load(&wr.done) && hb_now() < deadline)
		ring_nap(200000);
}

/* Forgets the writer and its tables so that writer_start can begin a new
 * trace. The tables are dropped, not freed: in a fork child the writer
 * thread may have been changing them when the parent forked, and untouched
 * they stay shared with the parent (copy-on-write) at no cost. The raw
 * buffers are kept, and the allocation numbers go on (first_seq). */
static void
writer_forget(void)
{
	clk_untick(); /* no writer ticks for the events any more */
	/* First: a thread that asks meanwhile (a failed exec leaves the
	 * program's threads) finds no writer. */
	atomic_store(&wr.running, 0);
	compressor_forget();
	uint64_t next_seq = wr.enc.next_seq;
	memset(&wr, 0, sizeof(wr));
	wr.tf.fd = -1;
	wr.enc.next_seq = next_seq;
}

static HB_TLS int w_fork_locked; /* by this thread, for its fork handlers */

void
writer_fork_prepare(void)
{
	/* Bounded: a program that forks from inside a dl_iterate_phdr
	 * callback holds the lock the writer is waiting for. But a drain
	 * that is merely long (a busy program on a loaded machine) is waited
	 * for: given up on, it left the child a w_fork_lock held for good,
	 * and the child's writer never wrote a block. So the wait ends after
	 * 1 s in which the writer did not move on. */
	uint64_t seen = atomic_load_explicit(&w_progress, memory_order_relaxed);
	w_fork_locked = 0;
	for (int still = 0; still < 10;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_mutex_timedlock(&w_fork_lock, &ts) == 0) {
			w_fork_locked = 1;
			return;
		}
		uint64_t now =
			atomic_load_explicit(&w_progress, memory_order_relaxed);
		still = now == seen ? still + 1 : 0;
		seen = now;
	}
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
	else /* held by the parent's writer, which the child has not */
		w_fork_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	/* The child has no writer thread and must never write the parent's
	 * file: forget both. Its copy of the descriptor goes, unless the
	 * number is a file of the program's by now. */
	fds_trace(NULL);
	tfile_drop_fd(&wr.tf);
	writer_forget();
}

/* Counts the events of m's cursors in key order, writing nothing. */
static void
count_merged(struct merge *m)
{
	struct merge_run run = merge_start(m, UINT64_MAX);
	for (struct merge_cur *c; (c = merge_first(&run)) != NULL;) {
		(void)count_event(merge_ev(c));
		merge_next(&run, c);
	}
}

void
writer_count_leftovers(void)
{
	/* One thread is left: nothing is pending any more, and every key
	 * that was pushed is in its ring. */
	struct merge m = { 0 };
	int err = 0;
	for (struct ring *r = event_rings(); r && !err;
	     r = atomic_load(&r->next)) {
		uint64_t head = atomic_load(&r->head);
		err = merge_add(&m, r, head, atomic_load(&r->tail));
	}
	if (!err)
		count_merged(&m);
	merge_free(&m);
}

int
writer_restart_after_exec(void)
{
	/* The writer finished before exec: join it, then begin anew. One that
	 * did not finish in time still owns the file and the tables. */
	if (atomic_load(&wr.running)) {
		if (!atomic_load(&wr.done))
			return -EBUSY;
		pthread_join(wr.thread, NULL);
	}
	/* No other thread uses the tables now: free them. */
	st_destroy(&wr.stk);
	merge_free(&wr.merge);
	writer_forget();
	return 0;
}
