/* SPDX-License-Identifier: MIT */
/*
 * Links libvictim_early.so, whose constructor keeps a 3 MiB table that
 * is never freed; main itself holds 1 MiB for a moment. True peak: 4 MiB
 * plus libc's own small allocations; at exit the 3 MiB table is held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned early_table_sum(void);

int
main(void)
{
	char *p = malloc(1 << 20);
	if (!p)
		return 1;
	memset(p, 1, 1 << 20);
	printf("early table sum %u\n", early_table_sum() + (unsigned)p[4096] - 1);
	free(p);
	return 0;
}
