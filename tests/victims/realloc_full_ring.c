/* SPDX-License-Identifier: MIT */
/*
 * A program whose reallocs keep filling its thread's ring: ROUNDS
 * reallocs at the bottom of 60 frames of deep_a and deep_b, the pattern
 * flipping each round so that every event carries its whole stack (about
 * 500 bytes), many times the ring's first size. A realloc pushes two
 * events; when the second found the ring full, the thread waited for it
 * to empty, which the writer could not do before 2 s had passed
 * (tests/integration/test_threads.py). Natively it runs in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 20000
#define SLOTS 64
#define NOINLINE __attribute__((noinline))

static void *slot[SLOTS];

static void
grow(int round)
{
	void **p = &slot[round % SLOTS];
	void *q = realloc(*p, 16 + (size_t)(round % 200));
	if (!q)
		abort();
	*p = q;
}

NOINLINE static void deep_b(int depth, int round);

NOINLINE static void
deep_a(int depth, int round)
{
	volatile char pad[8];
	pad[0] = (char)depth;
	if (depth == 0)
		grow(round);
	else if ((depth ^ round) & 1)
		deep_a(depth - 1, round);
	else
		deep_b(depth - 1, round);
	__asm__ volatile("" ::"r"(pad) : "memory");
}

NOINLINE static void
deep_b(int depth, int round)
{
	volatile char pad[16];
	pad[0] = (char)depth;
	if (depth == 0)
		grow(round);
	else if ((depth ^ round) & 1)
		deep_a(depth - 1, round);
	else
		deep_b(depth - 1, round);
	__asm__ volatile("" ::"r"(pad) : "memory");
}

int
main(void)
{
	for (int round = 0; round < ROUNDS; round++)
		deep_a(60, round);
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
	printf("reallocs %d\n", ROUNDS);
	return 0;
}
