/* SPDX-License-Identifier: MIT */
/*
 * The run's log: what each process of a `heldby run` or `heldby check`
 * did, for the tool to read (tools/runlog.c reads it). Line formats are in
 * docs/lifecycle.md.
 */
#ifndef HELDBY_SHIM_RUNLOG_H
#define HELDBY_SHIM_RUNLOG_H

#include <sys/types.h>

#include "attrs.h"

/* Reads HELDBY_RUN_LOG from environ (an absolute path; anything else is
 * ignored). Start-up only. */
void runlog_init(void) HB_HIDDEN;

/* "This process began the trace at path." Any thread; no allocation. */
void runlog_trace(const char *path) HB_HIDDEN;

/* "Process pid (0: not known), child of ppid, runs prog with argv, not
 * traced." Any thread, a vfork child too: system calls and the stack only. */
void runlog_untraced(pid_t pid, pid_t ppid, const char *prog,
		     char *const argv[]) HB_HIDDEN;

/* "This process forked child." In the parent, after fork: the tool then
 * knows of a daemon before its launcher ends. */
void runlog_forked(pid_t child) HB_HIDDEN;

#endif
