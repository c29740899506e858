/* SPDX-License-Identifier: MIT */
/*
 * A program whose true peak is known exactly: it holds 32 blocks of 1 MiB
 * plus 1000 of 1000 bytes at once, frees them all, then does it again with
 * less. Peak requested bytes: 32 MiB + 1,000,000 (plus the little that libc
 * itself allocates, e.g. stdout's buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
must_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	memset(p, 1, n < 64 ? n : 64);
	return p;
}

static void
hold_and_release(unsigned big, unsigned small)
{
	void *b[64], *s[1000];
	for (unsigned i = 0; i < big; i++)
		b[i] = must_alloc(1 << 20);
	for (unsigned i = 0; i < small; i++)
		s[i] = must_alloc(1000);
	for (unsigned i = 0; i < big; i++)
		free(b[i]);
	for (unsigned i = 0; i < small; i++)
		free(s[i]);
}

int
main(void)
{
	hold_and_release(32, 1000);
	hold_and_release(16, 500);
	printf("true peak %zu\n", (size_t)32 * (1 << 20) + 1000 * 1000);
	return 0;
}
