/* SPDX-License-Identifier: MIT */
/*
 * What the commands' argument parsing shares: the one-line usage error.
 * Each command (run_cmd.c, report_cmd.c, check.c) parses its own options;
 * main.c only picks the command.
 */
#ifndef HELDBY_TOOLS_CLI_H
#define HELDBY_TOOLS_CLI_H

/* "heldby CMD: WHAT ARG (see heldby --help)" on stderr; cmd and arg may be
 * NULL. Returns 2, heldby's exit status for bad usage. Not thread-safe
 * (stdio); not async-signal-safe. */
int cli_bad_usage(const char *cmd, const char *what, const char *arg);
/* cli_bad_usage for what getopt_long returned on a bad option: ':' (its
 * argument missing) or anything else (unknown), the option being
 * argv[optind - 1]. Returns 2. Not thread-safe; not async-signal-safe. */
int cli_bad_option(const char *cmd, int c, char *const *argv);

#endif
