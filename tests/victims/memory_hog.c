/* SPDX-License-Identifier: MIT */
/*
 * A test suite's program for `heldby check`: hold_report_buffers() holds
 * 83 blocks of 1,000,000 bytes (~83 MB, 79 MiB) at the peak and frees them;
 * leak_sessions() keeps 10 blocks of 1000 bytes to the end. How it ends is
 * the first argument: "ok" (exit 0), "fail N" (exit status N) or "abort"
 * (killed by SIGABRT), so the check can tell its failures from ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_BLOCKS 83
#define BIG_SIZE 1000000
#define LEAKS 10

void *volatile sink; /* keeps the compiler from dropping the blocks */

static void *
must_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	memset(p, 1, n);
	sink = p;
	return p;
}

__attribute__((noinline)) static void
hold_report_buffers(void)
{
	void *b[BIG_BLOCKS];
	for (unsigned i = 0; i < BIG_BLOCKS; i++)
		b[i] = must_alloc(BIG_SIZE);
	for (unsigned i = 0; i < BIG_BLOCKS; i++)
		free(b[i]);
}

__attribute__((noinline)) static void
leak_sessions(void)
{
	for (unsigned i = 0; i < LEAKS; i++)
		must_alloc(1000);
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "ok";
	hold_report_buffers();
	leak_sessions();
	if (!strcmp(how, "fail"))
		return argc > 2 ? atoi(argv[2]) : 1;
	if (!strcmp(how, "abort"))
		abort();
	if (strcmp(how, "ok")) {
		fprintf(stderr, "memory_hog: ok, fail N or abort, not %s\n",
			how);
		return 2;
	}
	return 0;
}
