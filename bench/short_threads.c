/* SPDX-License-Identifier: MIT */
/* Benchmark for bench/run: many short-lived threads, in the shape of
 * heaptrack's tests/manual/threaded.cpp.
 *
 *   short_threads THREADS BATCH ALLOCS
 *
 * Starts THREADS threads, BATCH at a time, and joins each batch before the
 * next. Each thread allocates ALLOCS blocks of 16..1039 bytes from two call
 * sites, keeps them in a local array, then frees them all: 2 * THREADS *
 * ALLOCS events, nothing held at exit. What a tracker pays here is per
 * thread (its buffers, its first stack walk) and for bursts from threads
 * that all start at once. Prints a checksum so nothing is optimised away.
 * Built with cc -O2 -g by bench/run. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
	unsigned id;
	unsigned allocs;
	uint64_t sum;
};

__attribute__((noinline)) static char *
make_small(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) static char *
make_named(unsigned id, size_t n)
{
	char *p = make_small(n);
	if (p)
		p[0] = (char)id;
	return p;
}

static void *
work(void *arg)
{
	struct job *j = arg;
	char **held = malloc(j->allocs * sizeof(*held));
	if (!held)
		return NULL;
	for (unsigned i = 0; i < j->allocs; i++) {
		size_t n = 16 + (size_t)((j->id * 7919u + i * 104729u) % 1024u);
		held[i] = i & 1 ? make_named(j->id, n) : make_small(n);
		if (held[i]) {
			held[i][n - 1] = (char)i;
			j->sum += (unsigned char)held[i][n - 1];
		}
	}
	for (unsigned i = 0; i < j->allocs; i++)
		free(held[i]);
	free(held);
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: short_threads THREADS BATCH ALLOCS\n");
		return 2;
	}
	unsigned threads = (unsigned)strtoul(argv[1], NULL, 10);
	unsigned batch = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned allocs = (unsigned)strtoul(argv[3], NULL, 10);
	if (!threads || !batch || !allocs)
		return 2;
	pthread_t *tids = calloc(batch, sizeof(*tids));
	struct job *jobs = calloc(batch, sizeof(*jobs));
	if (!tids || !jobs)
		return 1;
	uint64_t sum = 0;
	for (unsigned done = 0; done < threads;) {
		unsigned n = threads - done < batch ? threads - done : batch;
		for (unsigned i = 0; i < n; i++) {
			jobs[i] = (struct job){ .id = done + i,
						.allocs = allocs };
			if (pthread_create(&tids[i], NULL, work, &jobs[i]) != 0)
				return 1;
		}
		for (unsigned i = 0; i < n; i++) {
			pthread_join(tids[i], NULL);
			sum += jobs[i].sum;
		}
		done += n;
	}
	printf("%llu\n", (unsigned long long)sum);
	free(tids);
	free(jobs);
	return 0;
}
