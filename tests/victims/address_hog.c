/* SPDX-License-Identifier: MIT */
/*
 * What the program sees of the shim's own memory (tests/integration/
 * test_address_space.py).
 *
 *   address_hog hog       allocates 1 MiB blocks until malloc fails (run
 *                         under a limit of address space); prints how many
 *   address_hog mallinfo  makes a few allocations on two threads, lets the
 *                         shim's threads work, prints mallinfo2's arena,
 *                         uordblks and hblkhd
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *volatile sink;

static int
hog(void)
{
	void **keep = NULL;
	size_t n = 0;
	for (;;) {
		void *p = malloc(1 << 20);
		if (!p)
			break;
		memset(p, 1, 1 << 20);
		void **k = realloc(keep, (n + 1) * sizeof(*k));
		if (!k) {
			free(p);
			break;
		}
		keep = k;
		keep[n++] = p;
		sink = p;
	}
	printf("%zu\n", n);
	return 0;
}

static void *
small_allocs(void *arg)
{
	void **keep = arg;
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(1000);
	return NULL;
}

static int
info(void)
{
	static void *keep[2][100];
	pthread_t t;
	if (pthread_create(&t, NULL, small_allocs, keep[1]) != 0)
		return 1;
	small_allocs(keep[0]);
	pthread_join(t, NULL);
	/* the writer drains, reads modules, compresses a block meanwhile */
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	struct mallinfo2 mi = mallinfo2();
	printf("%zu %zu %zu\n", mi.arena, mi.uordblks, mi.hblkhd);
	sink = keep;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "hog"))
		return hog();
	if (argc == 2 && !strcmp(argv[1], "mallinfo"))
		return info();
	fprintf(stderr, "usage: address_hog hog|mallinfo\n");
	return 2;
}
