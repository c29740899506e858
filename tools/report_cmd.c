/* SPDX-License-Identifier: MIT */
/*
 * `heldby report`: its options, the view they pick, and the one line on
 * stderr that says when the trace was cut or damaged. The views themselves
 * are report_text.c and report_json.c; a new view is one more option here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "report_many.h"
#include "units.h"

/* What an option handler returns to let parsing go on; anything else is
 * the exit status (0 after --help, 2 for bad usage). */
#define ARGS_GO_ON (-1)

static const char report_usage[] =
	"usage: heldby report [--json] [--top N] [--depth N | --full] [--color WHEN]\n"
	"                     [--at WHEN] TRACE | DIR | TRACE...\n"
	"\n"
	"Who held the bytes of a trace: the holders at the peak, what was held at\n"
	"exit (or when the trace was cut short), the busiest allocation sites.\n"
	"\n"
	"  --json          the full, stable form, for other tools\n"
	"  --at WHEN       who held the bytes at one moment, and for how long:\n"
	"                  peak, end, a time since the start (12.5s, 1500ms, 2m)\n"
	"                  or a mark's label (heldby_mark, heldby snapshot)\n"
	"  --top N         entries per list (default 10 in text, all in JSON; 0: all)\n"
	"  --depth N       frames shown per stack in text (default 8); call sites\n"
	"                  that differ only past them are one entry, which lists them\n"
	"  --full          text: every frame, no allocator frames folded, no call\n"
	"                  sites merged: one entry per entry of --json\n"
	"  --color WHEN    auto (default: a terminal, not TERM=dumb, and NO_COLOR\n"
	"                  unset), always, never\n"
	"\n"
	"Several traces, or a folder of them (heldby run --follow): a row per\n"
	"process, and the holders at their peaks merged by call site.\n"
	"TRACE - reads the trace from standard input (a pipe is first copied to\n"
	"$TMPDIR).\n";

struct report_args {
	const char *path;
	int json, top_set, full;
	size_t top, depth;
	const char *color; /* auto, always or never */
	const char *at;	   /* --at WHEN; NULL: none */
};

/* A whole decimal number, no sign: 0, or -1 when s is not one. */
static int
count_of(const char *s, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

static int
top_arg(const char *arg, struct report_args *a)
{
	unsigned long long v;
	if (count_of(arg, &v))
		return cli_bad_usage("report", "--top wants a number, not",
				     arg);
	a->top = (size_t)v;
	a->top_set = 1;
	return ARGS_GO_ON;
}

static int
depth_arg(const char *arg, struct report_args *a)
{
	unsigned long long v;
	if (count_of(arg, &v) || v == 0 || v > 1024)
		return cli_bad_usage(
			"report",
			"--depth wants a number of frames from 1 to 1024, not",
			arg);
	a->depth = (size_t)v;
	return ARGS_GO_ON;
}

static int
color_arg(const char *arg, struct report_args *a)
{
	if (strcmp(arg, "auto") && strcmp(arg, "always") &&
	    strcmp(arg, "never"))
		return cli_bad_usage("report",
				     "--color wants auto, always or never, not",
				     arg);
	a->color = arg;
	return ARGS_GO_ON;
}

/* One option getopt_long returned. */
static int
one_option(int c, char **argv, struct report_args *a)
{
	switch (c) {
	case 'j': a->json = 1; return ARGS_GO_ON;
	case 't': return top_arg(optarg, a);
	case 'd': return depth_arg(optarg, a);
	case 'F': a->full = 1; return ARGS_GO_ON;
	case 'a': a->at = optarg; return ARGS_GO_ON;
	case 'c': return color_arg(optarg, a);
	case 'h': fputs(report_usage, stdout); return 0;
	default: return cli_bad_option("report", c, argv);
	}
}

/* ARGS_GO_ON with *a filled, or the exit status. */
static int
parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "color", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "full", no_argument, NULL, 'F' },
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct report_args){ .top = 10, .color = "auto" };
	int c, rc;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", opts, NULL)) != -1)
		if ((rc = one_option(c, argv, a)) != ARGS_GO_ON)
			return rc;
	if (optind >= argc)
		return cli_bad_usage("report", "no trace given", NULL);
	/* several traces, or a folder: report_main hands argv[optind...]
	 * to report_many_main */
	a->path = argv[optind];
	return ARGS_GO_ON;
}

/* --color auto: a terminal that shows colour, as ls and git judge it. */
static int
color_terminal(void)
{
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && *term &&
	       strcmp(term, "dumb") != 0;
}

static void
set_opts(struct report *rep, const struct report_args *a)
{
	rep->opt.top = a->json && !a->top_set ? 0 : a->top;
	rep->opt.depth = a->depth;
	rep->opt.full = a->full;
	rep->opt.color = !strcmp(a->color, "always") ||
			 (!strcmp(a->color, "auto") && color_terminal());
}

/* The one line on stderr about what the report is missing, if anything:
 * the report itself says it too, but may have gone to a pipe. */
static void
warn_missing(const struct report *rep, const char *path)
{
	const struct reader_stats *st = reader_stats(rep->r);
	if (rep->being_written && !st->blocks_damaged) {
		fprintf(stderr,
			"heldby: %s: still being written by pid %llu; reporting "
			"what is on disk so far\n",
			path, (unsigned long long)reader_pid(rep->r));
	} else if (st->blocks_damaged) {
		fprintf(stderr,
			"heldby: %s: %llu damaged block%s skipped; data is missing\n",
			path, (unsigned long long)st->blocks_damaged,
			st->blocks_damaged == 1 ? "" : "s");
	} else if (!rep->rp.sum.complete && !st->blocks_read) {
		fprintf(stderr,
			"heldby: %s: no events recorded (cut inside its first "
			"block)\n",
			path);
	} else if (!rep->rp.sum.complete) {
		char b1[UNITS_BUF];
		fprintf(stderr,
			"heldby: %s: cut short after %s (%llu block%s read); reporting "
			"what was recorded\n",
			path,
			format_duration_step(st->last_time_ns,
					     reader_time_step_ns(rep->r), b1),
			(unsigned long long)st->blocks_read,
			st->blocks_read == 1 ? "" : "s");
	}
}

int
report_main(int argc, char **argv)
{
	struct report_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc != ARGS_GO_ON)
		return rc;
	if (report_many_wanted(argv + optind, (size_t)(argc - optind))) {
		if (a.at)
			return cli_bad_usage(
				"report", "--at reads one trace, not several:",
				argv[optind]);
		struct report many = { .opt = { 0 } };
		set_opts(&many, &a);
		return report_many_main(argv + optind, (size_t)(argc - optind),
					&many.opt, a.json, stdout);
	}
	struct report rep;
	char err[512];
	rc = a.at ? report_load_at(&rep, a.path, a.at, err, sizeof err)
		  : report_load(&rep, a.path, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "heldby: %s: %s\n", a.path, err);
		return rc == -ERANGE ? 2 : 1;
	}
	set_opts(&rep, &a);
	rc = a.json ? report_json(&rep, stdout) : report_text(&rep, stdout);
	warn_missing(&rep, a.path);
	report_unload(&rep);
	if (fflush(stdout) != 0 || rc != 0) {
		fprintf(stderr, "heldby: writing the report: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}
