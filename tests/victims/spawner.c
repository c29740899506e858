/* SPDX-License-Identifier: MIT */
/* Starts other programs while allocating, the way argv[1] says:
 *   spawn PROG...    posix_spawn PROG between allocations, wait for it
 *   vfork PROG...    vfork, execv PROG in the child, wait for it
 *   exec PROG...     hold 8 MiB (before_exec), then execv PROG
 *   exec-fail        execv a path that does not exist, then carry on
 *   alloc            hold 16 MiB (exec_target) and return
 * The spawn/vfork parent keeps 1000 small blocks across the child's run and
 * frees them afterwards; it prints how many calls it made. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
void *volatile kept[1000];
void *volatile big;

__attribute__((noinline)) static void
before_exec(void)
{
	big = malloc(8 << 20);
}

__attribute__((noinline)) static void
exec_target(void)
{
	big = malloc(16 << 20);
}

__attribute__((noinline)) static void
after_failed_exec(void)
{
	big = malloc(4 << 20);
}

static int
wait_ok(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *how = argv[1];
	if (!strcmp(how, "alloc")) {
		exec_target();
		return 0;
	}
	if (!strcmp(how, "exec") && argc > 2) {
		before_exec();
		execv(argv[2], argv + 2);
		return 127;
	}
	if (!strcmp(how, "exec-fail")) {
		before_exec();
		char *av[] = { "/nonexistent/heldby-victim", NULL };
		execv(av[0], av);
		after_failed_exec();
		printf("exec failed, carried on\n");
		return 0;
	}
	if ((strcmp(how, "spawn") && strcmp(how, "vfork")) || argc < 3)
		return 2;
	for (int i = 0; i < 500; i++)
		kept[i] = malloc(100);
	int ok;
	if (!strcmp(how, "spawn")) {
		pid_t pid;
		ok = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2,
				 environ) == 0 &&
		     wait_ok(pid);
	} else {
		pid_t pid = vfork();
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		ok = pid > 0 && wait_ok(pid);
	}
	for (int i = 500; i < 1000; i++)
		kept[i] = malloc(100);
	for (int i = 0; i < 1000; i++)
		free(kept[i]);
	printf("child %s; 1000 allocations, 1000 frees\n",
	       ok ? "ok" : "failed");
	return ok ? 0 : 1;
}
