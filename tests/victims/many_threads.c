/* SPDX-License-Identifier: MIT */
/* argv[1] (2000) short-lived threads, at most 8 at a time; each allocates
 * and frees 10 blocks and keeps one of 1000 bytes. Prints the calls it made
 * and the size of its address space at the end. */
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

/* The address space in KiB: a 1 MiB ring for every thread that ever lived
 * would make it gigabytes (a count of mappings would not show it: the
 * kernel merges neighbouring ones). */
static long
vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
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
	printf("threads %d allocs %d kept %zu vmsize_kib %ld\n", n, n * 11,
	       held, vm_size_kib());
	return 0;
}
