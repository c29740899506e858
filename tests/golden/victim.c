/* SPDX-License-Identifier: MIT */
/*
 * The program the golden traces were recorded from (tests/golden/make.sh):
 * a few allocations through malloc, calloc and realloc from two call sites,
 * a mark, one block held at exit. No stdio: libc allocates nothing of its
 * own, so that every stack is the program's alone.
 */
#include <heldby.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep[40];

__attribute__((noinline)) static void
fill(int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		keep[i] = malloc(size);
		if (keep[i])
			memset(keep[i], 1, 16);
	}
}

__attribute__((noinline)) static void
grow(void)
{
	void *p = calloc(4, 1000);
	p = realloc(p, 64000);
	keep[39] = p;
}

__attribute__((noinline)) static void
drop(int n)
{
	for (int i = 0; i < n; i++) {
		free(keep[i]);
		keep[i] = NULL;
	}
}

int
main(void)
{
	fill(30, 100000);
	heldby_mark("filled");
	drop(30);
	fill(10, 1000);
	grow();
	drop(10);
	return 0;
}
