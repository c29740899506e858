/* SPDX-License-Identifier: MIT */
/* `heldby run`: a program under the shim, then a short summary. */
#ifndef HELDBY_TOOLS_RUN_H
#define HELDBY_TOOLS_RUN_H

#include <stddef.h>
#include <sys/types.h>

struct run_opts {
	const char *pattern; /* HELDBY_OUTPUT; NULL: "heldby.%p.hbt" */
	char *const *argv;   /* PROG ARGS…, NULL-terminated */
};

/* Runs the program and returns the exit status heldby should end with:
 * the program's own, 128+signal if a signal killed it, 127 if it could
 * not be executed, 2 if the trace's folder cannot be written (the program
 * is then not run). A program LD_PRELOAD cannot trace (static, its own
 * malloc, set-user-ID) is run untraced, with one line on stderr saying so. */
int run_program(const struct run_opts *o);

/* Expands %p (pid) and %% in pattern into out. Returns 0, or -ENAMETOOLONG. */
int run_expand(const char *pattern, pid_t pid, char *out, size_t outlen);

/* Finds libheldby.so beside this executable (build tree, installed tree),
 * or in $HELDBY_SHIM. Returns 0 and the absolute path, or -ENOENT. */
int run_find_shim(char *out, size_t outlen);

#endif
