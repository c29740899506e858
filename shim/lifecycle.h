/* SPDX-License-Identifier: MIT */
/*
 * Whether the shim records, and its turns through the process's life
 * (lifecycle.c): start-up, exit, fork. The checks every hook makes before it
 * records are inline here, one relaxed load each.
 */
#ifndef HELDBY_LIFECYCLE_H
#define HELDBY_LIFECYCLE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "attrs.h"

/* 0: not initialised (hooks pass through), 1: recording, 2: stopped (exit
 * flush started, fork child, write error, mode off). */
enum { HB_INIT = 0, HB_ON = 1, HB_STOPPED = 2 };
extern _Atomic int hb_state HB_HIDDEN;

/* Non-zero while the hooks keep the live counters themselves: count mode,
 * and record mode once recording stopped (at exit, in a fork child that is
 * not followed, after a write error). While recording, the writer keeps
 * them instead, from the events in the trace's order (writer.c): a hook
 * does one or the other, never both. */
extern _Atomic int hb_counting HB_HIDDEN;

/* Reads the configuration (config.h) and starts recording; once, whoever
 * calls first (the constructor, or hb_start_early). Takes the guard
 * itself. Thread-safe; not async-signal-safe (dlsym, atexit). */
void hb_init(void) HB_HIDDEN;

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

static inline void
hb_start_early(void)
{
	if (unlikely(atomic_load_explicit(&hb_state, memory_order_relaxed) ==
		     HB_INIT) &&
	    environ)
		hb_init();
}

/* Whether events go to the rings. Any thread; async-signal-safe. */
static inline bool
hb_on(void)
{
	return atomic_load_explicit(&hb_state, memory_order_relaxed) == HB_ON;
}

/* Whether a hook has anything to do. Any thread; async-signal-safe. */
static inline bool
hb_tracking(void)
{
	return atomic_load_explicit(&hb_counting, memory_order_relaxed) ||
	       hb_on();
}

/* Whether this is the process the shim started in (or, followed, the fork
 * child that began a trace of its own): false in a vfork child, which
 * shares our memory. Any thread; async-signal-safe (getpid). */
bool hb_in_owner(void) HB_HIDDEN;
/* Stops recording and finishes the trace (atexit, _exit, exec); only in
 * the owner. Idempotent, bounded. */
void hb_finish(void) HB_HIDDEN;
/* One message on stderr with write(2), no stdio: usable before libc's is
 * ready and from a signal handler. Any thread; async-signal-safe.
 * hb_warn2 writes a, b and a newline. */
void hb_warn(const char *msg) HB_HIDDEN;
void hb_warn2(const char *a, const char *b) HB_HIDDEN;
/* Starts the writer of a followed fork child on its first event; cheap
 * when there is nothing to start. Called with the guard held. */
void hb_start_deferred(void) HB_HIDDEN;

#endif
