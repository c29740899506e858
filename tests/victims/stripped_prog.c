/* SPDX-License-Identifier: MIT */
/*
 * A program whose memory is allocated by a function of its own, built
 * stripped twice (tests/integration/test_stripped.py): plainly, so its
 * frames read stripped_plain+0x..., and with MiniDebugInfo, so the name
 * must come back from .gnu_debugdata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFERS 64

static char *held[BUFFERS]; /* reachable: -O2 keeps the mallocs */

/* Not exported, so only a symbol table names it, never .dynsym. noclone
 * is gcc's: clang has no such attribute, and warns of it. */
#if defined(__clang__)
__attribute__((noinline)) static void
#else
__attribute__((noinline, noclone)) static void
#endif
hold_stripped_buffers(size_t n)
{
	for (size_t i = 0; i < BUFFERS; i++) {
		held[i] = malloc(n);
		if (held[i])
			memset(held[i], (int)i, n);
	}
}

int
main(void)
{
	hold_stripped_buffers(4096);
	size_t sum = 0;
	for (size_t i = 0; i < BUFFERS; i++)
		sum += held[i] ? (unsigned char)held[i][1] : 0;
	printf("%zu\n", sum);
	return 0;
}
