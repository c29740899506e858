/* SPDX-License-Identifier: MIT */
/* Forks argv[1] (20) children while 4 threads allocate and free as fast as
 * they can (so the fork often lands while they, and heldby's writer, are
 * busy); each child allocates 1 MiB in child_work() and leaves, by exit or
 * _exit in turn. Prints how many children ran cleanly. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static _Atomic int stop;
void *volatile child_block;

static void *
churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *volatile p = malloc(48);
		free(p);
	}
	return NULL;
}

__attribute__((noinline)) static void
child_work(void)
{
	child_block = malloc(1 << 20);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, ok = 0;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < n; i++) {
		usleep(2000);
		pid_t pid = fork();
		if (pid == 0) {
			child_work();
			if (i % 2)
				exit(0);
			_exit(0);
		}
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0)
			ok++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("children %d ok %d\n", n, ok);
	return ok == n ? 0 : 1;
}
