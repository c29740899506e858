/* SPDX-License-Identifier: MIT */
/*
 * A command line from a trace, one line and short enough for a table: what
 * `heldby run` and `heldby report` print for each process they list.
 */
#include "cmdline.h"

#include <stdio.h>
#include <string.h>

void
cmdline_join(const char *argv, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < len && o + 4 < cap;) {
		const char *a = argv + i;
		size_t n = strnlen(a, len - i);
		int quote = n == 0 ||
			    strpbrk(a, " \t\n'\"$`\\|&;<>()*?[]#~") != NULL;
		if (o)
			out[o++] = ' ';
		if (quote && o + 1 < cap)
			out[o++] = '\'';
		for (size_t k = 0; k < n && o + 5 < cap; k++) {
			if (a[k] == '\'') {
				memcpy(out + o, "'\\''", 4);
				o += 4;
			} else {
				out[o++] = a[k] == '\n' || a[k] == '\t' ? ' '
									: a[k];
			}
		}
		if (quote && o + 1 < cap)
			out[o++] = '\'';
		out[o] = 0;
		i += n + 1;
	}
}

/* The command line from its program's name on. */
static const char *
without_folder(const char *cmd)
{
	const char *end = strchr(cmd, ' ');
	if (cmd[0] != '/')
		return cmd;
	const char *slash = cmd;
	for (const char *p = cmd; *p && (!end || p < end); p++)
		if (*p == '/')
			slash = p + 1;
	return slash;
}

void
cmdline_fit(const char *cmd, size_t width, char *out)
{
	const char *full = without_folder(cmd);
	if (strlen(full) > width && width > 3)
		snprintf(out, width + 1, "%.*s...", (int)(width - 3), full);
	else
		snprintf(out, width + 1, "%s", full);
}
