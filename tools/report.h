/* SPDX-License-Identifier: MIT */
/*
 * What the views share: a loaded trace (reader + replay + symbolizer),
 * symbolised stacks, site rankings and the folding of allocator plumbing;
 * and the views and the `heldby report` command themselves.
 */
#ifndef HELDBY_TOOLS_REPORT_H
#define HELDBY_TOOLS_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reader.h"
#include "replay.h"
#include "symbolize.h"

/* One symbolised frame; strings are owned by the symbolizer or reader. */
struct frame {
	const char *function; /* NULL: unknown */
	const char *file;     /* NULL: unknown */
	unsigned line;	      /* 0: unknown */
	int inlined;
	const char *module; /* module path, NULL: in no known module */
	uint64_t offset;    /* ip - load bias (ip when no module) */
	uint64_t ip;
	const struct rd_module *mod; /* the module itself, NULL: none */
};

struct report_opts {
	size_t top; /* 0: no limit */
	int color;
	int brief;    /* no hints about `heldby report`'s options */
	size_t depth; /* text: frames shown per stack; 0: the default (8) */
	int full;     /* text: every frame, nothing folded, nothing merged */
};

struct report {
	struct reader *r;
	struct replay rp;
	struct symbolizer *sym;
	struct report_opts opt;
	const char *at_when; /* report --at WHEN as given; NULL: none */
	int being_written;   /* its process is alive and still writes it */
};

/* RANK_AT: what was held at the --at moment (rp.at). */
enum rank_by { RANK_PEAK, RANK_END, RANK_CALLS, RANK_AT };

/* Opens and replays path. Returns 0, or -errno with a one-line reason in
 * err. */
int report_load(struct report *rep, const char *path, char *err, size_t errlen);
/* As report_load, and takes what was held at WHEN: "peak" (the trace is
 * read twice), "end", a time since the start ("12.5s", "1500ms", "2m")
 * or a mark's label (its first mark so labelled). A WHEN the trace does
 * not reach, or no mark has, is -ERANGE with the reason in err. */
int report_load_at(struct report *rep, const char *path, const char *when,
		   char *err, size_t errlen);
void report_unload(struct report *rep);

/* Symbolises a stack, innermost frame first, inlined frames as their own
 * entries. *out is malloc'd (free it); returns the count (0 for stack 0). */
size_t report_stack(struct report *rep, uint64_t stack, struct frame **out);

/* Sites with a non-zero value for by, largest first (ties: stack id).
 * Returns a malloc'd array of *n pointers. */
struct rp_site **report_rank(struct report *rep, enum rank_by by, size_t *n);

/* How many leading frames are allocator plumbing (malloc, operator new,
 * std::allocator, container internals, libstdc++ …); never all of them. */
size_t report_fold(const struct frame *f, size_t n);

/* The modules of the frames a view shows as module+0x... because they
 * have no symbols (sym_module_stripped): a view adds what it shows, then
 * names each module once, with where its symbols would come from. Start
 * from { 0 }. */
struct report_nosyms {
	const struct rd_module **m; /* in the order first shown */
	size_t n, cap;
};

/* Adds the modules of the nameless frames among f[0..n). Out of memory, a
 * module is left out: the list is a hint. Not thread-safe. */
void report_nosyms_add(struct report *rep, struct report_nosyms *ns,
		       const struct frame *f, size_t n);
void report_nosyms_free(struct report_nosyms *ns);

/* The path at which gdb and elfutils look for m's debug file by its
 * build-id, /usr/lib/debug/.build-id/xx/yyyy.debug, into buf. Returns 0,
 * or -ENOENT when m has no build-id (buf then ""). */
int report_debug_path(const struct rd_module *m, char *buf, size_t len);

/* For report_json, after its lists: writes
 * ,\n "modules_without_symbols": [{"module", "path", "build_id"}, ...]
 * for the frames of the lists it printed (each list's first opt.top
 * sites, whole stacks). Not thread-safe. */
void report_json_nosyms(struct report *rep, FILE *o);

/* Whether the traced program is a CPython interpreter (its executable or
 * its argv[0] is python, python3, python3.11, …): its objects come from
 * pymalloc unless PYTHONMALLOC=malloc, so the trace sees a part of them. */
int report_is_python(const struct reader *r);

/* Whether f is where a process or a thread starts (_start,
 * __libc_start_main, start_thread, clone, ...): nothing above it is the
 * program's, and it is the same in every process. */
int report_is_start(const struct frame *f);

/* Last path component. */
const char *report_basename(const char *path);

/* `heldby report ARGS` (report_cmd.c): argv[0] is "report". Returns
 * heldby's exit status: 0, 1 when the trace cannot be read or the report
 * not written, 2 for bad usage. Not thread-safe (getopt, stdio). */
int report_main(int argc, char **argv);

int report_text(struct report *rep, FILE *out);
/* One list of report_text alone, with its heading: the first opt.top
 * holders by the given ranking, stacks folded and symbolised, like
 * stacks merged. Returns 0, -ENOMEM or -EIO. Not thread-safe. */
int report_text_holders(struct report *rep, FILE *out, enum rank_by by);
/* The version of the JSON's shape (its "format"), described in
 * docs/report-json.md: raised when a field changes meaning or goes, never
 * for a field added. */
#define REPORT_JSON_FORMAT 1
int report_json(struct report *rep, FILE *out);

#endif
