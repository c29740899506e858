/* SPDX-License-Identifier: MIT */
/*
 * The run's log, the tool's side: `heldby run` and `heldby check` make it,
 * hand it to the shim (HELDBY_RUN_LOG), and read back which traces the
 * processes of the run began and which programs they ran untraced
 * (shim/runlog.c writes it; docs/lifecycle.md has the lines).
 */
#ifndef HELDBY_TOOLS_RUNLOG_H
#define HELDBY_TOOLS_RUNLOG_H

#include <stddef.h>
#include <sys/types.h>

struct rl_entry {
	char kind; /* 'T': began the trace fields[0]; 'U': ran fields[0]
		    * with argv fields[1..] untraced; 'F': was forked */
	pid_t pid; /* 0: not known (system, popen) */
	pid_t ppid;
	char **fields; /* unescaped, NUL-terminated strings */
	size_t nfields;
};

struct runlog {
	struct rl_entry *e; /* in the order they were written */
	size_t n;
};

/* Creates an empty log (mode 0600, a new name) in $TMPDIR or /tmp; its
 * path into path. Returns 0 or -errno. */
int runlog_create(char *path, size_t cap);

/* Reads the log; a line that does not parse is skipped (a line cut at the
 * limit still parses). Returns 0, or -errno (*out then empty). */
int runlog_read(const char *path, struct runlog *out);
void runlog_free(struct runlog *log);

#endif
