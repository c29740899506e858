/* SPDX-License-Identifier: MIT */
/* The parent holds 30 MiB (parent_hold) and forks; the child allocates
 * 50 MiB (child_alloc), says its pid and leaves with _exit, or with
 * argv[1] "exec", runs argv[2...] instead. The parent waits for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile parent_blocks[30];
void *volatile child_blocks[50];

__attribute__((noinline)) static void
parent_hold(void)
{
	for (int i = 0; i < 30; i++)
		parent_blocks[i] = malloc(1 << 20);
}

__attribute__((noinline)) static void
child_alloc(void)
{
	for (int i = 0; i < 50; i++)
		child_blocks[i] = malloc(1 << 20);
}

int
main(int argc, char **argv)
{
	parent_hold();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (argc > 2 && !strcmp(argv[1], "exec")) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		child_alloc();
		/* frees of blocks the parent allocated: unknown to the child */
		free(parent_blocks[0]);
		printf("child pid %ld\n", (long)getpid());
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	for (int i = 0; i < 30; i++)
		free(parent_blocks[i]);
	printf("parent done, child status %d\n", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}
