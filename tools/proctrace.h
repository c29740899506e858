/* SPDX-License-Identifier: MIT */
/*
 * A live process and its trace, as /proc shows them: whether a trace is
 * still being written by its process, and which trace a process that
 * heldby records is writing now.
 */
#ifndef HELDBY_TOOLS_PROCTRACE_H
#define HELDBY_TOOLS_PROCTRACE_H

#include <stddef.h>
#include <stdint.h>

/* Whether process pid is alive and holds the file at path open for
 * writing: the trace is still being written, not cut short. A pid reused
 * by another program does not hold it. */
int proctrace_writing(const char *path, uint64_t pid);

/* The trace process pid is writing now, into path (absolute, as the
 * process opened it). 0; -ESRCH when there is no such process, -EPERM
 * when its descriptors may not be read, -ENOENT when heldby does not
 * record it (no trace open for writing). err gets a one-line reason. */
int proctrace_find(uint64_t pid, char *path, size_t len, char *err,
		   size_t errlen);

#endif
