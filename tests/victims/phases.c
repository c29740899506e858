/* SPDX-License-Identifier: MIT */
/*
 * Two phases, each holding a known number of bytes from one function, and
 * between them a wait for a file the test makes: what `heldby snapshot`
 * is tested on (tests/integration/test_snapshot_ctl.py), each snapshot at
 * a moment whose live bytes the test knows.
 *
 *     phases GO1 GO2
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PHASE1_BLOCKS 100
#define PHASE1_SIZE 10000
#define PHASE2_BLOCKS 40
#define PHASE2_SIZE 50000

/* Globals, so that the compiler cannot drop the allocations. */
static void *phase1[PHASE1_BLOCKS];
static void *phase2[PHASE2_BLOCKS];

static void *
must_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	memset(p, 1, n < 64 ? n : 64);
	return p;
}

__attribute__((noinline)) static void
hold_phase1(void)
{
	for (int i = 0; i < PHASE1_BLOCKS; i++)
		phase1[i] = must_alloc(PHASE1_SIZE);
}

__attribute__((noinline)) static void
hold_phase2(void)
{
	for (int i = 0; i < PHASE1_BLOCKS; i++)
		free(phase1[i]);
	for (int i = 0; i < PHASE2_BLOCKS; i++)
		phase2[i] = must_alloc(PHASE2_SIZE);
}

/* Until path exists, every 10 ms; 20 s at most, so that a test that lost
 * track of the program does not leave it behind. */
static int
wait_for(const char *path)
{
	struct timespec ts = { 0, 10000000 };
	for (int i = 0; i < 2000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void
say(const char *phase, int blocks, int size)
{
	printf("%s holds %d bytes in %d blocks\n%s ready\n", phase,
	       blocks * size, blocks, phase);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: phases GO1 GO2\n");
		return 2;
	}
	hold_phase1();
	say("phase1", PHASE1_BLOCKS, PHASE1_SIZE);
	if (wait_for(argv[1]) != 0) {
		fprintf(stderr, "phases: no %s after 20 s\n", argv[1]);
		return 3;
	}
	hold_phase2();
	say("phase2", PHASE2_BLOCKS, PHASE2_SIZE);
	if (wait_for(argv[2]) != 0) {
		fprintf(stderr, "phases: no %s after 20 s\n", argv[2]);
		return 3;
	}
	for (int i = 0; i < PHASE2_BLOCKS; i++)
		free(phase2[i]);
	printf("done\n");
	return 0;
}
