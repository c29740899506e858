/* SPDX-License-Identifier: MIT */
/*
 * The usage error every command prints the same way, so that a script (or
 * a person) can tell bad usage, exit status 2, from a failed run.
 */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

int
cli_bad_usage(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "heldby%s%s: %s%s%s (see heldby --help)\n",
		cmd ? " " : "", cmd ? cmd : "", what, arg ? " " : "",
		arg ? arg : "");
	return 2;
}

int
cli_bad_option(const char *cmd, int c, char *const *argv)
{
	return cli_bad_usage(
		cmd, c == ':' ? "option needs an argument:" : "unknown option",
		argv[optind - 1]);
}
