/* SPDX-License-Identifier: MIT */
/* argv[1] (2000) short-lived threads, at most 8 at a time; each allocates
 * and frees 10 blocks and keeps one of 1000 bytes. Prints the calls it made
 * and how many mappings the process has at the end (a ring per thread that
 * ever lived would show as thousands). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 8

static void *
worker(void *arg)
{
	void **keep = arg;
	for (int i = 0; i < 10; i++) {
		void *volatile p = malloc(32 + (size_t)i);
		free(p);
	}
	*keep = malloc(1000);
	return NULL;
}

static int
count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	int n = 0, c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	void **keep = calloc((size_t)n, sizeof(*keep));
	for (int i = 0; i < n; i += BATCH) {
		pthread_t t[BATCH];
		int m = 0;
		for (int j = i; j < n && j < i + BATCH; j++)
			if (pthread_create(&t[m], NULL, worker, &keep[j]) == 0)
				m++;
		for (int j = 0; j < m; j++)
			pthread_join(t[j], NULL);
	}
	size_t held = 0;
	for (int i = 0; i < n; i++)
		held += keep[i] ? 1000 : 0;
	printf("threads %d allocs %d kept %zu mappings %d\n", n, n * 11, held, count_mappings());
	return 0;
}
