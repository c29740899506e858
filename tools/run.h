/* SPDX-License-Identifier: MIT */
/* `heldby run`: a program under the shim, then a short summary. */
#ifndef HELDBY_TOOLS_RUN_H
#define HELDBY_TOOLS_RUN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runlog.h"

struct run_opts {
	const char *pattern; /* HELDBY_OUTPUT; NULL: "heldby.%p.hbt" */
	char *const *argv;   /* PROG ARGS…, NULL-terminated */
	int follow; /* HELDBY_FOLLOW=1: children get traces of their own */
};

/* `heldby run ARGS`: argv[0] is "run". Parses the options (getopt: not
 * thread-safe), then returns run_program's status, or 0 after --help, 2
 * for bad usage. */
int run_main(int argc, char **argv);

/* Runs the program and ends the way it ended: its exit status, or death
 * by the same signal (128+signal where the signal cannot end heldby); 127
 * if it could not be found, 126 if it could not be executed, 2 if the
 * trace's folder cannot be written (the program is then not run). A
 * program LD_PRELOAD cannot trace (static, its own malloc, set-user-ID) is
 * run untraced, with one line on stderr saying so. */
int run_program(const struct run_opts *o);

/* A program that ran under the shim. */
struct run_done {
	int status;	      /* from waitpid */
	pid_t pid;	      /* the program's */
	char trace[PATH_MAX]; /* the last trace the program's process began
			       * (an exec'd program's), or the pattern
			       * expanded with its pid */
	int have_trace;	      /* the program wrote it; trace is its path */
	char named[PATH_MAX]; /* the pattern expanded with the program's pid:
			       * trace, unless a file had that name */
	int untraced; /* LD_PRELOAD cannot trace it: run without the shim */
	char log_path[PATH_MAX]; /* the run's log, removed by run_done_free */
	struct runlog log;	 /* what every process of the run recorded */
};

/* Runs the program with the shim preloaded and waits for it, passing the
 * terminating and user signals sent to heldby on to it (not those the
 * terminal sent: the program had them too). Returns 0 with *d filled (free
 * it with run_done_free), or, with the reason printed on stderr, the
 * status heldby should end with: 1 when it cannot set up, 2 if the
 * pattern is too long or the trace's folder cannot be written, 127 if the
 * program was not found, 126 if it could not be executed. Not thread-safe
 * (changes signal dispositions). */
int run_traced(const struct run_opts *o, struct run_done *d);
void run_done_free(struct run_done *d);

/* After run_traced: what the run recorded, on stderr: the main trace's
 * summary, the programs the process exec'd before, the other processes'
 * traces in pid order (a table), the programs it ran untraced, and
 * whether it daemonised (run_summary.c). */
void run_summarise(struct run_done *d, int follow);
/* The programs the run started untraced, a line each (the first ten), with
 * the hint to follow them; nothing when there are none. */
void run_print_untraced(const struct runlog *log);

/* The status heldby passes on for a waitpid status: the program's own exit
 * status, or 128+signal with "killed by signal" printed on stderr. */
int run_status(const char *prog, int status);

/* Ends heldby as the waitpid status says the program ended: returns the
 * exit status, or raises the signal that killed it (no core dump of
 * heldby's own) and returns 128+signal only if that did not end it. */
int run_die_like(int status);

/* When a program run with the shim wrote no trace, prints why that may
 * be; nothing when it has one or ran untraced (run_traced said why). */
void run_no_trace(const struct run_done *d);

/* Expands %p (pid) and %% in pattern into out. Returns 0, or -ENAMETOOLONG. */
int run_expand(const char *pattern, pid_t pid, char *out, size_t outlen);

/* Finds libheldby.so beside this executable (build tree, installed tree),
 * or in $HELDBY_SHIM. Returns 0 and the absolute path, or -ENOENT. */
int run_find_shim(char *out, size_t outlen);

#endif
