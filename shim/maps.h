/* SPDX-License-Identifier: MIT */
/*
 * One line of /proc/self/maps: the mapping that holds an address. Read
 * with plain system calls into the caller's buffer, no allocation: the
 * callers run under the loader's lock (modules.c) or in a signal handler
 * that may have interrupted malloc (unwind.c).
 */
#ifndef HELDBY_MAPS_H
#define HELDBY_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include "attrs.h"

/* The line whose range holds addr, NUL-terminated inside buf (cap bytes),
 * with its range in *lo, *hi; NULL when there is none. A line longer than
 * the buffer is skipped. */
const char *maps_line_of(uintptr_t addr, char *buf, size_t cap, uintptr_t *lo,
			 uintptr_t *hi) HB_HIDDEN;

/* The mapping that holds addr, asked of the kernel with PROCMAP_QUERY
 * (Linux 6.11): its range in *lo, *hi and its name ("[stack]"; "" when
 * anonymous, or when longer than the cap bytes of name). 1: found; 0:
 * none holds addr; -1: the kernel cannot say (older), use maps_line_of. */
int maps_query(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, char *name,
	       size_t cap) HB_HIDDEN;

#endif
