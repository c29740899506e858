/* SPDX-License-Identifier: MIT */
/*
 * Links libvictim_early.so, whose constructors keep a 3 MiB table
 * (malloc) and a 2 MiB one (new[]) that are never freed; main itself holds
 * 1 MiB for a moment. True peak: 6 MiB plus the runtimes' own allocations
 * (libstdc++'s emergency exception pool: 71 KiB); at exit the two tables
 * are held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned early_table_sum(void);
unsigned early_cxx_table_sum(void);

int
main(void)
{
	char *p = malloc(1 << 20);
	if (!p)
		return 1;
	memset(p, 1, 1 << 20);
	printf("early table sums %u %u\n",
	       early_table_sum() + (unsigned)p[4096] - 1,
	       early_cxx_table_sum());
	free(p);
	return 0;
}
