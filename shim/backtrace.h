/* SPDX-License-Identifier: MIT */
/*
 * Stack capture (backtrace.c): the fast unwinder (unwind.h) where it can,
 * libunwind where it gives up or HELDBY_UNWIND says so, and the shim's own
 * frames left out.
 */
#ifndef HELDBY_BACKTRACE_H
#define HELDBY_BACKTRACE_H

#include <stdbool.h>

#include "attrs.h"
#include "unwind.h"

/* The frames a capture may take beyond the max asked for: the shim's own
 * and libunwind's, which are dropped from its start. */
#define BT_SLACK 16

/* Once, at start-up, before the first capture (after fds_fill_low: its
 * first call makes libunwind's pipe). One thread. */
void bt_init(void) HB_HIDDEN;
/* Captures the return addresses into buf, which has room for max +
 * BT_SLACK entries; returns how many (at most max), innermost first from
 * buf[*first], the shim's own frames left out. memo, caller and *reuse: as
 * uw_backtrace's; reuse->walk is 0 unless the frames returned are the fast
 * unwinder's whole walk. Keeps the stack small: no copy of its own.
 * Guard held; thread-safe; not async-signal-safe (libunwind). */
int bt_capture(void **buf, int max, int *first, void **memo, const void *caller,
	       struct uw_reuse *reuse) HB_HIDDEN;
/* After dlclose: unwind information cached for the unloaded code is stale
 * (a later library may be mapped at the same addresses). Thread-safe. */
void bt_flush(void) HB_HIDDEN;
/* HELDBY_UNWIND=check: one line on stderr saying how often the fast
 * unwinder and libunwind disagreed. At exit, once. */
void bt_report(void) HB_HIDDEN;
/* libunwind is not used at all (before bt_init), or no more (its pipe is
 * lost: fds.c); wait: until no libunwind walk is under way on another
 * thread (bounded, 1 s). Without it, a stack the fast unwinder gives up on
 * keeps its first frame. Any thread; async-signal-safe. */
void bt_without_libunwind(void) HB_HIDDEN;
void bt_stop_libunwind(bool wait) HB_HIDDEN;
/* fork, in pthread_atfork's order: libunwind's locks (and the loader's,
 * which its walks take) must not be held by another thread when the
 * process forks, or the child's first walk waits for ever. prepare holds
 * new walks back and waits (bounded: 1 s) for those under way; a child
 * forked while one still was does without libunwind. Not async-signal-
 * safe (a handler's walk on the forking thread is let through). */
void bt_fork_prepare(void) HB_HIDDEN;
void bt_fork_parent(void) HB_HIDDEN;
void bt_fork_child(void) HB_HIDDEN;
/* Whether the code address is libunwind's (its calls to close). Any
 * thread; async-signal-safe. */
bool bt_from_libunwind(const void *addr) HB_HIDDEN;

#endif
