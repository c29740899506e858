/* SPDX-License-Identifier: MIT */
/* Whether a program can be traced through LD_PRELOAD at all. */
#ifndef HELDBY_TOOLS_PROGCHECK_H
#define HELDBY_TOOLS_PROGCHECK_H

#include <stddef.h>

enum prog_kind {
	PROG_UNKNOWN, /* not ELF (a script), or unreadable: try it */
	PROG_DYNAMIC, /* dynamically linked, malloc from a library: traceable */
	PROG_STATIC,  /* no program interpreter: LD_PRELOAD never applies */
	PROG_OWN_MALLOC, /* defines malloc/free itself: resolves them before us
			  */
	PROG_SETID,	 /* set-user/group-ID to someone else: the loader drops
			  * LD_PRELOAD (secure-execution mode) */
};

/* Looks at the ELF file at path. Thread-safe; never fails (PROG_UNKNOWN). */
enum prog_kind prog_check(const char *path);

/* The file execvp(argv0) would run, into out. Returns 0 or -ENOENT
 * (-ENAMETOOLONG). Reads PATH; thread-safe as getenv is. */
int prog_resolve(const char *argv0, char *out, size_t outlen);

#endif
