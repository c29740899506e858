/* SPDX-License-Identifier: MIT */
/*
 * Events: the record that travels from a hook through its thread's ring to
 * the writer, and the hot path that makes it (event.c). What one malloc
 * runs, from the program's call to the ring:
 *
 *   malloc (interpose.c): real.malloc, then record(): hb_start_early and
 *     hb_tracking (lifecycle.h), guard_enter (guard.h)
 *   track_alloc (here): dpb_poll_alloc (deepbind.h); then event_alloc, or
 *     only cnt_alloc (count.h) when the hooks keep the counters
 *   event_alloc (event.c): event_ring, the thread's ring (ring_claim on
 *     its first event)
 *   bt_capture (backtrace.c): uw_backtrace (unwind.c), the fast unwinder,
 *     which takes over the outer part of the thread's last walk; where it
 *     gives up, unw_backtrace (libunwind, unw_walk) and uw_want_stack;
 *     skip_ours drops the shim's own frames
 *   room_for: ring_room (ring.h), which waits for room or grows the ring
 *   key_take: ring_key_take (ring.h), the event's place in hb_order
 *   push_alloc (event.c): shared_outer leaves out the frames the ring's
 *     last stack ends with; push writes the words and the other frames
 *     with ring_reserve, ring_put and ring_publish (ring.h), timed by
 *     clk_event_raw (clock.h)
 *   key_done: ring_key_done (ring.h); guard_leave (guard.h)
 *
 * The writer thread interns the stacks (stacktab.c) and encodes (encode.c)
 * later, off this path.
 */
#ifndef HELDBY_EVENT_H
#define HELDBY_EVENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "config.h"
#include "count.h"
#include "deepbind.h"
#include "lifecycle.h"
#include "ring.h"
#include "unwind.h"

/* One event in a ring, followed by nframes u64 return addresses: an
 * EV_ALLOC's stack is those (innermost first) and then the outermost
 * `shared` frames of the ring's previous stack (ring.h), which consecutive
 * allocations of a thread mostly have in common.
 * EV_MARK: size is the label's length, the label follows in nframes u64
 * words. */
enum { EV_ALLOC = 1, EV_FREE = 2, EV_MARK = 3 };
struct ev {
	uint64_t key;  /* global order */
	uint64_t time; /* raw event clock: TSC ticks or CLOCK_MONOTONIC ns
			* (clock.h); the writer converts */
	uint64_t ptr;
	uint64_t size;
	uint16_t kind;
	uint16_t fn;
	uint16_t nframes;
	uint16_t shared;
};
_Static_assert(HB_DEPTH_MAX <= RING_STACK_MAX, "a ring keeps a whole stack");

/* The global order: each event's key is taken from it (ring.h,
 * ring_key_take); the writer reads it for its watermark. */
extern _Atomic uint64_t hb_order HB_HIDDEN;

/* The frame of the exported hook this is expanded in, once inlined: its
 * words 0 and 1 hold the caller's rbp and the return address into the
 * caller, and the caller's stack pointer is just above them. Taking it
 * gives the hook a frame pointer (on the recording path only: GCC
 * shrink-wraps it). The stack walk starts there, not at its own frame, so
 * it does not walk through the shim's own frames, which were about half of
 * each stack it walked (4 of 8-10 frames on python and sqlite). */
#define HB_HOOK_FRAME() ((const void *)__builtin_frame_address(0))

/* The hot path. Call with the guard held; keep errno. caller:
 * HB_HOOK_FRAME() of the hook, or NULL. */
void event_alloc(void *p, size_t n, unsigned fn, const void *caller) HB_HIDDEN;
void event_free(void *p) HB_HIDDEN;

/* realloc: the stack and the free part's key are taken before the real
 * call; the allocation's key after it. Nothing is recorded for a failed
 * realloc (old stays allocated). Guard held, as event_alloc. */
struct realloc_state {
	struct ring *ring;
	uint64_t key;
	void **buf;	    /* caller's, hb_cfg.depth + BT_SLACK entries */
	const void *caller; /* HB_HOOK_FRAME() of the hook, or NULL */
	int first, nframes;
	struct uw_reuse reuse;
};
void event_realloc_begin(struct realloc_state *st) HB_HIDDEN;
void event_realloc_end(struct realloc_state *st, void *old, void *p, size_t n,
		       unsigned fn) HB_HIDDEN;

/* How many events found no room in their ring, or were missed. Any
 * thread. */
uint64_t event_dropped(void) HB_HIDDEN;
/* An event the shim could not record (a jump out of a hook): counted with
 * the dropped ones. Any thread; async-signal-safe. */
void event_missed(void) HB_HIDDEN;
/* A MARK record (heldby_mark); the label is cut at HB_MARK_MAX bytes. Guard
 * held; thread-safe. */
#define HB_MARK_MAX 255
void event_mark(const char *label) HB_HIDDEN;

/* What the hooks record for one allocation or free: an event while
 * recording (the writer counts it), else the counters. Guard held; a free
 * before the real free. */
static inline void
track_alloc(void *p, size_t n, unsigned fn, const void *caller)
{
	dpb_poll_alloc(caller); /* after a load: RTLD_DEEPBIND (deepbind.h) */
	if (hb_on())
		event_alloc(p, n, fn, caller);
	else if (atomic_load_explicit(&hb_counting, memory_order_relaxed))
		cnt_alloc(p, n);
}

static inline void
track_free(void *p)
{
	dpb_poll(); /* after a load: RTLD_DEEPBIND (deepbind.h) */
	if (hb_on())
		event_free(p);
	else if (atomic_load_explicit(&hb_counting, memory_order_relaxed))
		cnt_free(p);
}

/* Per-thread ring, created on first use; NULL once the thread is exiting.
 * Guard held. */
struct ring *event_ring(void) HB_HIDDEN;
/* The head of the list of every ring, for the writer's drain. Any
 * thread. */
struct ring *event_rings(void) HB_HIDDEN;
/* In a fork child (one thread): forgets the parent's rings. */
void event_forked(void) HB_HIDDEN;
/* Once, at start-up before the first event: the key that hands a thread's
 * ring back when it exits. */
void event_init(void) HB_HIDDEN;

/* CLOCK_MONOTONIC in ns (event.c): the writer's flush deadlines and
 * bounded waits. Events are timed by clk_event_raw (clock.h) instead. Any
 * thread; async-signal-safe. */
uint64_t hb_now(void) HB_HIDDEN;

#endif
