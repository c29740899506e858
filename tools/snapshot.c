/* SPDX-License-Identifier: MIT */
/*
 * `heldby snapshot`: asks a recorded process for a mark through its
 * control file (docs/lifecycle.md, Snapshots), which its writer thread
 * looks for on each wake: no signal, so the program's dispositions and
 * its system calls are untouched. The request is made under a temporary
 * name and linked into place, so the writer never reads half of one and
 * two snapshots at once cannot overwrite each other's. Once the writer
 * answers, the mark and everything before it are on disk, and the report
 * is `heldby report --at LABEL` of the trace.
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "proctrace.h"
#include "report.h"

#define LABEL_MAX 200
/* The writer looks every 50 ms while events flow, and once per idle sleep
 * (half HELDBY_FLUSH_MS) when they do not: 10 s covers a flush period of
 * up to 20 s. */
#define ANSWER_WAIT_MS 10000
#define POLL_MS 5

static const char snapshot_usage[] =
	"usage: heldby snapshot [--label L] [--json] [--top N] PID\n"
	"\n"
	"Marks \"now\" in the trace of a running process that heldby records\n"
	"(started by heldby run, or with libheldby.so preloaded), waits until\n"
	"what it recorded up to then is on disk, and prints who held the bytes\n"
	"at that moment, as heldby report --at L TRACE would.\n"
	"\n"
	"  --label L   the mark's label (default snapshot-N, N counting this\n"
	"              trace's snapshots)\n"
	"  --json      the report in JSON (its \"at\" object)\n"
	"  --top N     entries (default 10 in text, all in JSON; 0: all)\n";

struct snapshot_args {
	unsigned long long pid;
	const char *label;
	int json;
	long long top; /* -1: the default */
};

static int
whole_number(const char *s, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' || s[0] == '+' ? -1 : 0;
}

static int
label_ok(const char *l)
{
	return strlen(l) <= LABEL_MAX && !strpbrk(l, "\t\n");
}

/* 0 with *a filled, or the exit status + 1. */
static int
parse_args(int argc, char **argv, struct snapshot_args *a)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct snapshot_args){ .label = "", .top = -1 };
	unsigned long long v;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (!label_ok(optarg))
				return 1 + cli_bad_usage(
						   "snapshot",
						   "--label wants at most 200 "
						   "bytes without tab or "
						   "newline, not",
						   optarg);
			a->label = optarg;
			break;
		case 'j': a->json = 1; break;
		case 't':
			if (whole_number(optarg, &v))
				return 1 + cli_bad_usage("snapshot",
							 "--top wants a "
							 "number, not",
							 optarg);
			a->top = (long long)v;
			break;
		case 'h': fputs(snapshot_usage, stdout); return 1;
		default: return 1 + cli_bad_option("snapshot", c, argv);
		}
	}
	if (optind >= argc)
		return 1 + cli_bad_usage("snapshot", "no PID given", NULL);
	if (optind + 1 < argc)
		return 1 + cli_bad_usage("snapshot", "one PID; extra argument",
					 argv[optind + 1]);
	if (whole_number(argv[optind], &a->pid) || a->pid == 0 ||
	    a->pid > 0x7fffffff)
		return 1 +
		       cli_bad_usage("snapshot", "not a PID:", argv[optind]);
	return 0;
}

/* Puts the request at ctl: written under a temporary name, then linked
 * (not renamed) into place, so an request already there stays. 0, or
 * -errno. */
static int
put_request(const char *ctl, const char *label)
{
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%.4200s.XXXXXX", ctl);
	int fd = mkostemp(tmp, O_CLOEXEC); /* 0600, O_EXCL */
	if (fd < 0)
		return -errno;
	char req[LABEL_MAX + 16];
	int n = snprintf(req, sizeof req, "snapshot\t%s\n", label);
	int rc = write(fd, req, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && link(tmp, ctl) != 0)
		rc = -errno;
	unlink(tmp);
	return rc;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits for the writer's answer in ctl: "done\tLABEL\tNS\n" (the label
 * into label) or "failed\tREASON\n". 0, or -1 with err set. */
static int
wait_answer(const char *ctl, pid_t pid, char *label, size_t len, char *err,
	    size_t errlen)
{
	for (int waited = 0; waited < ANSWER_WAIT_MS; waited += POLL_MS) {
		char buf[LABEL_MAX + 64] = "";
		int fd = open(ctl, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
		if (nl && !strncmp(buf, "done\t", 5)) {
			*nl = 0;
			char *tab = strchr(buf + 5, '\t');
			if (tab)
				*tab = 0;
			size_t l = strnlen(buf + 5, len - 1);
			memcpy(label, buf + 5, l);
			label[l] = 0;
			return 0;
		}
		if (nl && !strncmp(buf, "failed\t", 7)) {
			*nl = 0;
			snprintf(err, errlen,
				 "process %d could not write its trace: %s",
				 (int)pid, buf + 7);
			return -1;
		}
		if (kill(pid, 0) != 0 && errno == ESRCH) {
			snprintf(err, errlen,
				 "process %d ended before it answered",
				 (int)pid);
			return -1;
		}
		nap_ms(POLL_MS);
	}
	snprintf(err, errlen,
		 "process %d did not answer in %d s (is its writer stopped, or "
		 "its HELDBY_FLUSH_MS very long?)",
		 (int)pid, ANSWER_WAIT_MS / 1000);
	return -1;
}

/* Asks process pid, writing trace, for a mark labelled label (empty: the
 * writer names it), and waits for it to be on disk; the label it took
 * into got. 0, or -1 with err set. */
static int
ask_mark(const char *trace, pid_t pid, const char *label, char *got, size_t len,
	 char *err, size_t errlen)
{
	char ctl[4200];
	snprintf(ctl, sizeof ctl, "%s.ctl", trace);
	int rc = put_request(ctl, label);
	if (rc == -EEXIST) {
		snprintf(err, errlen, "%s: a snapshot is already under way",
			 ctl);
		return -1;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", ctl, strerror(-rc));
		return -1;
	}
	rc = wait_answer(ctl, pid, got, len, err, errlen);
	unlink(ctl);
	return rc;
}

int
snapshot_main(int argc, char **argv)
{
	struct snapshot_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc - 1;
	char trace[4096], err[4400], label[LABEL_MAX + 1];
	if (proctrace_find(a.pid, trace, sizeof trace, err, sizeof err) != 0 ||
	    ask_mark(trace, (pid_t)a.pid, a.label, label, sizeof label, err,
		     sizeof err) != 0) {
		fprintf(stderr, "heldby snapshot: %s\n", err);
		return 1;
	}
	struct report rep;
	if (report_load_at(&rep, trace, label, err, sizeof err) != 0) {
		fprintf(stderr, "heldby snapshot: %s: %s\n", trace, err);
		return 1;
	}
	rep.opt.top = a.top >= 0 ? (size_t)a.top : a.json ? 0 : 10;
	rep.opt.brief = 1;
	rc = a.json ? report_json(&rep, stdout) : report_text(&rep, stdout);
	report_unload(&rep);
	if (fflush(stdout) != 0 || rc != 0) {
		fprintf(stderr, "heldby snapshot: writing the report: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}
