/* SPDX-License-Identifier: MIT */
/*
 * State shared by the shim's files: configuration, the recording state, the
 * event record that travels through the rings, and the internal entry points
 * of each concern. Nothing here is exported from libheldby.so.
 */
#ifndef HELDBY_SHIM_H
#define HELDBY_SHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "count.h"
#include "deepbind.h"
#include "fds.h"
#include "real.h"
#include "ring.h"
#include "unwind.h"

#define HB_DEPTH_DEFAULT 64
#define HB_DEPTH_MAX 256
#define HB_FLUSH_MS_DEFAULT 200
/* a ring's first size: what a thread that never outruns the writer keeps
 * (docs/architecture.md, "Ring sizes") */
#define HB_RING_SIZE (16u << 10)
/* a ring doubles while full, up to this (ring.h) */
#define HB_RING_MAX (8u << 20)

/* record: counters and trace; count: counters only (no stacks, no trace,
 * no writer thread); off: everything passes through. */
enum hb_mode { HB_MODE_RECORD = 0, HB_MODE_OFF = 1, HB_MODE_COUNT = 2 };

/* HELDBY_UNWIND: the fast unwinder with libunwind where it gives up,
 * libunwind alone, or both on every stack, compared (a diagnostic). */
enum hb_unwind {
	HB_UNWIND_FAST = 0,
	HB_UNWIND_LIBUNWIND = 1,
	HB_UNWIND_CHECK = 2
};

struct hb_config {
	char output[4096]; /* pattern, %p not yet expanded */
	int mode;
	int depth;
	int flush_ms;
	int follow;
	int unwind;
	int clock; /* HB_CLOCK_* (clock.h) */
};
extern struct hb_config hb_cfg HB_HIDDEN;

/* 0: not initialised (hooks pass through), 1: recording, 2: stopped (exit
 * flush started, fork child, write error, mode off). */
enum { HB_INIT = 0, HB_ON = 1, HB_STOPPED = 2 };
extern _Atomic int hb_state HB_HIDDEN;

/*
 * Libraries whose constructors run before ours (every DT_NEEDED library
 * does: a preloaded library is initialised last, just before the program)
 * allocate before hb_init: libstdc++'s 72,704 B emergency exception pool,
 * GLib's tables, C++ globals. Start on their first allocation instead, once
 * libc has set environ, which the configuration is read from (its own
 * initialiser has run by then). Any hook that records an allocation calls
 * this first; with the guard held or not.
 */
extern char **environ;
void hb_init(void) HB_HIDDEN;

static inline void
hb_start_early(void)
{
	if (unlikely(atomic_load_explicit(&hb_state, memory_order_relaxed) ==
		     HB_INIT) &&
	    environ)
		hb_init();
}

static inline bool
hb_on(void)
{
	return atomic_load_explicit(&hb_state, memory_order_relaxed) == HB_ON;
}

/* Non-zero while the hooks keep the live counters themselves: count mode,
 * and record mode once recording stopped (at exit, in a fork child that is
 * not followed, after a write error). While recording, the writer keeps
 * them instead, from the events in the trace's order (writer.c): a hook
 * does one or the other, never both. */
extern _Atomic int hb_counting HB_HIDDEN;

/* Whether a hook has anything to do. */
static inline bool
hb_tracking(void)
{
	return atomic_load_explicit(&hb_counting, memory_order_relaxed) ||
	       hb_on();
}

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

/* The frame of the exported hook this is expanded in, once inlined: its
 * words 0 and 1 hold the caller's rbp and the return address into the
 * caller, and the caller's stack pointer is just above them. Taking it
 * gives the hook a frame pointer (on the recording path only: GCC
 * shrink-wraps it). The stack walk starts there, not at its own frame, so
 * it does not walk through the shim's own frames, which were about half of
 * each stack it walked (4 of 8-10 frames on python and sqlite). */
#define HB_HOOK_FRAME() ((const void *)__builtin_frame_address(0))

/* event.c: the hot path. Call with the guard held; keep errno. caller:
 * HB_HOOK_FRAME() of the hook, or NULL. */
void event_alloc(void *p, size_t n, unsigned fn, const void *caller) HB_HIDDEN;
void event_free(void *p) HB_HIDDEN;
/* realloc: the stack and the free part's key are taken before the real
 * call; the allocation's key after it. Nothing is recorded for a failed
 * realloc (old stays allocated). */
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
/* Per-thread ring, created on first use; NULL once the thread is exiting. */
struct ring *event_ring(void) HB_HIDDEN;
struct ring *event_rings(void) HB_HIDDEN; /* head of the global list */
/* In a fork child (one thread): forgets the parent's rings. */
void event_forked(void) HB_HIDDEN;
extern _Atomic uint64_t hb_order HB_HIDDEN;
void event_init(void) HB_HIDDEN;

/* interpose.c: false when the program's malloc is not ours (its own
 * allocator, linked in). Start-up only. */
bool interpose_malloc_is_ours(void) HB_HIDDEN;

/* backtrace.c */
void bt_init(void) HB_HIDDEN;
/* Captures the return addresses into buf, which has room for max +
 * BT_SLACK entries; returns how many (at most max), innermost first from
 * buf[*first], the shim's own frames left out. caller and *reuse: as
 * uw_backtrace's; reuse->walk is 0 unless the frames returned are the fast
 * unwinder's whole walk. Keeps the stack small: no copy of its own.
 * Thread-safe; not async-signal-safe (libunwind). */
#define BT_SLACK 16
/* After dlclose: unwind information cached for the unloaded code is stale
 * (a later library may be mapped at the same addresses). Thread-safe. */
void bt_flush(void) HB_HIDDEN;
/* HELDBY_UNWIND=check: one line on stderr saying how often the fast
 * unwinder and libunwind disagreed. */
void bt_report(void) HB_HIDDEN;
/* libunwind is not used at all (before bt_init), or no more (its pipe is
 * lost: fds.c); wait: until no libunwind walk is under way on another
 * thread (bounded, 1 s). Without it, a stack the fast unwinder gives up on
 * keeps its first frame. Any thread; async-signal-safe. */
void bt_without_libunwind(void) HB_HIDDEN;
void bt_stop_libunwind(bool wait) HB_HIDDEN;
/* Whether the code address is libunwind's (its calls to close). */
bool bt_from_libunwind(const void *addr) HB_HIDDEN;
int bt_capture(void **buf, int max, int *first, void **memo, const void *caller,
	       struct uw_reuse *reuse) HB_HIDDEN;

/* writer.c */
int writer_start(void) HB_HIDDEN;
/* Drain and write everything recorded so far; bounded wait (2 s, or
 * timeout_ns). Any thread but the writer; async-signal-safe (atomics,
 * futex, nanosleep). */
void writer_sync(void) HB_HIDDEN;
void writer_sync_for(uint64_t timeout_ns) HB_HIDDEN;
/* Waits (bounded: 1 s) until the writer has counted every event taken
 * before the call, so that the live counters include them; writes
 * nothing. Returns at once when not recording. Not from inside a hook. */
void writer_settle(void) HB_HIDDEN;
/* Final flush, END record, close; idempotent, bounded. */
void writer_finish(void) HB_HIDDEN;
bool writer_running(void) HB_HIDDEN;
/* No writer thread is running (never started, or finished). */
bool writer_done(void) HB_HIDDEN;
/* fork, in pthread_atfork's order: keep the writer out of the loader while
 * the process forks (prepare, then parent or child). In the child,
 * writer_forked also forgets the writer and the parent's file. */
void writer_fork_prepare(void) HB_HIDDEN;
void writer_fork_parent(void) HB_HIDDEN;
void writer_forked(void) HB_HIDDEN;
/* In a fork child, before the parent's rings are dropped: counts the
 * events they still hold, which the parent's writer had not reached. */
void writer_count_leftovers(void) HB_HIDDEN;
/* After writer_finish and a failed exec: forget the finished writer so
 * that writer_start can begin a new trace. Returns 0, or -EBUSY when the
 * old writer has not finished (then nothing changes). */
int writer_restart_after_exec(void) HB_HIDDEN;

/* modules.c */
struct enc;
void mod_init(void) HB_HIDDEN;
/* Compares the loaded modules with the last snapshot; encodes MODULE and
 * MODULE_UNLOAD records through emit for the modules unloaded since.
 * Writer thread only. */
typedef int (*mod_emit_fn)(void *ctx, int unload, uint64_t id, uint64_t bias,
			   size_t nranges, const uint64_t *starts,
			   const uint64_t *lens, const char *path,
			   const uint8_t *bid, size_t bidlen);
void mod_refresh(mod_emit_fn emit, void *ctx, bool force) HB_HIDDEN;
/* Encodes the MODULE record of the module that holds ip, unless the trace
 * has it already: before the first stack node in it. Returns emit's
 * result, 0 when nothing was due. */
int mod_need(uint64_t ip, mod_emit_fn emit, void *ctx) HB_HIDDEN;
/* A new trace: every module is announced again (fork child, exec failed). */
void mod_forget(void) HB_HIDDEN;
const char *mod_exe_path(void) HB_HIDDEN;
/* dl_iterate_phdr with every signal blocked: for the hooks' own walks of
 * the modules, which a handler must not leave holding the loader's lock.
 * Any thread. */
struct dl_phdr_info;
int mod_iterate(int (*cb)(struct dl_phdr_info *, size_t, void *),
		void *arg) HB_HIDDEN;
/* The span [*lo, *hi) of a module's PT_LOAD segments in memory; false when
 * it has none. */
bool mod_span(const struct dl_phdr_info *info, uintptr_t *lo,
	      uintptr_t *hi) HB_HIDDEN;
/* The command line read at mod_init (argv, NUL after each); *len bytes. */
const char *mod_cmdline(size_t *len) HB_HIDDEN;
/* The GNU build-id of a loaded module, read from its notes in memory:
 * its length (at most MOD_BID_MAX bytes into out), 0 when it has none. */
#define MOD_BID_MAX 64
struct dl_phdr_info;
size_t mod_build_id(const struct dl_phdr_info *info, uint8_t *out) HB_HIDDEN;

/* lifecycle.c */
/* Whether this is the process the shim started in (or, followed, the fork
 * child that began a trace of its own): false in a vfork child, which
 * shares our memory. */
bool hb_in_owner(void) HB_HIDDEN;
/* Stops recording and finishes the trace (atexit, _exit, exec); only in
 * the owner. Idempotent, bounded. */
void hb_finish(void) HB_HIDDEN;
void hb_warn(const char *msg) HB_HIDDEN;
void hb_warn2(const char *a, const char *b) HB_HIDDEN;
uint64_t hb_now(void) HB_HIDDEN;
void hb_init(void) HB_HIDDEN;
/* Starts the writer of a followed fork child on its first event; cheap
 * when there is nothing to start. Called with the guard held. */
void hb_start_deferred(void) HB_HIDDEN;

#endif
