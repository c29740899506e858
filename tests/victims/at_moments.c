/* SPDX-License-Identifier: MIT */
/*
 * Two phases a known time apart, for `heldby report --at`
 * (tests/integration/test_report_at.py). Phase A holds 3 blocks of 1 MiB
 * (hold_a), then phase B frees them and holds 5 blocks of 1 MiB + 4 KiB
 * (hold_b) for 1.2 s, so that B's blocks are past the first age bucket at
 * mark "c". Marks bracket each phase ("a0" "a1", "b0" "b1", "c"): between
 * a1 and b0, and between b1 and c, nothing is allocated or freed.
 *   at_moments [FILE]   with FILE, waits (bounded: 30 s) for FILE to
 *                       exist before it exits, its trace still being
 *                       written meanwhile
 * Not linked with libheldby: the marks are live only under LD_PRELOAD.
 */
#include <heldby.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define A_BLOCKS 3
#define A_SIZE (1u << 20)
#define B_BLOCKS 5
#define B_SIZE ((1u << 20) + 4096)

static void *volatile a[A_BLOCKS], *volatile b[B_BLOCKS];

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline)) static void
hold_a(void)
{
	for (int i = 0; i < A_BLOCKS; i++)
		a[i] = malloc(A_SIZE);
}

__attribute__((noinline)) static void
hold_b(void)
{
	for (int i = 0; i < A_BLOCKS; i++)
		free(a[i]);
	for (int i = 0; i < B_BLOCKS; i++)
		b[i] = malloc(B_SIZE);
}

static void
wait_for(const char *path)
{
	for (int i = 0; i < 3000 && access(path, F_OK) != 0; i++)
		nap_ms(10);
}

int
main(int argc, char **argv)
{
	heldby_mark("a0");
	hold_a();
	heldby_mark("a1");
	nap_ms(400);
	heldby_mark("b0");
	hold_b();
	heldby_mark("b1");
	nap_ms(1200);
	heldby_mark("c");
	printf("a %u %u b %u %u\n", A_BLOCKS, A_SIZE, B_BLOCKS, B_SIZE);
	fflush(stdout);
	if (argc > 1)
		wait_for(argv[1]);
	for (int i = 0; i < B_BLOCKS; i++)
		free(b[i]);
	return 0;
}
