/* SPDX-License-Identifier: MIT */
/* Micro benchmark for bench/run: malloc/free churn of small sizes.
 *
 *   churn THREADS OPS_PER_THREAD
 *
 * Each thread keeps a window of 4096 slots; every step frees the block in a
 * pseudo-randomly chosen slot (fixed seed per thread) and allocates a new one
 * of 8..256 bytes from one of four call sites, so a tracker sees short, mostly
 * repeated stacks. Every free matches a malloc: events = 2 * THREADS * OPS,
 * plus the window freed at the end. Threads free their windows only once all
 * have finished their steps, so the peak is every window at once natively
 * and traced alike, however the threads were scheduled. Prints a checksum
 * so nothing is optimised away. Built with cc -O2 -g by bench/run. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

static pthread_barrier_t all_done;

struct job {
	unsigned id;
	unsigned long ops;
	uint64_t sum;
};

static inline uint64_t
next(uint64_t *s)
{
	/* xorshift64*: deterministic for a given seed */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

__attribute__((noinline)) static char *
site_a(size_t n)
{
	return malloc(n);
}
__attribute__((noinline)) static char *
site_b(size_t n)
{
	return malloc(n);
}
__attribute__((noinline)) static char *
site_c(size_t n)
{
	return site_a(n);
}
__attribute__((noinline)) static char *
site_d(size_t n)
{
	return site_b(n + 8);
}

static void *
worker(void *arg)
{
	struct job *j = arg;
	char **slot = calloc(SLOTS, sizeof *slot);
	uint64_t s =
		0x9E3779B97F4A7C15ULL ^ ((uint64_t)j->id * 0x100000001B3ULL);
	uint64_t sum = 0;
	if (!slot)
		abort();
	for (unsigned long i = 0; i < j->ops; i++) {
		uint64_t r = next(&s);
		unsigned k = (unsigned)(r % SLOTS);
		size_t n = 8 + (size_t)((r >> 20) % 249); /* 8..256 */
		char *p;
		if (slot[k]) {
			sum += (unsigned char)slot[k][0];
			free(slot[k]);
		}
		switch ((r >> 40) & 3) {
		case 0: p = site_a(n); break;
		case 1: p = site_b(n); break;
		case 2: p = site_c(n); break;
		default: p = site_d(n); break;
		}
		if (!p)
			abort();
		p[0] = (char)r;
		slot[k] = p;
	}
	pthread_barrier_wait(&all_done);
	for (unsigned k = 0; k < SLOTS; k++)
		free(slot[k]);
	free(slot);
	j->sum = sum;
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned threads = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1;
	unsigned long ops = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	if (threads < 1 || threads > 64) {
		fprintf(stderr, "usage: churn THREADS OPS_PER_THREAD\n");
		return 2;
	}
	pthread_t tid[64];
	struct job job[64];
	if (pthread_barrier_init(&all_done, NULL, threads) != 0)
		return 1;
	for (unsigned t = 0; t < threads; t++) {
		job[t] = (struct job){ .id = t, .ops = ops };
		if (pthread_create(&tid[t], NULL, worker, &job[t]) != 0)
			return 1;
	}
	uint64_t sum = 0;
	for (unsigned t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		sum += job[t].sum;
	}
	printf("churn threads=%u ops=%lu checksum=%llu\n", threads, ops,
	       (unsigned long long)sum);
	return 0;
}
