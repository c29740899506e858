/* SPDX-License-Identifier: MIT */
/* A server that forks a child per connection, as an accept loop does: it
 * holds 64 KiB itself (parent_hold), forks argv[1] children at once, each
 * holding 1 MiB + its index * 4096 bytes from one site (child_hold) until
 * it exits, and waits for them all. Each child prints "child I PID". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile parent_block;
void *volatile child_block;

__attribute__((noinline)) static void
parent_hold(void)
{
	parent_block = malloc(64 << 10);
}

__attribute__((noinline)) static void
child_hold(int i)
{
	child_block = malloc((1 << 20) + (size_t)i * 4096);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	parent_hold();
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			child_hold(i);
			printf("child %d %ld\n", i, (long)getpid());
			exit(0);
		}
	}
	int bad = 0, st;
	for (int i = 0; i < n; i++)
		bad |= wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st);
	free(parent_block);
	return bad;
}
