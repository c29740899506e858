/* SPDX-License-Identifier: MIT */
/*
 * The shim's descriptors (the trace, libunwind's pipe, the files it reads
 * for a moment) out of the program's way (fds.c): close, close_range and
 * closefrom leave them open while they hold our objects, dup2 and dup3
 * move them first. The wrappers are exported and have no entry point here.
 */
#ifndef HELDBY_FDS_H
#define HELDBY_FDS_H

#include <sys/types.h>

#include "attrs.h"

struct tfile;
/* The trace whose descriptor that applies to (NULL: none; before the
 * file is closed, and in a fork child). Any thread. */
void fds_trace(struct tfile *t) HB_HIDDEN;
/* open(2) for the shim's own files (tfile_open, tracefile.h): the
 * descriptor among the shim's numbers, above the program's limit where
 * the hard limit allows, and never one the program's dup2, dup3 or
 * close_range takes meanwhile. O_CLOEXEC always. Any thread. */
int fds_open(const char *path, int flags, mode_t mode) HB_HIDDEN;
/* In a fork child: no open of ours is under way there. */
void fds_forked(void) HB_HIDDEN;
/* Around bt_init, which has libunwind make its pipe on the lowest free
 * numbers: takes every free number below the shim's, so that the pipe
 * lands there. -1, taking nothing, when the limit leaves no room for it
 * (libunwind is then not to be used: bt_without_libunwind). fds_unfill
 * gives the numbers back and keeps the pipe. Start-up, one thread. */
int fds_fill_low(void) HB_HIDDEN;
void fds_unfill(void) HB_HIDDEN;

#endif
