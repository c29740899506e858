/* SPDX-License-Identifier: MIT */
/*
 * A traced program's command line as the tables show it: `heldby run`'s
 * list of traced processes and `heldby report`'s over several traces.
 */
#ifndef HELDBY_TOOLS_CMDLINE_H
#define HELDBY_TOOLS_CMDLINE_H

#include <stddef.h>

/* argv (a NUL after each, len bytes, reader_cmdline) as one line into out
 * (cap bytes, at least 1), quoted where a shell would need it, tabs and
 * newlines as spaces; cut where it does not fit. Thread-safe. */
void cmdline_join(const char *argv, size_t len, char *out, size_t cap);

/* cmd (cmdline_join's) in at most width characters into out (width + 1
 * bytes): its program's folder left out, since the table has room for the
 * name and the first arguments; "..." where it is cut. Thread-safe. */
void cmdline_fit(const char *cmd, size_t width, char *out);

#endif
