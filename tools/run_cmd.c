/* SPDX-License-Identifier: MIT */
/*
 * `heldby run`'s options and help; the running itself is run.c. Kept apart
 * so that main.c only picks the command, as for report and check.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run.h"

static const char run_usage[] =
	"usage: heldby run [-o PATTERN] [--follow] [--] PROG [ARGS...]\n"
	"\n"
	"Runs PROG with libheldby.so preloaded, writes a trace and summarises it\n"
	"on stderr: the peak, what was held at exit, the calls.\n"
	"\n"
	"  -o, --output PATTERN  the trace's path; %p is the pid (default\n"
	"                        heldby.%p.hbt, or $HELDBY_OUTPUT); an existing\n"
	"                        folder: the default name inside it; a missing\n"
	"                        folder is made. An existing file is never\n"
	"                        overwritten: PATTERN.1, PATTERN.2, ... instead.\n"
	"  -f, --follow          trace forked children and what they run too,\n"
	"                        each to PATTERN with its pid; a table lists them\n"
	"                        (also HELDBY_FOLLOW=1)\n"
	"\n"
	"A program PROG execs is traced too: a script that ends in `exec ./svc`\n"
	"is summarised as ./svc. TERM, INT, HUP, QUIT, USR1 and USR2 sent to heldby\n"
	"go to PROG; PROG starts with heldby's signal dispositions, mask and\n"
	"environment. heldby ends as PROG ended: its exit status, or the signal\n"
	"that killed it; 127 when PROG is not found, 126 when it cannot be run.\n";

int
run_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* HELDBY_FOLLOW=1 in heldby's environment is --follow, and
	 * HELDBY_OUTPUT is -o: what the shim would do preloaded by hand */
	const char *fenv = getenv("HELDBY_FOLLOW");
	const char *oenv = getenv("HELDBY_OUTPUT");
	struct run_opts ro = { .follow = fenv && !strcmp(fenv, "1"),
			       .pattern = oenv && *oenv ? oenv : NULL };
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg)
				return cli_bad_usage(
					"run", "empty output pattern", NULL);
			ro.pattern = optarg;
			break;
		case 'f': ro.follow = 1; break;
		case 'h': fputs(run_usage, stdout); return 0;
		default: return cli_bad_option("run", c, argv);
		}
	}
	if (optind >= argc)
		return cli_bad_usage("run", "no program given", NULL);
	ro.argv = argv + optind;
	return run_program(&ro);
}
