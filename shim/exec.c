/* SPDX-License-Identifier: MIT */
/*
 * exec, and the programs a traced process starts. exec replaces the process
 * image and every unwritten event with it (flush first: docs/lifecycle.md), so
 * the trace is finished first; the new program (same pid) is then traced to a
 * trace of its own, the next free name, so that a service a script starts
 * with `exec` is seen. It gets libheldby back in LD_PRELOAD (taken out at
 * start when children are not followed) and the settings, whatever
 * environment the exec passes. A program that a process not followed runs
 * is named in the run's log instead (runlog.c). glibc's execl* and execvp
 * reach execve internally, not through our symbol: wrap each.
 */
#include "exec.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attrs.h"
#include "config.h"
#include "guard.h"
#include "lifecycle.h"
#include "modules.h"
#include "preload.h"
#include "real.h"
#include "ring.h"
#include "runlog.h"
#include "writer.h"

/* The HELDBY_* settings this process started with (but HELDBY_OUTPUT,
 * which is written whole from hb_cfg), NUL after each: what an exec'd
 * program gets, even from an exec that passes an environment without
 * them. */
static char saved[8192];
static size_t saved_len;

void
exec_save_settings(void)
{
	saved_len = 0;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "HELDBY_", 7) != 0 ||
		    strncmp(*e, "HELDBY_OUTPUT=", 14) == 0)
			continue;
		size_t n = strlen(*e) + 1;
		if (saved_len + n > sizeof(saved))
			break;
		memcpy(saved + saved_len, *e, n);
		saved_len += n;
	}
}

/* Whether the environment entry is one this file writes itself. */
static int
replaced(const char *entry)
{
	if (strncmp(entry, "LD_PRELOAD=", 11) == 0 ||
	    strncmp(entry, "HELDBY_OUTPUT=", 14) == 0)
		return 1;
	for (size_t i = 0; i < saved_len; i += strlen(saved + i) + 1) {
		const char *eq = strchr(saved + i, '=');
		size_t n = (size_t)(eq - (saved + i)) + 1;
		if (strncmp(entry, saved + i, n) == 0)
			return 1;
	}
	return 0;
}

struct exec_env {
	void *map;
	size_t len;
};

/* envp with libheldby in LD_PRELOAD and the settings of this process, in
 * memory of its own (e->map); envp itself when that cannot be made. */
static char *const *
env_for_exec(char *const envp[], struct exec_env *e)
{
	e->map = NULL;
	const char *pre = NULL;
	size_t n = 0, nsaved = 0;
	for (; envp && envp[n]; n++)
		if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0)
			pre = envp[n] + 11;
	for (size_t i = 0; i < saved_len; i += strlen(saved + i) + 1)
		nsaved++;
	size_t plen = preload_with_us(pre, NULL, 0);
	size_t olen = strlen(hb_cfg.output);
	size_t ptrs = (n + nsaved + 3) * sizeof(char *);
	e->len = ptrs + 11 + plen + 1 + 14 + olen + 1;
	void *m = mmap(NULL, e->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return envp;
	e->map = m;
	char **out = m, *str = (char *)m + ptrs;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!replaced(envp[i]))
			out[k++] = envp[i];
	out[k++] = str;
	memcpy(str, "LD_PRELOAD=", 11);
	preload_with_us(pre, str + 11, plen + 1);
	str += 11 + plen + 1;
	out[k++] = str;
	memcpy(str, "HELDBY_OUTPUT=", 14);
	memcpy(str + 14, hb_cfg.output, olen + 1);
	for (size_t i = 0; i < saved_len; i += strlen(saved + i) + 1)
		out[k++] = saved + i;
	out[k] = NULL;
	return out;
}

static void
env_free(struct exec_env *e)
{
	if (e->map)
		munmap(e->map, e->len);
	e->map = NULL;
}

/* Whether the program this process execs is traced: it is, itself. */
static int
exec_followed(void)
{
	return hb_on() && hb_in_owner();
}

/* Finishes the trace. Returns true when it did (restart it if exec
 * fails). */
static int
before_exec(void)
{
	if (!hb_on() || !hb_in_owner() || !writer_running())
		return 0;
	hb_finish();
	return 1;
}

static int
after_failed_exec(int finished, int r)
{
	if (!finished)
		return r;
	int saved_errno = errno;
	int owned = guard_enter();
	if (writer_restart_after_exec() == 0) {
		mod_forget();
		atomic_store(&ring_stop, 0);
		if (writer_start() == 0) {
			/* ON before the hooks stop counting: each event is
			 * counted by one of the two. */
			atomic_store(&hb_state, HB_ON);
			atomic_store(&hb_counting, 0);
		} else {
			atomic_store(&ring_stop, 1);
		}
	}
	if (owned)
		guard_leave();
	errno = saved_errno;
	return r;
}

/* A process that is not followed (a fork or vfork child) runs a program:
 * say so in the run's log, for `heldby run` to name it. */
static void
note_untraced(const char *prog, char *const argv[])
{
	if (!hb_cfg.follow && !exec_followed())
		runlog_untraced(getpid(), getppid(), prog, argv);
}

typedef int (*exec_fn)(const char *, char *const[], char *const[]);

/* One exec, by fn (libc's execve or execvpe): the trace finished before,
 * the environment given libheldby back when the new program is followed,
 * recording resumed when the exec fails. */
static int
exec_with(exec_fn fn, const char *prog, char *const argv[], char *const envp[])
{
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	note_untraced(prog, argv);
	int follow = exec_followed();
	int fin = before_exec();
	struct exec_env e = { 0 };
	char *const *env = follow ? env_for_exec(envp, &e) : envp;
	int r = fn(prog, argv, env);
	env_free(&e);
	return after_failed_exec(fin, r);
}

HB_EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	if (unlikely(!real.execve))
		real_init();
	return exec_with(real.execve, path, argv, envp);
}

HB_EXPORT int
execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

HB_EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (unlikely(!real.execve))
		real_init();
	return exec_with(real.execvpe, file, argv, envp);
}

HB_EXPORT int
execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl, execlp, execle: collect the list, then the v form. */
static int
exec_list(int kind, const char *path, const char *arg0, va_list ap)
{
	size_t n = 0; /* arguments before the terminating NULL */
	if (arg0) {
		va_list cp;
		va_copy(cp, ap);
		for (n = 1; va_arg(cp, char *); n++)
			if (n >= 4096)
				break;
		va_end(cp);
		if (n >= 4096) {
			errno = E2BIG;
			return -1;
		}
	}
	char *argv[n + 1];
	argv[0] = (char *)arg0;
	for (size_t i = 1; i < n; i++)
		argv[i] = va_arg(ap, char *);
	if (n)
		(void)va_arg(ap, char *); /* the NULL */
	argv[n] = NULL;
	if (kind == 2) {
		char *const *envp = va_arg(ap, char *const *);
		return execve(path, argv, envp);
	}
	return kind == 1 ? execvp(path, argv) : execv(path, argv);
}

HB_EXPORT int
execl(const char *path, const char *arg0, ...)
{
	va_list ap;
	va_start(ap, arg0);
	int r = exec_list(0, path, arg0, ap);
	va_end(ap);
	return r;
}

HB_EXPORT int
execlp(const char *file, const char *arg0, ...)
{
	va_list ap;
	va_start(ap, arg0);
	int r = exec_list(1, file, arg0, ap);
	va_end(ap);
	return r;
}

HB_EXPORT int
execle(const char *path, const char *arg0, ...)
{
	va_list ap;
	va_start(ap, arg0);
	int r = exec_list(2, path, arg0, ap);
	va_end(ap);
	return r;
}

/* The run's log hears of each child as fork returns, before the parent
 * can end: a daemon's launcher forks and exits at once. */
HB_EXPORT pid_t
fork(void)
{
	if (unlikely(!real.fork))
		real_init();
	if (!real.fork) {
		errno = EAGAIN; /* only while another thread resolves */
		return -1;
	}
	pid_t pid = real.fork();
	if (pid > 0)
		runlog_forked(pid);
	return pid;
}

/* posix_spawn, system and popen start their program inside libc, past
 * our execve: a traced process that does not follow its children names
 * what they run here. Followed, the child's own shim starts its trace. */
static int
spawn_noted(void)
{
	return !hb_cfg.follow && exec_followed();
}

typedef int (*spawn_fn)(pid_t *, const char *,
			const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[],
			char *const[]);

static int
spawn_noting(spawn_fn fn, pid_t *pid, const char *prog,
	     const posix_spawn_file_actions_t *fa,
	     const posix_spawnattr_t *attr, char *const argv[],
	     char *const envp[])
{
	if (!fn)
		return ENOSYS;
	pid_t child = 0;
	int r = fn(&child, prog, fa, attr, argv, envp);
	if (r == 0 && spawn_noted())
		runlog_untraced(child, getpid(), prog, argv);
	if (pid)
		*pid = child;
	return r;
}

HB_EXPORT int
posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
	    const posix_spawnattr_t *attr, char *const argv[],
	    char *const envp[])
{
	if (unlikely(!real.posix_spawn))
		real_init();
	return spawn_noting(real.posix_spawn, pid, path, fa, attr, argv, envp);
}

HB_EXPORT int
posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
	     const posix_spawnattr_t *attr, char *const argv[],
	     char *const envp[])
{
	if (unlikely(!real.posix_spawnp))
		real_init();
	return spawn_noting(real.posix_spawnp, pid, file, fa, attr, argv, envp);
}

static void
note_shell(const char *command)
{
	if (command && spawn_noted()) {
		char *const argv[] = { "sh", "-c", (char *)command, NULL };
		runlog_untraced(0, getpid(), "/bin/sh", argv);
	}
}

HB_EXPORT int
system(const char *command)
{
	if (unlikely(!real.system))
		real_init();
	note_shell(command);
	return real.system(command);
}

HB_EXPORT FILE *
popen(const char *command, const char *type)
{
	if (unlikely(!real.popen))
		real_init();
	note_shell(command);
	return real.popen(command, type);
}
