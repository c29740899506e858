/* SPDX-License-Identifier: MIT */
/*
 * The symbol cache on disk: what libdw said about a module's addresses,
 * kept by build-id so that the next report on the same binaries skips
 * libdw. Opening a module's DWARF is most of a small report's time (libc's
 * debug file alone inflates ~10 MiB of compressed sections).
 *
 * One file per build-id, $XDG_CACHE_HOME/heldby/symbols/BUILDID (or
 * ~/.cache/...); HELDBY_SYMBOL_CACHE=off turns it off. A file is used only
 * while the module file and the debug file it came from are unchanged (size
 * and mtime), or, when there was no debug file, while /usr/lib/debug/
 * .build-id/ still has none. Anything unreadable or damaged is ignored: the
 * cache only ever saves time.
 */
#ifndef HELDBY_TOOLS_SYMCACHE_H
#define HELDBY_TOOLS_SYMCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "symbolize.h"

/* Called for each cached address; frames (n >= 1, strings malloc'd) pass
 * to the callee, which returns 0, or -1 to stop (it then frees them). */
typedef int (*symcache_add_fn)(void *ctx, uint64_t addr,
			       struct sym_frame *frames, size_t n);

/* Loads the cache of build-id bid, whose module is the file mainfile.
 * Returns the number of entries given to add, or -1 when there is no valid
 * cache. Not thread-safe. */
long symcache_load(const uint8_t *bid, size_t bidlen, const char *mainfile,
		   symcache_add_fn add, void *ctx);

/* Iterates the entries to save: sets *addr, *frames, *n and returns 1, or
 * returns 0 when there are no more. */
typedef int (*symcache_next_fn)(void *ctx, uint64_t *addr,
				const struct sym_frame **frames, size_t *n);

/* Replaces the cache of build-id bid (module file mainfile) with the
 * entries from next. debugfile
 * is the file libdw read DWARF from when it was not the module itself,
 * NULL otherwise. Written to a new file then renamed, so a reader never
 * sees half of one. Returns 0 or -errno; callers may ignore failure. */
int symcache_save(const uint8_t *bid, size_t bidlen, const char *mainfile,
		  const char *debugfile, symcache_next_fn next, void *ctx);

#endif
