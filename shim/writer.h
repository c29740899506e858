/* SPDX-License-Identifier: MIT */
/*
 * The writer thread (writer.c): it drains the rings in the events' order,
 * keeps the live counters while recording, and writes the trace. These
 * are the calls the rest of the shim makes to start, sync, fork and stop
 * it.
 */
#ifndef HELDBY_WRITER_H
#define HELDBY_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "attrs.h"

/* Creates the trace (HELDBY_OUTPUT; .1 to .99 appended where taken) and
 * starts the thread. 0, or -errno after one warning (nothing runs then).
 * Start-up, or a followed fork child's first event; one thread. */
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
/* Whether the writer thread is running. Any thread. */
bool writer_running(void) HB_HIDDEN;
/* No writer thread is running (never started, or finished). Any
 * thread. */
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

#endif
