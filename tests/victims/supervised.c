/* SPDX-License-Identifier: MIT */
/*
 * A program as a supervisor sees it (tests/integration/test_right_process.py):
 * what it was started with, what it does with signals, a daemon that
 * leaves its launcher behind, a child that changes folder.
 *   supervised state        prints its dispositions, mask and environment
 *                           (LD_PRELOAD and HELDBY_* left out)
 *   supervised signals      "ready"; each TERM INT HUP QUIT USR1 USR2 it gets
 *                           is printed; TERM ends it with exit status 0
 *   supervised daemon FILE  forks a daemon (setsid) holding 8 MiB, which
 *                           runs until FILE exists; the launcher exits
 *   supervised chdir DIR    forks a child that moves to DIR, allocates 4 MiB
 *                           and exits; the parent waits for it
 *   supervised hold N       holds N MiB until exit
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void *volatile kept[128];

static void
hold_mib(int n)
{
	for (int i = 0; i < n && i < 128; i++) {
		kept[i] = malloc(1 << 20);
		if (kept[i])
			memset(kept[i], 1, 1 << 20);
	}
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
print_state(void)
{
	for (int sig = 1; sig < 32; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) != 0)
			continue;
		printf("sig %d %s\n", sig,
		       sa.sa_handler == SIG_IGN	  ? "ignored"
		       : sa.sa_handler == SIG_DFL ? "default"
						  : "handled");
	}
	sigset_t mask;
	sigprocmask(SIG_SETMASK, NULL, &mask);
	for (int sig = 1; sig < 65; sig++)
		if (sigismember(&mask, sig) == 1)
			printf("blocked %d\n", sig);
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 1, sizeof *env);
	memcpy(env, environ, n * sizeof *env);
	qsort(env, n, sizeof *env, cmp);
	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) &&
		    strncmp(env[i], "HELDBY_", 7))
			printf("env %s\n", env[i]);
	free(env);
}

static volatile sig_atomic_t got[32];

static void
on_signal(int sig)
{
	got[sig]++;
}

static int
wait_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT,  SIGHUP,
				    SIGQUIT, SIGUSR1, SIGUSR2 };
	/* Blocked but inside sigsuspend: a signal that comes while the loop
	 * prints is not lost before the next wait. */
	sigset_t fw, during;
	sigemptyset(&fw);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		signal(sigs[i], on_signal);
		sigaddset(&fw, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &fw, &during);
	hold_mib(2);
	printf("ready\n");
	fflush(stdout);
	for (int ended = 0; !ended;) {
		sigsuspend(&during);
		for (int sig = 1; sig < 32; sig++) {
			while (got[sig]) {
				got[sig]--;
				printf("got %s\n", strsignal(sig));
				fflush(stdout);
				ended |= sig == SIGTERM;
			}
		}
	}
	return 0;
}

static void
nap_ms(long ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L },
		  NULL);
}

static int
daemon_until(const char *stop)
{
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0) {
		printf("daemon %ld\n", (long)pid);
		return 0; /* the launcher leaves at once */
	}
	/* As daemons do: out of the launcher's session, its output let go
	 * (whoever waits for the launcher's pipes is not kept waiting). */
	setsid();
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	hold_mib(8);
	struct stat sb;
	for (int i = 0; i < 3000 && stat(stop, &sb) != 0; i++)
		nap_ms(10);
	_exit(0);
}

static int
child_in(const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(2);
		hold_mib(4);
		_exit(0);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)
		       ? WEXITSTATUS(st)
		       : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "state")) {
		print_state();
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "signals"))
		return wait_signals();
	if (argc >= 3 && !strcmp(argv[1], "daemon"))
		return daemon_until(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "chdir"))
		return child_in(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "hold")) {
		hold_mib(atoi(argv[2]));
		printf("held %s MiB\n", argv[2]);
		return 0;
	}
	fprintf(stderr,
		"usage: supervised state|signals|daemon FILE|chdir DIR|hold N\n");
	return 2;
}
