/* SPDX-License-Identifier: MIT */
/*
 * The heldby command: which command, and nothing else; each command parses
 * its own options (run_cmd.c, report_cmd.c, check.c). Usage errors are one
 * line on stderr and exit status 2; a trace that cannot be read is
 * "heldby: PATH: reason" and exit status 1.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "heldby/trace.h"
#include "report.h"
#include "run.h"
#include "snapshot.h"

#ifndef HELDBY_VERSION
#define HELDBY_VERSION "unknown"
#endif

static const char usage[] =
	"usage: heldby run [-o PATTERN] [--follow] [--] PROG [ARGS...]\n"
	"       heldby report [--json] [--top N] [--depth N | --full] [--color WHEN]\n"
	"                     [--at WHEN] TRACE | DIR | TRACE...\n"
	"       heldby check [--max-peak SIZE] [--max-end SIZE] [--max-blocks N]\n"
	"                    [--no-follow] [-o PATTERN] [--] PROG [ARGS...]\n"
	"       heldby snapshot [--label L] [--json] [--top N] PID\n"
	"       heldby --help | --version\n"
	"\n"
	"Which call sites hold the bytes: at the peak, and at exit.\n"
	"\n"
	"  run      run PROG with libheldby.so preloaded; write a trace to PATTERN\n"
	"           (default heldby.%p.hbt, %p = pid) and summarise it on stderr.\n"
	"           A program PROG execs is traced too (same pid: PATTERN.1, ...).\n"
	"           Ends as PROG ended; TERM INT HUP QUIT USR1 USR2 go to PROG.\n"
	"           --follow (-f): forked children and what they run are traced\n"
	"           too, each to PATTERN with its pid; a table lists them.\n"
	"  report   the holders at the peak, what was held at exit, the busiest\n"
	"           allocation sites. --json: the full, stable form; --top N: list\n"
	"           length (default 10 in text, all in JSON; 0: all); --depth N:\n"
	"           frames shown (default 8); --full: every frame, nothing folded\n"
	"           or merged; --color auto|always|never; --at WHEN: at one\n"
	"           moment (peak, end, 12.5s, a mark's label) with the ages held.\n"
	"  check    run PROG as run does; exit 1 when it held more than --max-peak\n"
	"           bytes at the peak, --max-end bytes or --max-blocks blocks at\n"
	"           exit, naming the top holders and keeping the trace. SIZE:\n"
	"           1048576, 64KiB or 64K (1024s), 64KB (1000s), 1.5GiB, 10M.\n"
	"           Each program PROG runs is checked on its own; --no-follow:\n"
	"           PROG's process alone.\n"
	"           PROG's own failure is passed on. More: heldby check --help.\n"
	"  snapshot mark \"now\" in the trace of running process PID (recorded by\n"
	"           heldby), wait until it is on disk, and print the holders then.\n";

/* Each command's main gets argv from its own name on. */
static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} commands[] = {
	{ "run", run_main },
	{ "report", report_main },
	{ "check", check_main },
	{ "snapshot", snapshot_main },
};

int
main(int argc, char **argv)
{
	if (argc < 2)
		return cli_bad_usage(NULL, "no command given", NULL);
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("heldby %s (trace format %u)\n", HELDBY_VERSION,
		       HELDBY_TRACE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return cli_bad_usage(NULL, "unknown option", cmd);
	return cli_bad_usage(NULL, "unknown command", cmd);
}
