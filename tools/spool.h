/* SPDX-License-Identifier: MIT */
#ifndef HELDBY_SPOOL_H
#define HELDBY_SPOOL_H

#include <stddef.h>

/* `heldby report -`: the reader seeks back and forth, so a trace on a pipe
 * is first copied to an unnamed file in $TMPDIR (or /tmp), mode 0600, gone
 * when closed. Standard input that is already a regular file is used as it
 * is. Returns a descriptor on the trace's bytes, or -errno with err set. */
int spool_stdin(char *err, size_t errlen);

#endif
