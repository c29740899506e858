/* SPDX-License-Identifier: MIT */
/*
 * `heldby run`: finds libheldby.so beside this executable, runs the
 * program with it preloaded, then replays the trace for a short summary
 * (and, with --follow, lists the traces of the programs it ran). A program
 * LD_PRELOAD cannot reach (tools/progcheck.c) is run bare, with one line.
 * The child reports exec failures through a close-on-exec pipe, so the
 * program's own exit status is never confused with ours. The shim never
 * overwrites a file (it takes NAME.1 … NAME.99 instead), so afterwards the
 * trace is found by the pid and start time in its header.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progcheck.h"
#include "reader.h"
#include "report.h"
#include "units.h"

#define DEFAULT_PATTERN "heldby.%p.hbt"

#define MAX_SUFFIX 99 /* the shim tries NAME, NAME.1 … NAME.99 */

enum child_fail { CHILD_EXEC = 2, CHILD_ENV = 3 };

int
run_expand(const char *pattern, pid_t pid, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = pattern; *p; p++) {
		char tmp[24];
		const char *add = tmp;
		if (p[0] == '%' && p[1] == 'p') {
			snprintf(tmp, sizeof tmp, "%ld", (long)pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			tmp[0] = '%';
			tmp[1] = 0;
			p++;
		} else {
			tmp[0] = *p;
			tmp[1] = 0;
		}
		size_t n = strlen(add);
		if (o + n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = 0;
	return 0;
}

static int
usable(const char *path, char *out, size_t outlen)
{
	char real[PATH_MAX];
	if (access(path, R_OK) != 0 || !realpath(path, real))
		return 0;
	if (strlen(real) >= outlen)
		return 0;
	strcpy(out, real);
	return 1;
}

int
run_find_shim(char *out, size_t outlen)
{
	const char *env = getenv("HELDBY_SHIM");
	if (env && *env)
		return usable(env, out, outlen) ? 0 : -ENOENT;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		static const char *const rel[] = {
			"/../shim/libheldby.so", /* build tree */
			"/../lib/x86_64-linux-gnu/libheldby.so", /* Debian
								    multiarch */
			"/../lib/aarch64-linux-gnu/libheldby.so",
			"/../lib64/libheldby.so",
			"/../lib/libheldby.so",
		};
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			char cand[PATH_MAX + 64];
			snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
			if (usable(cand, out, outlen))
				return 0;
		}
	}
#ifdef HELDBY_LIBDIR
	if (usable(HELDBY_LIBDIR "/libheldby.so", out, outlen))
		return 0;
#endif
	return -ENOENT;
}

_Noreturn static void
child_fail(int fd, int what, int err)
{
	int msg[2] = { what, err };
	if (write(fd, msg, sizeof msg) < 0) {
		/* nothing left to tell */
	}
	_exit(what == CHILD_EXEC ? 127 : 2);
}

/* shim NULL: run the program as it is, untraced. Never returns. */
_Noreturn static void
child(const struct run_opts *o, const char *shim, const char *pattern, int fd)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (!shim) {
		execvp(o->argv[0], o->argv);
		child_fail(fd, CHILD_EXEC, errno);
	}
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(shim) + (old ? strlen(old) : 0) + 2;
	char *pre = malloc(len);
	if (!pre)
		child_fail(fd, CHILD_ENV, ENOMEM);
	snprintf(pre, len, "%s%s%s", shim, old && *old ? ":" : "",
		 old ? old : "");
	if (setenv("LD_PRELOAD", pre, 1) ||
	    setenv("HELDBY_OUTPUT", pattern, 1) ||
	    (o->follow && setenv("HELDBY_FOLLOW", "1", 1)))
		child_fail(fd, CHILD_ENV, errno);
	execvp(o->argv[0], o->argv);
	child_fail(fd, CHILD_EXEC, errno);
}

static void
print_summary(const char *path, const struct rp_summary *s)
{
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	fprintf(stderr, "heldby: trace written to %s%s\n", path,
		s->complete ? "" : " (cut short)");
	fprintf(stderr, "heldby:   peak     %s in %s block%s at %s\n",
		format_size(s->peak_bytes, b1),
		format_count(s->peak_blocks, b2),
		s->peak_blocks == 1 ? "" : "s",
		format_duration(s->peak_time_ns, b3));
	fprintf(stderr, "heldby:   at exit  %s in %s block%s\n",
		format_size(s->end_bytes, b1), format_count(s->end_blocks, b2),
		s->end_blocks == 1 ? "" : "s");
	fprintf(stderr, "heldby:   calls    %s allocations, %s frees\n",
		format_count(s->alloc_calls, b1),
		format_count(s->free_calls, b2));
	fprintf(stderr, "heldby: who holds them: heldby report %s\n", path);
}

/* The summary the writer left in the trace's last block (format 3), read
 * without replaying the rest: 0, or -1 when there is none or the file is
 * not whole. */
static int
summary_from_end(const char *path, struct rp_summary *out)
{
	struct reader *r;
	char err[256];
	if (reader_open(path, &r, err, sizeof err) != 0)
		return -1;
	int ok = -1;
	if (reader_skip_to_last_block(r) == 0) {
		struct rd_event ev;
		while (reader_next(r, &ev) == 1)
			;
		const struct reader_stats *st = reader_stats(r);
		if (st->complete && st->has_summary && !st->anomalies) {
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
			ok = 0;
		}
	}
	reader_close(r);
	return ok;
}

/* A whole trace of a finished program carries its summary: print it from
 * there. Otherwise (cut short, a fork child's, an older format) replay. */
static void
summary(const char *path)
{
	struct rp_summary s;
	if (summary_from_end(path, &s) == 0) {
		print_summary(path, &s);
		return;
	}
	struct report rep;
	char err[256];
	if (report_load(&rep, path, err, sizeof err) != 0) {
		fprintf(stderr, "heldby: %s: %s\n", path, err);
		return;
	}
	print_summary(path, &rep.rp.sum);
	report_unload(&rep);
}

/* The trace that process pid began at or after since_ns: PATH, or the
 * PATH.N the shim took because PATH existed. Returns 1 and fills out, or 0. */
static int
find_trace(const char *base, pid_t pid, uint64_t since_ns, char *out,
	   size_t outlen)
{
	for (int i = 0; i <= MAX_SUFFIX; i++) {
		char cand[PATH_MAX + 8];
		if (i == 0)
			snprintf(cand, sizeof cand, "%s", base);
		else
			snprintf(cand, sizeof cand, "%s.%d", base, i);
		struct reader *r;
		char err[256];
		if (reader_open(cand, &r, err, sizeof err) != 0) {
			if (access(cand, F_OK) != 0)
				return 0; /* the shim stops at the first free
					     name */
			continue;
		}
		int mine = reader_pid(r) == (uint64_t)pid &&
			   reader_start_real_ns(r) >= since_ns;
		reader_close(r);
		if (mine && strlen(cand) < outlen) {
			strcpy(out, cand);
			return 1;
		}
	}
	return 0;
}

/* The folder the trace goes to must exist and be writable; better said
 * now than after a long run that recorded nothing. Returns 0 or -errno. */
static int
check_output_dir(const char *pattern, char *dir, size_t dirlen)
{
	char path[PATH_MAX];
	if (run_expand(pattern, getpid(), path, sizeof path) != 0)
		return -ENAMETOOLONG;
	char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, dirlen, ".");
	else if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) != 0)
		return -errno;
	struct stat sb;
	if (stat(dir, &sb) != 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

/* NULL when LD_PRELOAD can see the program's allocations (or we cannot
 * tell); else why not, for one line on stderr. */
static const char *
untraceable(const char *argv0)
{
	char exe[PATH_MAX];
	if (prog_resolve(argv0, exe, sizeof exe) != 0)
		return NULL; /* execvp will say */
	switch (prog_check(exe)) {
	case PROG_STATIC:
		return "is statically linked: LD_PRELOAD cannot reach its allocations";
	case PROG_OWN_MALLOC:
		return "brings its own malloc (a statically linked allocator): "
		       "LD_PRELOAD cannot see its allocations";
	case PROG_SETID:
		return "is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it";
	default: return NULL;
	}
}

static uint64_t
now_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Does name fit the file name pattern pat (%p: a pid), with or without
 * the ".N" the shim appends when a file exists? */
static int
trace_name_matches(const char *name, const char *pat)
{
	while (*pat) {
		if (pat[0] == '%' && pat[1] == 'p') {
			if (*name < '0' || *name > '9')
				return 0;
			while (*name >= '0' && *name <= '9')
				name++;
			pat += 2;
			continue;
		}
		if (pat[0] == '%' && pat[1] == '%')
			pat++;
		if (*name++ != *pat++)
			return 0;
	}
	if (!*name)
		return 1;
	if (*name++ != '.' || !*name)
		return 0;
	while (*name >= '0' && *name <= '9')
		name++;
	return !*name;
}

/* With --follow: the traces of the program's children and exec'd programs,
 * i.e. files that fit the pattern, written since the run began. */
static void
list_other_traces(const char *pattern, const char *main_path, time_t since)
{
	const char *slash = strrchr(pattern, '/');
	const char *base = slash ? slash + 1 : pattern;
	char dir[PATH_MAX]; /* the folder part, with its '/'; "" for "." */
	snprintf(dir, sizeof dir, "%.*s", (int)(base - pattern), pattern);
	if (strchr(dir, '%'))
		return; /* a pid in the folder name: not looked for */
	/* alphasort is strcmp here: heldby never calls setlocale */
	struct dirent **names;
	int n = scandir(*dir ? dir : ".", &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char path[PATH_MAX];
		struct stat sb;
		if (trace_name_matches(name, base) &&
		    snprintf(path, sizeof path, "%s%s", dir, name) <
			    (int)sizeof path &&
		    strcmp(path, main_path) != 0 && lstat(path, &sb) == 0 &&
		    S_ISREG(sb.st_mode) && sb.st_mtime >= since)
			fprintf(stderr,
				"heldby: also traced (child or exec'd program): %s\n",
				path);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

int
run_status(const char *prog, int status)
{
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "heldby: %s was killed by signal %d (%s)\n",
			prog, WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int
run_traced(const struct run_opts *o, struct run_done *d)
{
	const char *pattern = o->pattern ? o->pattern : DEFAULT_PATTERN;
	char shim[PATH_MAX];
	if (run_find_shim(shim, sizeof shim) != 0) {
		fprintf(stderr,
			"heldby: cannot find libheldby.so beside this heldby "
			"(set HELDBY_SHIM to its path)\n");
		return 1;
	}
	if (strpbrk(shim, " :")) {
		fprintf(stderr,
			"heldby: %s: LD_PRELOAD cannot hold a path with ' ' or ':'\n",
			shim);
		return 1;
	}
	char dir[PATH_MAX];
	int err = check_output_dir(pattern, dir, sizeof dir);
	if (err) {
		fprintf(stderr, "heldby: cannot write the trace in %s: %s\n",
			dir, strerror(-err));
		return 2;
	}
	const char *why = untraceable(o->argv[0]);
	if (why)
		fprintf(stderr, "heldby: %s %s; running it without recording\n",
			o->argv[0], why);
	d->started_ns = now_real_ns();
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		fprintf(stderr, "heldby: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "heldby: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(pfd[0]);
		child(o, why ? NULL : shim, pattern, pfd[1]);
	}
	close(pfd[1]);
	/* Like time(1): ^C goes to the program; we stay to report. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	int msg[2] = { 0, 0 };
	ssize_t n;
	do
		n = read(pfd[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);

	while (waitpid(pid, &d->status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "heldby: waitpid: %s\n",
				strerror(errno));
			return 1;
		}
	}
	char base[PATH_MAX];
	run_expand(pattern, pid, base, sizeof base);
	if (n == (ssize_t)sizeof msg) {
		switch (msg[0]) {
		case CHILD_EXEC:
			fprintf(stderr, "heldby: %s: %s\n", o->argv[0],
				strerror(msg[1]));
			return 127;
		default:
			fprintf(stderr,
				"heldby: cannot set up the environment: %s\n",
				strerror(msg[1]));
			return 1;
		}
	}
	d->untraced = why != NULL;
	d->have_trace = !why && find_trace(base, pid, d->started_ns, d->trace,
					   sizeof d->trace);
	if (!d->have_trace)
		snprintf(d->trace, sizeof d->trace, "%s", base);
	else if (strcmp(d->trace, base) != 0)
		fprintf(stderr, "heldby: %s existed; not overwritten\n", base);
	return 0;
}

void
run_no_trace(const struct run_done *d)
{
	if (d->untraced || d->have_trace)
		return; /* run_traced has said why, or there is one */
	fprintf(stderr,
		"heldby: no trace was written to %s: the program may not have started, "
		"or it is a script whose interpreter LD_PRELOAD cannot reach\n",
		d->trace);
}

int
run_program(const struct run_opts *o)
{
	struct run_done d = { 0 };
	int rc = run_traced(o, &d);
	if (rc)
		return rc;
	rc = run_status(o->argv[0], d.status);
	if (!d.have_trace) {
		run_no_trace(&d);
		return rc;
	}
	summary(d.trace);
	const char *fenv = getenv("HELDBY_FOLLOW");
	if (o->follow || (fenv && !strcmp(fenv, "1")))
		list_other_traces(o->pattern ? o->pattern : DEFAULT_PATTERN,
				  d.trace,
				  (time_t)(d.started_ns / 1000000000u));
	return rc;
}
