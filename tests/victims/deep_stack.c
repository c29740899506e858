/* SPDX-License-Identifier: MIT */
/*
 * Two call sites whose first eight frames agree: root_a and root_b reach
 * malloc through the same ten levels, so the text report's default depth
 * shows them alike and must say it merged them (tests/integration/
 * test_report_text.py). "one" makes one allocation and nothing else, for
 * the report's singulars.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *kept[64];
static int nkept;
static volatile uintptr_t sink;

#define NOINLINE __attribute__((noinline))

static NOINLINE void *
level1(size_t n)
{
	void *p = malloc(n);
	memset(p, 1, n);
	kept[nkept++] = p;
	sink += (uintptr_t)p;
	return p;
}

/* Each level does something after its call, so none is a tail call. */
#define LEVEL(k, j)                                                            \
	static NOINLINE void *level##k(size_t n)                               \
	{                                                                      \
		void *p = level##j(n);                                         \
		sink += (uintptr_t)p & 1;                                      \
		return p;                                                      \
	}
LEVEL(2, 1)
LEVEL(3, 2)
LEVEL(4, 3)
LEVEL(5, 4)
LEVEL(6, 5)
LEVEL(7, 6)
LEVEL(8, 7)
LEVEL(9, 8)
LEVEL(10, 9)

static NOINLINE void
root_a(void)
{
	for (int i = 0; i < 3; i++)
		level10(1000);
	sink++;
}

static NOINLINE void
root_b(void)
{
	for (int i = 0; i < 2; i++)
		level10(2000);
	sink++;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "one")) {
		kept[0] = malloc(100);
		memset(kept[0], 0, 100);
		return (int)(sink & 0) + ((char *)kept[0])[5];
	}
	root_a();
	root_b();
	return (int)(sink & 0);
}
