/* SPDX-License-Identifier: MIT */
/*
 * The heldby command: argument parsing and dispatch only. Usage errors are
 * one line on stderr and exit status 2; a trace that cannot be read is
 * "heldby: PATH: reason" and exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "heldby/trace.h"
#include "report.h"
#include "run.h"
#include "units.h"

#ifndef HELDBY_VERSION
#define HELDBY_VERSION "unknown"
#endif

static const char usage[] =
	"usage: heldby run [-o PATTERN] [--follow] [--] PROG [ARGS...]\n"
	"       heldby report [--json] [--top N] [--depth N | --full] [--color WHEN]\n"
	"                     TRACE\n"
	"       heldby check [--max-peak SIZE] [--max-end SIZE] [--max-blocks N]\n"
	"                    [--no-follow] [-o PATTERN] [--] PROG [ARGS...]\n"
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
	"           or merged; --color auto|always|never.\n"
	"  check    run PROG as run does; exit 1 when it held more than --max-peak\n"
	"           bytes at the peak, --max-end bytes or --max-blocks blocks at\n"
	"           exit, naming the top holders and keeping the trace. SIZE:\n"
	"           1048576, 64KiB or 64K (1024s), 64KB (1000s), 1.5GiB, 10M.\n"
	"           Each program PROG runs is checked on its own; --no-follow:\n"
	"           PROG's process alone.\n"
	"           PROG's own failure is passed on. More: heldby check --help.\n";

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

static const char report_usage[] =
	"usage: heldby report [--json] [--top N] [--depth N | --full] [--color WHEN]\n"
	"                     TRACE\n"
	"\n"
	"Who held the bytes of a trace: the holders at the peak, what was held at\n"
	"exit (or when the trace was cut short), the busiest allocation sites.\n"
	"\n"
	"  --json          the full, stable form, for other tools\n"
	"  --top N         entries per list (default 10 in text, all in JSON; 0: all)\n"
	"  --depth N       frames shown per stack in text (default 8); call sites\n"
	"                  that differ only past them are one entry, which lists them\n"
	"  --full          text: every frame, no allocator frames folded, no call\n"
	"                  sites merged: one entry per entry of --json\n"
	"  --color WHEN    auto (default: a terminal, not TERM=dumb, and NO_COLOR\n"
	"                  unset), always, never\n"
	"\n"
	"TRACE - reads the trace from standard input (a pipe is first copied to\n"
	"$TMPDIR).\n";

static int
bad_usage(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "heldby%s%s: %s%s%s (see heldby --help)\n",
		cmd ? " " : "", cmd ? cmd : "", what, arg ? " " : "",
		arg ? arg : "");
	return 2;
}

static int
cmd_run(int argc, char **argv)
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
				return bad_usage("run", "empty output pattern",
						 NULL);
			ro.pattern = optarg;
			break;
		case 'f': ro.follow = 1; break;
		case 'h': fputs(run_usage, stdout); return 0;
		case ':':
			return bad_usage("run", "option needs an argument:",
					 argv[optind - 1]);
		default:
			return bad_usage("run", "unknown option",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("run", "no program given", NULL);
	ro.argv = argv + optind;
	return run_program(&ro);
}

/* --color auto: a terminal that shows colour, as ls and git judge it. */
static int
color_terminal(void)
{
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && *term &&
	       strcmp(term, "dumb") != 0;
}

static int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "color", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "full", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, top_set = 0, full = 0, c;
	size_t top = 10, depth = 0;
	const char *color = "auto";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 't': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				return bad_usage("report",
						 "--top wants a number, not",
						 optarg);
			top = (size_t)v;
			top_set = 1;
			break;
		}
		case 'd': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    optarg[0] == '-' || v == 0 || v > 1024)
				return bad_usage(
					"report",
					"--depth wants a number of frames from 1 to 1024, not",
					optarg);
			depth = (size_t)v;
			break;
		}
		case 'F': full = 1; break;
		case 'c':
			if (strcmp(optarg, "auto") &&
			    strcmp(optarg, "always") && strcmp(optarg, "never"))
				return bad_usage(
					"report",
					"--color wants auto, always or never, not",
					optarg);
			color = optarg;
			break;
		case 'h': fputs(report_usage, stdout); return 0;
		case ':':
			return bad_usage("report", "option needs an argument:",
					 argv[optind - 1]);
		default:
			return bad_usage("report", "unknown option",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("report", "no trace given", NULL);
	if (optind + 1 < argc)
		return bad_usage("report",
				 "one trace at a time; extra argument",
				 argv[optind + 1]);
	const char *path = argv[optind];

	struct report rep;
	char err[256];
	if (report_load(&rep, path, err, sizeof err) != 0) {
		fprintf(stderr, "heldby: %s: %s\n", path, err);
		return 1;
	}
	rep.opt.top = json && !top_set ? 0 : top;
	rep.opt.depth = depth;
	rep.opt.full = full;
	rep.opt.color = !strcmp(color, "always") ||
			(!strcmp(color, "auto") && color_terminal());
	int rc = json ? report_json(&rep, stdout) : report_text(&rep, stdout);
	const struct reader_stats *st = reader_stats(rep.r);
	if (st->blocks_damaged) {
		fprintf(stderr,
			"heldby: %s: %llu damaged block%s skipped; data is missing\n",
			path, (unsigned long long)st->blocks_damaged,
			st->blocks_damaged == 1 ? "" : "s");
	} else if (!rep.rp.sum.complete && !st->blocks_read) {
		fprintf(stderr,
			"heldby: %s: no events recorded (cut inside its first "
			"block)\n",
			path);
	} else if (!rep.rp.sum.complete) {
		char b1[UNITS_BUF];
		fprintf(stderr,
			"heldby: %s: cut short after %s (%llu block%s read); reporting "
			"what was recorded\n",
			path,
			format_duration_step(st->last_time_ns,
					     reader_time_step_ns(rep.r), b1),
			(unsigned long long)st->blocks_read,
			st->blocks_read == 1 ? "" : "s");
	}
	report_unload(&rep);
	if (fflush(stdout) != 0 || rc != 0) {
		fprintf(stderr, "heldby: writing the report: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage(NULL, "no command given", NULL);
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
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return check_main(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return bad_usage(NULL, "unknown option", cmd);
	return bad_usage(NULL, "unknown command", cmd);
}
