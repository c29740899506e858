/* SPDX-License-Identifier: MIT */
/* `heldby run`: a program under the shim, then a short summary. */
#ifndef HELDBY_TOOLS_RUN_H
#define HELDBY_TOOLS_RUN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct run_opts {
	const char *pattern; /* HELDBY_OUTPUT; NULL: "heldby.%p.hbt" */
	char *const *argv;   /* PROG ARGS…, NULL-terminated */
	int follow; /* HELDBY_FOLLOW=1: children get traces of their own */
};

/* Runs the program and returns the exit status heldby should end with:
 * the program's own, 128+signal if a signal killed it, 127 if it could
 * not be executed, 2 if the trace's folder cannot be written (the program
 * is then not run). A program LD_PRELOAD cannot trace (static, its own
 * malloc, set-user-ID) is run untraced, with one line on stderr saying so. */
int run_program(const struct run_opts *o);

/* A program that ran under the shim. */
struct run_done {
	int status;	      /* from waitpid */
	char trace[PATH_MAX]; /* the pattern expanded with the program's pid, or
			       * the NAME.N the shim took because NAME existed
			       */
	int have_trace;	      /* the program wrote it; trace is its path */
	int untraced; /* LD_PRELOAD cannot trace it: run without the shim */
	uint64_t started_ns; /* CLOCK_REALTIME when the program was started: its
			      * trace and its children's are newer */
};

/* Runs the program with the shim preloaded and waits for it (ignoring ^C
 * and ^\ meanwhile, as time(1) does). Returns 0 with *d filled, or, with
 * the reason printed on stderr, the status heldby should end with: 1 when
 * it cannot set up, 2 if the trace's folder cannot be written, 127 if the
 * program could not be executed. Not thread-safe (changes signal dispositions).
 */
int run_traced(const struct run_opts *o, struct run_done *d);

/* The status heldby passes on for a waitpid status: the program's own exit
 * status, or 128+signal with "killed by signal" printed on stderr. */
int run_status(const char *prog, int status);

/* When a program run with the shim wrote no trace, prints why that may
 * be; nothing when it has one or ran untraced (run_traced said why). */
void run_no_trace(const struct run_done *d);

/* Expands %p (pid) and %% in pattern into out. Returns 0, or -ENAMETOOLONG. */
int run_expand(const char *pattern, pid_t pid, char *out, size_t outlen);

/* Finds libheldby.so beside this executable (build tree, installed tree),
 * or in $HELDBY_SHIM. Returns 0 and the absolute path, or -ENOENT. */
int run_find_shim(char *out, size_t outlen);

#endif
