/* SPDX-License-Identifier: MIT */
/*
 * The crash handler and what goes with it: the alternate stacks it runs on
 * and the sigaction/signal/sigaltstack wrappers that keep it out of the
 * program's sight (signals.c). The wrappers are exported and have no entry
 * point here.
 */
#ifndef HELDBY_SIGNALS_H
#define HELDBY_SIGNALS_H

#include <signal.h>

#include "attrs.h"

/* Installs the crash handler over the default action of SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE and SIGABRT, and gives the calling thread a stack for it.
 * Once, from hb_init, once recording started. Not async-signal-safe. */
void sig_init(void) HB_HIDDEN;

/* Gives the calling thread an alternate signal stack of the shim's own,
 * unless it has one already (the program's, or ours) or the crash handler
 * is not installed. For a thread's first recorded event (its ring); keeps
 * errno; allocates nothing (mmap); async-signal-safe. */
void sig_thread_start(void) HB_HIDDEN;

/* At thread exit, when the thread's ring is released: takes down and
 * unmaps the shim's stack of this thread, unless the thread is running on
 * it. Keeps errno; async-signal-safe. */
void sig_thread_exit(void) HB_HIDDEN;

#endif
