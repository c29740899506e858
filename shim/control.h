/* SPDX-License-Identifier: MIT */
/*
 * Requests from `heldby snapshot` (control.c): the tool puts a file beside
 * the trace, PATH.ctl, and the writer thread, which looks for it now and
 * then, answers in the same file. A file rather than a signal or a thread:
 * the program notices nothing. The protocol is a contract with tools/
 * (docs/lifecycle.md, "Snapshots").
 */
#ifndef HELDBY_CONTROL_H
#define HELDBY_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "attrs.h"

/* A request is looked for at most this often. */
#define CTL_POLL_NS 50000000u
/* The longest label a request may carry. */
#define CTL_LABEL_MAX 200

/* One trace's requests; all zero for a new trace. */
struct ctl {
	uint64_t last_poll; /* hb_now of the last look */
	uint64_t snapshots; /* requests taken, for the default labels */
};

/* A request taken, until it is answered. */
struct ctl_req {
	int fd; /* the request file, open for the answer */
	char label[CTL_LABEL_MAX + 1];
};

/* Whether a look for a request is due at now (hb_now); counts it as made
 * when it is. The writer thread only. */
bool ctl_due(struct ctl *c, uint64_t now) HB_HIDDEN;
/* Opens trace_path's request file (trace_path + ".ctl") and checks it: a
 * regular file, not a symlink, owned by the euid or root, not writable by
 * group or others, under 512 bytes, reading "snapshot\t<label>\n". True
 * with *q filled (an empty label becomes "snapshot-N", N this trace's
 * requests so far, this one included); ctl_answer must follow. False
 * when there is none or it is not one to act on: it is left as it is.
 * The writer thread only, outside any lock (it opens a file). */
bool ctl_take(struct ctl *c, const char *trace_path,
	      struct ctl_req *q) HB_HIDDEN;
/* Answers q and closes it: "done\t<label>\t<t_ns>\n" when err is 0, else
 * "failed\t<strerror(-err)>\n", written over the request (pwrite at 0,
 * then ftruncate to its length). The tool removes the file. */
void ctl_answer(struct ctl_req *q, uint64_t t_ns, int err) HB_HIDDEN;

#endif
