/* SPDX-License-Identifier: MIT */
/*
 * `heldby run`: finds libheldby.so beside this executable and runs the
 * program with it preloaded, as a supervisor would see it run natively:
 * the dispositions, mask and environment it would have had (but for
 * LD_PRELOAD and the HELDBY_* settings), the terminating and user signals
 * sent to heldby passed on to it, and its death by a signal passed on as
 * heldby's own. The shim tells which traces the processes of the run began
 * through the run's log (runlog.c); run_summary.c says what they hold. A
 * program LD_PRELOAD cannot reach (tools/progcheck.c) is run bare, with one
 * line. The child reports exec failures through a close-on-exec pipe, so
 * the program's own exit status is never confused with ours.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heldby/trace.h"
#include "progcheck.h"
#include "runlog.h"

#define DEFAULT_PATTERN "heldby.%p.hbt"

enum child_fail { CHILD_EXEC = 2, CHILD_ENV = 3 };

/* What heldby passes on to the program: what a supervisor, job control or
 * a CI timeout sends to end or poke it. */
static const int forwarded[] = { SIGTERM, SIGINT,  SIGHUP,
				 SIGQUIT, SIGUSR1, SIGUSR2 };
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

/* heldby's own dispositions and mask, as it was started: the program's. */
struct inherited {
	struct sigaction act[NFORWARDED];
	sigset_t mask;
};

static struct inherited inherited;
static volatile sig_atomic_t program_pid;

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
	_exit(what != CHILD_EXEC ? 2 : err == ENOENT ? 127 : 126);
}

static void
restore_inherited(const struct inherited *in)
{
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &in->act[i], NULL);
	sigprocmask(SIG_SETMASK, &in->mask, NULL);
}

/* shim NULL: run the program as it is, untraced. Never returns. */
_Noreturn static void
child(const struct run_opts *o, const char *shim, const char *pattern,
      const char *log, const struct inherited *in, int fd)
{
	restore_inherited(in);
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
	    setenv("HELDBY_FOLLOW", o->follow ? "1" : "0", 1) ||
	    setenv("HELDBY_RUN_LOG", log, 1))
		child_fail(fd, CHILD_ENV, errno);
	execvp(o->argv[0], o->argv);
	child_fail(fd, CHILD_EXEC, errno);
}

/* A signal sent to heldby goes to the program. Not one the terminal sent
 * (^C, ^\, a hang-up): the terminal sent it to the program too. */
static void
pass_on(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved = errno;
	pid_t pid = (pid_t)program_pid;
	if (pid > 0 && si->si_code != SI_KERNEL && si->si_pid != pid)
		kill(pid, sig);
	errno = saved;
}

/* Blocks the forwarded signals (until the program's pid is known) and
 * installs pass_on; what was there goes into *in. */
static void
take_signals(struct inherited *in)
{
	sigset_t fw;
	sigemptyset(&fw);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&fw, forwarded[i]);
	sigprocmask(SIG_BLOCK, &fw, &in->mask);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = pass_on;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, &in->act[i]);
}

/* The folder of the pattern that is the same for every process: up to
 * the first component with a '%' in it ("/out/%p/t.hbt": "/out"); the
 * shim makes the folders named by the pid. Returns 0 or -ENAMETOOLONG. */
static int
fixed_dir(const char *pattern, char *dir, size_t dirlen)
{
	const char *pct = strchr(pattern, '%');
	size_t upto = pct ? (size_t)(pct - pattern) : strlen(pattern);
	size_t slash = 0;
	for (size_t i = 0; i < upto; i++)
		if (pattern[i] == '/')
			slash = i;
	int n = pattern[0] != '/' ? snprintf(dir, dirlen, ".")
		: slash == 0
			? snprintf(dir, dirlen, "/")
			: snprintf(dir, dirlen, "%.*s", (int)slash, pattern);
	return n < 0 || (size_t)n >= dirlen ? -ENAMETOOLONG : 0;
}

/* The folder the trace goes to must exist and be writable; better said
 * now than after a long run that recorded nothing. Returns 0 or -errno. */
static int
check_output_dir(const char *pattern, char *dir, size_t dirlen)
{
	if (fixed_dir(pattern, dir, dirlen) != 0)
		return -ENAMETOOLONG;
	if (access(dir, W_OK | X_OK) != 0)
		return -errno;
	struct stat sb;
	if (stat(dir, &sb) != 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

/* -o DIR, an existing folder: the trace goes inside it, with the default
 * name. Returns 0, or -ENAMETOOLONG. */
static int
in_folder(const char *pattern, char *out, size_t cap)
{
	struct stat sb;
	int n;
	if (!strchr(pattern, '%') && stat(pattern, &sb) == 0 &&
	    S_ISDIR(sb.st_mode))
		n = snprintf(out, cap, "%s%s%s", pattern,
			     pattern[strlen(pattern) - 1] == '/' ? "" : "/",
			     DEFAULT_PATTERN);
	else
		n = snprintf(out, cap, "%s", pattern);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The folder of the trace, made (mode 0700, with its parents) when it is
 * missing, as heaptrack does; the folders below a '%' the shim makes in
 * each process. Returns 0 or -errno, with the folder that failed in dir. */
static int
make_output_dir(const char *pattern, char *dir, size_t dirlen)
{
	if (fixed_dir(pattern, dir, dirlen) != 0 || dir[0] != '/' || !dir[1])
		return 0;
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(dir, 0700) != 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				return 0;
		}
	}
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
run_die_like(int status)
{
	if (!WIFSIGNALED(status))
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	int sig = WTERMSIG(status);
	fflush(NULL);
	/* The program left its core dump; ours would be heldby's, and could
	 * take the same file name. */
	struct rlimit core;
	if (getrlimit(RLIMIT_CORE, &core) == 0) {
		core.rlim_cur = 0;
		setrlimit(RLIMIT_CORE, &core);
	}
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	return 128 + sig; /* a signal that does not end a process */
}

/* The pattern made absolute, so that the shim and the tool agree on every
 * path whatever folder a process changes to. Returns 0, or 2 with the
 * reason printed. */
static int
absolute_pattern(const char *pattern, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	if (pattern[0] == '/')
		snprintf(cwd, sizeof cwd, "%s", "");
	else if (!getcwd(cwd, sizeof cwd)) {
		fprintf(stderr, "heldby: the current folder: %s\n",
			strerror(errno));
		return 2;
	}
	int n = snprintf(out, cap, "%s%s%s", cwd, *cwd ? "/" : "", pattern);
	char probe[PATH_MAX];
	if (n < 0 || (size_t)n >= cap || (size_t)n > HELDBY_OUTPUT_MAX ||
	    run_expand(out, getpid(), probe, sizeof probe - 4) != 0) {
		fprintf(stderr,
			"heldby: output pattern too long (%d characters made "
			"absolute; at most %u)\n",
			n, HELDBY_OUTPUT_MAX);
		return 2;
	}
	return 0;
}

/* Waits for the program, passing signals on meanwhile; once it is gone,
 * they do to heldby what they would have done. */
static int
wait_program(pid_t pid, int *status)
{
	int rc = 0;
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "heldby: waitpid: %s\n",
				strerror(errno));
			rc = -1;
			break;
		}
	}
	program_pid = 0;
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &inherited.act[i], NULL);
	return rc;
}

/* Forks and execs the program; 0 with *pid, or the status heldby should
 * end with, the reason printed. */
static int
start_program(const struct run_opts *o, const char *shim, const char *pattern,
	      const char *log, pid_t *pid)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		fprintf(stderr, "heldby: pipe: %s\n", strerror(errno));
		return 1;
	}
	take_signals(&inherited);
	fflush(NULL);
	*pid = fork();
	if (*pid < 0) {
		fprintf(stderr, "heldby: fork: %s\n", strerror(errno));
		restore_inherited(&inherited);
		return 1;
	}
	if (*pid == 0) {
		close(pfd[0]);
		child(o, shim, pattern, log, &inherited, pfd[1]);
	}
	program_pid = *pid;
	sigprocmask(SIG_SETMASK, &inherited.mask, NULL);
	close(pfd[1]);
	int msg[2] = { 0, 0 };
	ssize_t n;
	do
		n = read(pfd[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n != (ssize_t)sizeof msg)
		return 0;
	int status;
	wait_program(*pid, &status);
	if (msg[0] == CHILD_EXEC) {
		fprintf(stderr, "heldby: %s: %s\n", o->argv[0],
			strerror(msg[1]));
		return msg[1] == ENOENT ? 127 : 126;
	}
	fprintf(stderr, "heldby: cannot set up the environment: %s\n",
		strerror(msg[1]));
	return 1;
}

/* The main trace: the last one the program's own process began (it may
 * have exec'd other programs before). */
static void
find_main_trace(struct run_done *d)
{
	d->have_trace = 0;
	for (size_t i = 0; i < d->log.n; i++) {
		const struct rl_entry *e = &d->log.e[i];
		if (e->kind == 'T' && e->pid == d->pid && e->nfields >= 1 &&
		    strlen(e->fields[0]) < sizeof d->trace) {
			strcpy(d->trace, e->fields[0]);
			d->have_trace = 1;
		}
	}
}

/* The shim to preload, into shim. Returns 0, or 1 with the reason
 * printed. */
static int
shim_to_preload(char *shim, size_t len)
{
	if (run_find_shim(shim, len) != 0) {
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
	return 0;
}

/* The output pattern made absolute, into pattern, with its folder made
 * and checked. Returns 0, or the status heldby ends with, the reason
 * printed. */
static int
output_pattern(const struct run_opts *o, char *pattern, size_t len)
{
	char given[PATH_MAX];
	if (in_folder(o->pattern ? o->pattern : DEFAULT_PATTERN, given,
		      sizeof given) != 0) {
		fprintf(stderr, "heldby: output pattern too long\n");
		return 2;
	}
	int err = absolute_pattern(given, pattern, len);
	if (err)
		return err;
	char dir[PATH_MAX];
	err = make_output_dir(pattern, dir, sizeof dir);
	if (!err)
		err = check_output_dir(pattern, dir, sizeof dir);
	if (err) {
		fprintf(stderr, "heldby: cannot write the trace in %s: %s\n",
			dir, strerror(-err));
		return 2;
	}
	return 0;
}

/* Runs the program (with shim preloaded; NULL: untraced) to its end and
 * reads the run's log. Returns 0, or the status heldby ends with. */
static int
run_to_end(const struct run_opts *o, const char *shim, const char *pattern,
	   struct run_done *d)
{
	int err = runlog_create(d->log_path, sizeof d->log_path);
	if (err) {
		fprintf(stderr, "heldby: cannot make the run's log: %s\n",
			strerror(-err));
		return 1;
	}
	int rc = start_program(o, shim, pattern, d->log_path, &d->pid);
	if (rc == 0 && wait_program(d->pid, &d->status) != 0)
		rc = 1;
	if (rc == 0)
		runlog_read(d->log_path, &d->log);
	if (rc)
		unlink(d->log_path);
	return rc;
}

int
run_traced(const struct run_opts *o, struct run_done *d)
{
	char shim[PATH_MAX], pattern[PATH_MAX];
	int rc = shim_to_preload(shim, sizeof shim);
	if (!rc)
		rc = output_pattern(o, pattern, sizeof pattern);
	if (rc)
		return rc;
	const char *why = untraceable(o->argv[0]);
	if (why)
		fprintf(stderr, "heldby: %s %s; running it without recording\n",
			o->argv[0], why);
	rc = run_to_end(o, why ? NULL : shim, pattern, d);
	if (rc)
		return rc;
	d->untraced = why != NULL;
	run_expand(pattern, d->pid, d->named, sizeof d->named);
	find_main_trace(d);
	if (!d->have_trace)
		snprintf(d->trace, sizeof d->trace, "%s", d->named);
	return 0;
}

void
run_done_free(struct run_done *d)
{
	runlog_free(&d->log);
	if (d->log_path[0])
		unlink(d->log_path);
	d->log_path[0] = 0;
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
	if (WIFSIGNALED(d.status))
		run_status(o->argv[0], d.status);
	if (d.have_trace)
		run_summarise(&d, o->follow);
	else
		run_no_trace(&d);
	run_done_free(&d);
	return run_die_like(d.status);
}
