/* SPDX-License-Identifier: MIT */
/*
 * Threads hand blocks to each other through a small shared slot array: one
 * thread frees an address and another gets it straight back from malloc. A
 * replay that orders these events wrongly sees one block freed twice and
 * another never freed. Prints the exact calls it made so tests can compare.
 *   xthread_reuse THREADS ROUNDS
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { SLOTS = 64 };

static _Atomic(void *) slots[SLOTS];
static atomic_ulong allocs, frees;
static unsigned rounds;

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	for (unsigned i = 0; i < rounds; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t size = 16 + (seed >> 16) % 256;
		void *p = malloc(size);
		if (!p)
			abort();
		atomic_fetch_add(&allocs, 1);
		*(volatile char *)p = 1;
		void *old = atomic_exchange(&slots[(seed >> 8) % SLOTS], p);
		if (old) {
			free(old);
			atomic_fetch_add(&frees, 1);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned nthreads = argc > 1 ? (unsigned)atoi(argv[1]) : 4;
	rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 100000;
	pthread_t t[64];
	if (nthreads > 64)
		nthreads = 64;
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < SLOTS; i++) {
		void *p = atomic_exchange(&slots[i], NULL);
		if (p) {
			free(p);
			atomic_fetch_add(&frees, 1);
		}
	}
	printf("allocs %lu frees %lu\n", atomic_load(&allocs),
	       atomic_load(&frees));
	return 0;
}
