/* SPDX-License-Identifier: MIT */
/*
 * What `heldby run` says at the end, from the run's log: the program's
 * trace (the last program its process ran), the programs it exec'd before
 * that, every process traced with --follow as one table in pid order, the
 * programs it started that were not traced, and whether it daemonised
 * (ended while processes it started still run). A whole trace carries its
 * summary in its last block; the others are replayed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "heldby/trace.h"
#include "reader.h"
#include "replay.h"
#include "run.h"
#include "units.h"

#define CMD_SHOWN 40	  /* command line characters in the table */
#define UNTRACED_SHOWN 10 /* untraced programs listed by name */
#define EXECS_SHOWN 3	  /* programs exec'd before the main one */
#define SETTLE_MS 300	  /* how long a daemon's first trace is waited for */

struct proc {
	pid_t pid;
	size_t order; /* in the log: the exec chain's order */
	const char *trace;
	struct rp_summary s;
	int readable;
	int alive;
	char cmd[1024];
};

/* The summary the writer left in the trace's last block, read without
 * replaying the rest: 0, or -1 when there is none or the file is not
 * whole. */
static int
summary_from_end(struct reader *r, struct rp_summary *out)
{
	if (reader_skip_to_last_block(r) != 0)
		return -1;
	struct rd_event ev;
	while (reader_next(r, &ev) == 1)
		;
	const struct reader_stats *st = reader_stats(r);
	if (!st->complete || !st->has_summary || st->anomalies)
		return -1;
	const struct rd_summary *m = &st->summary;
	memset(out, 0, sizeof *out);
	out->peak_bytes = m->peak_bytes;
	out->peak_blocks = m->peak_blocks;
	out->peak_time_ns = m->peak_time_ns;
	out->end_bytes = m->end_bytes;
	out->end_blocks = m->end_blocks;
	out->alloc_calls = m->alloc_calls;
	out->free_calls = m->free_calls;
	out->complete = 1;
	return 0;
}

/* The whole trace replayed: a cut-short one, a fork child's, an older
 * format. */
static int
summary_replayed(const char *path, struct rp_summary *out)
{
	struct reader *r;
	char err[256];
	if (reader_open(path, &r, err, sizeof err) != 0)
		return -1;
	struct replay rp;
	replay_init(&rp);
	int rc = replay_reader(&rp, r);
	*out = rp.sum;
	replay_free(&rp);
	reader_close(r);
	return rc;
}

static int
alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void
load_proc(struct proc *p)
{
	struct reader *r;
	char err[256];
	p->alive = alive(p->pid);
	if (reader_open(p->trace, &r, err, sizeof err) != 0) {
		snprintf(p->cmd, sizeof p->cmd, "?");
		return;
	}
	size_t len;
	const char *argv = reader_cmdline(r, &len);
	if (argv)
		cmdline_join(argv, len, p->cmd, sizeof p->cmd);
	else
		snprintf(p->cmd, sizeof p->cmd, "%s", reader_exe(r));
	int from_end = summary_from_end(r, &p->s) == 0;
	reader_close(r);
	p->readable = from_end || summary_replayed(p->trace, &p->s) == 0;
}

/* A path under the current folder as the user would type it. */
static const char *
shown_path(const char *path)
{
	static char cwd[4096];
	if (!cwd[0] && !getcwd(cwd, sizeof cwd - 1))
		return path;
	size_t n = strlen(cwd);
	if (n > 1 && strncmp(path, cwd, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

static const char *
state_of(const struct proc *p)
{
	if (!p->readable)
		return "unreadable";
	if (p->s.complete)
		return "complete";
	return p->alive ? "still running" : "cut short";
}

static void
print_main(const struct proc *p)
{
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	const struct rp_summary *s = &p->s;
	const char *path = shown_path(p->trace);
	fprintf(stderr, "heldby: trace written to %s%s\n", path,
		!p->readable  ? " (cannot be read)"
		: s->complete ? ""
			      : " (cut short)");
	fprintf(stderr, "heldby:   program  %s\n", p->cmd);
	if (p->readable) {
		fprintf(stderr, "heldby:   peak     %s in %s block%s at %s\n",
			format_size(s->peak_bytes, b1),
			format_count(s->peak_blocks, b2),
			s->peak_blocks == 1 ? "" : "s",
			format_duration_step(s->peak_time_ns,
					     HELDBY_TIME_TABLE_UNIT_NS, b3));
		fprintf(stderr, "heldby:   %s  %s in %s block%s\n",
			s->complete ? "at exit" : "at cut ",
			format_size(s->end_bytes, b1),
			format_count(s->end_blocks, b2),
			s->end_blocks == 1 ? "" : "s");
		fprintf(stderr,
			"heldby:   calls    %s allocation%s, %s free%s\n",
			format_count(s->alloc_calls, b1),
			s->alloc_calls == 1 ? "" : "s",
			format_count(s->free_calls, b2),
			s->free_calls == 1 ? "" : "s");
	}
}

static int
by_pid(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
print_table(const struct proc *ps, size_t n)
{
	char b1[UNITS_BUF], b2[UNITS_BUF];
	fprintf(stderr, "heldby: %zu traces, by pid:\n", n);
	fprintf(stderr, "heldby:   %7s  %-*s  %10s  %10s  %-13s  %s\n", "pid",
		CMD_SHOWN, "command line", "peak", "at exit", "state", "trace");
	for (size_t i = 0; i < n; i++) {
		const struct proc *p = &ps[i];
		char cmd[CMD_SHOWN + 1];
		cmdline_fit(p->cmd, CMD_SHOWN, cmd);
		fprintf(stderr, "heldby:   %7ld  %-*s  %10s  %10s  %-13s  %s\n",
			(long)p->pid, CMD_SHOWN, cmd,
			p->readable ? format_size(p->s.peak_bytes, b1) : "-",
			p->readable ? format_size(p->s.end_bytes, b2) : "-",
			state_of(p), shown_path(p->trace));
	}
}

/* Whether pid began a trace in the log. */
static int
traced(const struct runlog *log, pid_t pid)
{
	for (size_t i = 0; i < log->n; i++)
		if (log->e[i].kind == 'T' && log->e[i].pid == pid)
			return 1;
	return 0;
}

void
run_print_untraced(const struct runlog *log)
{
	size_t n = 0;
	for (size_t i = 0; i < log->n; i++)
		n += log->e[i].kind == 'U';
	if (!n)
		return;
	fprintf(stderr,
		"heldby: not traced: %zu program%s that it started (heldby run "
		"--follow traces them too):\n",
		n, n == 1 ? "" : "s");
	size_t shown = 0;
	for (size_t i = 0; i < log->n && shown < UNTRACED_SHOWN; i++) {
		const struct rl_entry *e = &log->e[i];
		if (e->kind != 'U')
			continue;
		char cmd[1024] = "";
		size_t o = 0;
		for (size_t k = 1; k < e->nfields && o + 2 < sizeof cmd; k++)
			o += (size_t)snprintf(cmd + o, sizeof cmd - o, "%s%s",
					      k > 1 ? " " : "", e->fields[k]);
		if (o >= sizeof cmd)
			o = sizeof cmd - 1;
		if (e->pid)
			fprintf(stderr, "heldby:   pid %ld  %s\n", (long)e->pid,
				cmd);
		else
			fprintf(stderr, "heldby:   %s\n", cmd);
		shown++;
	}
	if (n > shown)
		fprintf(stderr, "heldby:   ... and %zu more\n", n - shown);
}

/* Processes the program started (forked or spawned) that still run now
 * that it ended. */
static size_t
count_left_running(const struct runlog *log, pid_t root)
{
	size_t n = 0;
	for (size_t i = 0; i < log->n; i++) {
		const struct rl_entry *e = &log->e[i];
		int first = 1; /* each pid once, whichever line came first */
		for (size_t j = 0; j < i && first; j++)
			first = log->e[j].pid != e->pid;
		n += first && e->pid != root && alive(e->pid);
	}
	return n;
}

/* A daemon forks and its launcher ends at once: give the processes it
 * left a moment to begin their traces. */
static void
settle(struct run_done *d, int follow)
{
	struct runlog *log = &d->log;
	for (int waited = 0; follow && waited < SETTLE_MS; waited += 20) {
		int pending = 0;
		for (size_t i = 0; i < log->n && !pending; i++) {
			const struct rl_entry *e = &log->e[i];
			pending = e->kind == 'F' && alive(e->pid) &&
				  !traced(log, e->pid);
		}
		if (!pending)
			return;
		nanosleep(&(struct timespec){ 0, 20 * 1000000L }, NULL);
		struct runlog again;
		if (runlog_read(d->log_path, &again) == 0) {
			runlog_free(log);
			*log = again;
		}
	}
}

static void
print_daemonised(int follow, size_t left)
{
	if (!left)
		return;
	fprintf(stderr,
		"heldby: the program daemonised: it ended, and %zu process%s "
		"it started still run%s\n",
		left, left == 1 ? "" : "es", left == 1 ? "s" : "");
	if (!follow)
		fprintf(stderr,
			"heldby:   they are not traced: heldby run --follow "
			"traces them\n");
	else
		fprintf(stderr,
			"heldby:   their traces (\"still running\" above) "
			"are still being written: heldby report TRACE at any "
			"time\n");
}

/* The programs the process ran before it exec'd the main one, the
 * latest ones (a chain of wrappers can be long: pyenv's is seven). */
static void
print_exec_chain(const struct proc *ps, size_t n, size_t main)
{
	size_t before = 0, shown = 0;
	for (size_t i = 0; i < n; i++)
		before += ps[i].pid == ps[main].pid && i != main;
	for (size_t i = 0; i < n; i++) {
		if (ps[i].pid != ps[main].pid || i == main)
			continue;
		if (before - shown++ > EXECS_SHOWN) {
			if (shown == 1)
				fprintf(stderr,
					"heldby:   before it, the same process "
					"ran %zu other programs; the last %d:\n",
					before, EXECS_SHOWN);
			continue;
		}
		fprintf(stderr,
			"heldby:   before it, the same process ran %s (trace "
			"%s)\n",
			ps[i].cmd, shown_path(ps[i].trace));
	}
}

void
run_summarise(struct run_done *d, int follow)
{
	size_t left = count_left_running(&d->log, d->pid);
	if (left)
		settle(d, follow);
	const struct runlog *log = &d->log;
	size_t n = 0;
	for (size_t i = 0; i < log->n; i++)
		n += log->e[i].kind == 'T' && log->e[i].nfields >= 1;
	struct proc *ps = calloc(n ? n : 1, sizeof *ps);
	if (!ps)
		return;
	size_t k = 0, main = SIZE_MAX;
	for (size_t i = 0; i < log->n; i++) {
		const struct rl_entry *e = &log->e[i];
		if (e->kind != 'T' || e->nfields < 1)
			continue;
		ps[k] = (struct proc){ .pid = e->pid,
				       .order = i,
				       .trace = e->fields[0] };
		load_proc(&ps[k]);
		if (strcmp(e->fields[0], d->trace) == 0)
			main = k;
		k++;
	}
	if (main != SIZE_MAX) {
		/* the first trace the process began had the pattern's name */
		size_t first = main;
		for (size_t i = 0; i < n; i++)
			if (ps[i].pid == d->pid && i < first)
				first = i;
		if (strcmp(ps[first].trace, d->named) != 0)
			fprintf(stderr, "heldby: %s existed; not overwritten\n",
				shown_path(d->named));
		print_main(&ps[main]);
		print_exec_chain(ps, n, main);
		fprintf(stderr, "heldby: who holds them: heldby report %s\n",
			shown_path(ps[main].trace));
	}
	qsort(ps, n, sizeof *ps, by_pid);
	int others = 0;
	for (size_t i = 0; i < n; i++)
		others += ps[i].pid != d->pid;
	if (others)
		print_table(ps, n);
	run_print_untraced(log);
	print_daemonised(follow, left);
	free(ps);
}
