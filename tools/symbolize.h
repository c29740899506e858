/* SPDX-License-Identifier: MIT */
/*
 * Offline symbolisation with elfutils libdw: function (demangled), file,
 * line and inlined frames for an address inside a traced module, cached per
 * module and per address because dwfl lookups are slow, and on disk by
 * build-id (symcache.h) because opening the DWARF is slower still.
 */
#ifndef HELDBY_TOOLS_SYMBOLIZE_H
#define HELDBY_TOOLS_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

struct sym_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	unsigned line;	      /* 0 when unknown */
	int inlined;	      /* 1: inlined into the next frame out */
};

/* Frees an array of n frames and the strings they own. */
void sym_frames_free(struct sym_frame *f, size_t n);

struct symbolizer;

/* Not thread-safe. sym_new returns NULL when out of memory. */
struct symbolizer *sym_new(void);
void sym_free(struct symbolizer *s);
/* Adds a directory (at most 4) in which to look for modules that the
 * trace names by a relative path (dlopen("./libx.so")). */
void sym_add_dir(struct symbolizer *s, const char *dir);

/* Resolves the return address m + offset (symbolised at offset - 1; pass
 * is_return 0 for an exact address). Sets *frames to an array, innermost
 * (most inlined) first, owned by s and valid until sym_free; returns its
 * length, at least 1. m may be NULL (address in no known module): the one
 * frame then has only NULLs. Whether the module file could be used is in
 * *usable (0: missing or another build-id). */
size_t sym_resolve(struct symbolizer *s, const struct rd_module *m,
		   uint64_t offset, int is_return,
		   const struct sym_frame **frames);

/* Writes what was resolved with libdw for modules with a build-id to the
 * symbol cache on disk (symcache.h), so the next report skips libdw.
 * Failures are ignored: the cache only saves time. */
void sym_save_cache(struct symbolizer *s);

/* 1 if the module's file was found and matches its build-id. */
int sym_module_usable(struct symbolizer *s, const struct rd_module *m);

/* 1 if the module's file was found but holds no names beyond .dynsym's
 * (what it exports): no .symtab, no MiniDebugInfo (.gnu_debugdata), no
 * DWARF and no debug file found; a stripped binary whose debug package is
 * not installed. 0 otherwise, m NULL included. May open the debug file
 * (once per module); not thread-safe. */
int sym_module_stripped(struct symbolizer *s, const struct rd_module *m);

#endif
