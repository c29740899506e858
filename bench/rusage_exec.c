/* SPDX-License-Identifier: MIT */
/* bench/run's launcher: rusage_exec OUTFILE PROG ARGS...
 *
 * Forks, execs PROG, waits with wait4 and writes one line to OUTFILE:
 *   wall_ns user_us sys_us maxrss_kib status
 * Launching from this small process (instead of from Python) keeps the
 * child's max RSS honest: ru_maxrss survives exec, so a child forked from a
 * 20 MiB interpreter could never report less than 20 MiB.
 *
 * RUSAGE_EXEC_PRELOAD=LIB in the environment becomes LD_PRELOAD=LIB for PROG
 * only, so a preloaded shim sees PROG and not this launcher (a shim that
 * stops tracking across fork/exec would otherwise trace nothing). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: rusage_exec OUTFILE PROG ARGS...\n");
		return 125;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 125;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 125;
	}
	if (pid == 0) {
		fclose(out);
		const char *pre = getenv("RUSAGE_EXEC_PRELOAD");
		if (pre) {
			setenv("LD_PRELOAD", pre, 1);
			unsetenv("RUSAGE_EXEC_PRELOAD");
		}
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 125;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
			 (t1.tv_nsec - t0.tv_nsec);
	fprintf(out, "%lld %lld %lld %ld %d\n", wall,
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
		ru.ru_maxrss, status);
	fclose(out);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
