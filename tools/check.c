/* SPDX-License-Identifier: MIT */
/*
 * `heldby check`: runs a program as `heldby run` does (tools/run.c), then
 * holds each of its processes' traces against the limits given and names
 * the top holders of whatever went over (tools/report_text.c). It follows
 * the programs PROG runs by default: PROG is often a launcher (a shell, a
 * compiler driver, make) that holds nothing itself. The traces go to a
 * private temporary folder unless -o says where; they are removed when
 * every process is within its limits and kept, their paths printed, when
 * one is not, so that `heldby report` can tell the whole story.
 */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"
#include "run.h"
#include "units.h"

#define TOP_HOLDERS 3

static const char help[] =
	"usage: heldby check [--max-peak SIZE] [--max-end SIZE] [--max-blocks N]\n"
	"                    [--no-follow] [-o PATTERN] [--] PROG [ARGS...]\n"
	"\n"
	"Runs PROG under heldby (as heldby run does) and fails when it holds more\n"
	"memory than allowed: for tests and CI, in any language.\n"
	"\n"
	"  --max-peak SIZE   bytes held at the peak\n"
	"  --max-end SIZE    bytes still held when PROG exits\n"
	"  --max-blocks N    blocks still held when PROG exits (0: no leaks)\n"
	"  -o PATTERN        keep the trace there (%p = pid); by default it goes to\n"
	"                    a private folder in $TMPDIR (or /tmp), removed when\n"
	"                    PROG is within its limits, kept when it is not\n"
	"  --no-follow       measure PROG's own process only (and the programs it\n"
	"                    execs), not the programs it starts; by default each\n"
	"                    process (make check, ctest, a script, a compiler\n"
	"                    driver's cc1) is held against the limits on its own\n"
	"\n"
	"At least one limit; a value equal to its limit is within it. SIZE is bytes\n"
	"(1048576) or a number with a unit, any case: K, M, G, T (or KiB, MiB, ...)\n"
	"count in 1024s, KB, MB, GB, TB in 1000s: 64KiB = 64K = 65536, 64KB =\n"
	"64000, 1.5GiB, 10M = 10485760.\n"
	"\n"
	"Exit status: 0 within every limit; 1 over a limit (the limit, the measured\n"
	"value and the top three holders are printed on stderr) or no trace to\n"
	"check; 2 bad usage. When PROG itself fails, its exit status (128+N for\n"
	"signal N, 127 when it cannot be run) is passed on and the limits are still\n"
	"checked and reported.\n";

static int
bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, "heldby check: %s%s%s (see heldby check --help)\n",
		what, arg ? " " : "", arg ? arg : "");
	return 2;
}

/* --max-peak 50MiB: 0, or 2 with the reason printed. */
static int
size_arg(const char *opt, const char *arg, uint64_t *out)
{
	int rc = parse_size(arg, out);
	if (rc == -ERANGE) {
		fprintf(stderr,
			"heldby check: %s %s: too large (see heldby check --help)\n",
			opt, arg);
		return 2;
	}
	if (rc) {
		fprintf(stderr,
			"heldby check: %s wants a size like 1048576, 64KiB, 64KB, 10M or "
			"1.5GiB, not '%s' (see heldby check --help)\n",
			opt, arg);
		return 2;
	}
	return 0;
}

/* --max-blocks: a plain count. */
static int
count_arg(const char *opt, const char *arg, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (!*arg || *end || arg[0] < '0' || arg[0] > '9' || errno) {
		fprintf(stderr,
			"heldby check: %s wants a number of blocks like 0 or 100, not '%s' "
			"(see heldby check --help)\n",
			opt, arg);
		return 2;
	}
	*out = v;
	return 0;
}

/* Removes the private folder and the traces in it. */
static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	if (rmdir(dir) != 0)
		fprintf(stderr, "heldby check: cannot remove %s: %s\n", dir,
			strerror(errno));
}

static void
over_size(const char *who, const char *what, const char *opt, uint64_t v,
	  uint64_t limit)
{
	char b1[UNITS_BUF], b2[UNITS_BUF];
	fprintf(stderr,
		"heldby check: %s%s %s (%" PRIu64
		" bytes) is over %s %s (%" PRIu64 " bytes)\n",
		who, what, format_size(v, b1), v, opt, format_size(limit, b2),
		limit);
}

/* "heldby check: WHO within limits SCOPE: peak 1.2 MiB (limit 2 MiB), ..." */
static void
within(const char *who, const char *scope, const struct check_limits *lim,
       const struct check_measured *m)
{
	char line[256] = "", b1[UNITS_BUF], b2[UNITS_BUF];
	size_t n = 0;
	if (lim->peak_set)
		n += (size_t)snprintf(
			line + n, sizeof line - n, ", peak %s (limit %s)",
			format_size(m->peak, b1), format_size(lim->peak, b2));
	if (lim->end_set && n < sizeof line)
		n += (size_t)snprintf(line + n, sizeof line - n,
				      ", held at exit %s (limit %s)",
				      format_size(m->end, b1),
				      format_size(lim->end, b2));
	if (lim->blocks_set && n < sizeof line)
		snprintf(line + n, sizeof line - n,
			 ", %s block%s at exit (limit %s)",
			 format_count(m->blocks, b1), m->blocks == 1 ? "" : "s",
			 format_count(lim->blocks, b2));
	fprintf(stderr, "heldby check: %swithin limits%s: %s\n", who, scope,
		line + 2);
}

int
check_trace(const char *path, const struct check_limits *lim, unsigned flags,
	    struct check_measured *m)
{
	struct report rep;
	char err[256];
	if (report_load(&rep, path, err, sizeof err) != 0) {
		fprintf(stderr,
			"heldby check: %s: %s; cannot check the limits\n", path,
			err);
		return -1;
	}
	rep.opt.top = TOP_HOLDERS;
	rep.opt.brief = 1;
	const struct rp_summary *s = &rep.rp.sum;
	*m = (struct check_measured){ s->peak_bytes, s->end_bytes,
				      s->end_blocks };
	char who[PATH_MAX + 64] = "", b1[UNITS_BUF], b2[UNITS_BUF];
	if (flags & CHECK_NAME_PROCESS) {
		const char *exe = report_basename(reader_exe(rep.r));
		snprintf(who, sizeof who,
			 "%s (pid %" PRIu64 "): ", exe && *exe ? exe : "?",
			 reader_pid(rep.r));
	}
	if (!s->complete)
		fprintf(stderr,
			"heldby check: %s%s was cut short; checking what was recorded\n",
			who, path);
	int over = 0;
	if (lim->peak_set && m->peak > lim->peak) {
		over_size(who, "peak", "--max-peak", m->peak, lim->peak);
		fflush(stderr);
		report_text_holders(&rep, stderr, RANK_PEAK);
		over++;
	}
	int end_over = lim->end_set && m->end > lim->end;
	int blocks_over = lim->blocks_set && m->blocks > lim->blocks;
	if (end_over)
		over_size(who, "held at exit", "--max-end", m->end, lim->end);
	if (blocks_over)
		fprintf(stderr,
			"heldby check: %s%s block%s held at exit is over --max-blocks %s\n",
			who, format_count(m->blocks, b1),
			m->blocks == 1 ? "" : "s",
			format_count(lim->blocks, b2));
	if (end_over || blocks_over) {
		fflush(stderr);
		report_text_holders(&rep, stderr, RANK_END);
	}
	over += end_over + blocks_over;
	if (!over && !(flags & CHECK_QUIET_OK))
		within(who, "", lim, m);
	if (over)
		fprintf(stderr,
			"heldby check: trace kept; the whole story: heldby report %s\n",
			path);
	report_unload(&rep);
	return over;
}

/* Whether the run's log entry is a trace check holds to the limits: any
 * process's when following, else those of PROG's own process. */
static int
checked_trace(const struct run_done *d, const struct rl_entry *e, int follow)
{
	return e->kind == 'T' && e->nfields >= 1 &&
	       (follow || e->pid == d->pid);
}

/* Every trace of the run, each process on its own. Returns the number of
 * traces over a limit, or -1 when none could be checked. */
static int
check_traces(const struct run_done *d, const struct check_limits *lim,
	     int follow)
{
	size_t n = 0;
	for (size_t i = 0; i < d->log.n; i++)
		n += checked_trace(d, &d->log.e[i], follow);
	/* One process is said as before; several, each by its name, and the
	 * largest values in one line when all are within. */
	unsigned flags = n == 1 ? 0 : CHECK_QUIET_OK | CHECK_NAME_PROCESS;
	struct check_measured m, most = { 0 };
	size_t checked = 0;
	int over = 0;
	for (size_t i = 0; i < d->log.n; i++) {
		const struct rl_entry *e = &d->log.e[i];
		if (!checked_trace(d, e, follow))
			continue;
		int rc = check_trace(e->fields[0], lim, flags, &m);
		if (n == 1)
			return rc;
		if (rc < 0)
			continue;
		checked++;
		over += rc > 0;
		most.peak = m.peak > most.peak ? m.peak : most.peak;
		most.end = m.end > most.end ? m.end : most.end;
		most.blocks = m.blocks > most.blocks ? m.blocks : most.blocks;
	}
	if (!checked) {
		run_no_trace(d);
		fprintf(stderr,
			"heldby check: nothing measured; cannot check the limits\n");
		return -1;
	}
	if (!over) {
		char scope[64];
		snprintf(scope, sizeof scope, " (the largest of %zu process%s)",
			 checked, checked == 1 ? "" : "es");
		within("", scope, lim, &most);
	}
	return over;
}

/* Parses the options; returns -1 to go on, or the exit status. */
static int
parse(int argc, char **argv, struct check_limits *lim, const char **pattern,
      int *follow)
{
	static const struct option opts[] = {
		{ "max-peak", required_argument, NULL, 'p' },
		{ "max-end", required_argument, NULL, 'e' },
		{ "max-blocks", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "follow", no_argument, NULL, 'f' },
		{ "no-follow", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((rc = size_arg("--max-peak", optarg, &lim->peak)))
				return rc;
			lim->peak_set = 1;
			break;
		case 'e':
			if ((rc = size_arg("--max-end", optarg, &lim->end)))
				return rc;
			lim->end_set = 1;
			break;
		case 'b':
			if ((rc = count_arg("--max-blocks", optarg,
					    &lim->blocks)))
				return rc;
			lim->blocks_set = 1;
			break;
		case 'o':
			if (!*optarg)
				return bad_usage("empty output pattern", NULL);
			*pattern = optarg;
			break;
		case 'f': *follow = 1; break;
		case 'n': *follow = 0; break;
		case 'h': fputs(help, stdout); return 0;
		case ':':
			return bad_usage("option needs an argument:",
					 argv[optind - 1]);
		default: return bad_usage("unknown option", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("no program given", NULL);
	if (!lim->peak_set && !lim->end_set && !lim->blocks_set)
		return bad_usage(
			"no limit given: --max-peak, --max-end or --max-blocks",
			NULL);
	return -1;
}

int
check_main(int argc, char **argv)
{
	struct check_limits lim = { 0 };
	struct run_opts ro = { .follow = 1 };
	int rc = parse(argc, argv, &lim, &ro.pattern, &ro.follow);
	if (rc >= 0)
		return rc;
	ro.argv = argv + optind;

	char dir[PATH_MAX] = "", pattern[PATH_MAX + 32];
	if (!ro.pattern) {
		const char *tmp = getenv("TMPDIR");
		if (!tmp || !*tmp)
			tmp = "/tmp";
		if ((size_t)snprintf(dir, sizeof dir, "%s/heldby-check.XXXXXX",
				     tmp) >= sizeof dir ||
		    !mkdtemp(dir)) {
			fprintf(stderr,
				"heldby check: cannot make a folder in %s: %s\n",
				tmp, strerror(errno));
			return 1;
		}
		snprintf(pattern, sizeof pattern, "%s/heldby.%%p.hbt", dir);
		ro.pattern = pattern;
	}

	struct run_done d = { 0 };
	rc = run_traced(&ro, &d);
	if (rc) {
		if (*dir)
			remove_dir(dir);
		return rc;
	}
	int prog_rc = run_status(ro.argv[0], d.status);
	if (WIFEXITED(d.status) && prog_rc)
		fprintf(stderr, "heldby check: %s failed with exit status %d\n",
			ro.argv[0], prog_rc);
	int over = check_traces(&d, &lim, ro.follow);
	run_print_untraced(&d.log);
	run_done_free(&d);
	/* Kept for `heldby report` when over a limit, or unreadable (damaged).
	 */
	int keep = over > 0 || (over < 0 && d.have_trace);
	if (*dir && !keep)
		remove_dir(dir);
	else if (*dir)
		fprintf(stderr, "heldby check: the traces are kept in %s\n",
			dir);
	if (prog_rc)
		return prog_rc;
	return over ? 1 : 0;
}
