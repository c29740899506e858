/* SPDX-License-Identifier: MIT */
/*
 * `heldby report` over several traces, or a folder of them: the one per
 * process that `heldby run --follow` leaves for a server that forks a child
 * per connection. A table of the processes, and the holders at their peaks
 * merged by call site across them.
 */
#ifndef HELDBY_TOOLS_REPORT_MANY_H
#define HELDBY_TOOLS_REPORT_MANY_H

#include <stddef.h>
#include <stdio.h>

#include "report.h"

/* Whether `heldby report`'s n trace arguments ask for this view: more than
 * one, or one that is a folder. Not thread-safe (stat). */
int report_many_wanted(char *const *args, size_t n);

/* The traces in the folder dir: each regular file in it (not in its
 * subfolders) whose name ends ".hbt" or ".hbt.N", N a number, as
 * "dir/name", sorted by name. *out is a malloc'd array of *n malloc'd
 * paths (report_many_free_paths), NULL when *n is 0. Returns 0, or -errno
 * when the folder cannot be read or memory runs out (*n then 0).
 * Thread-safe. */
int report_many_expand(const char *dir, char ***out, size_t *n);
void report_many_free_paths(char **paths, size_t n);

/* The report over args (traces, and folders of traces expanded with
 * report_many_expand) to out: a table of the processes and the merged
 * holders at their peaks, as text or, json set, as the JSON object of
 * docs/report-json.md's "Several traces". opt: top (0: all), depth (0: 8),
 * full; colour is not used. A trace or folder that cannot be read, or a
 * folder with no trace, gets one line on stderr and the others are still
 * reported. Returns heldby's exit status: 0, or 1 when one of them could
 * not be read or out not written. Not thread-safe (the views are not). */
int report_many_main(char *const *args, size_t n, const struct report_opts *opt,
		     int json, FILE *out);

#endif
