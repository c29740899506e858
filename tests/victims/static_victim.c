/* SPDX-License-Identifier: MIT */
/*
 * Linked statically: no program interpreter, so LD_PRELOAD never applies.
 * Exits 5 after checking its own data, so a test sees that it ran intact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	char *held[50];
	for (int i = 0; i < 50; i++) {
		held[i] = malloc(200000);
		if (!held[i])
			return 1;
		memset(held[i], i, 200000);
	}
	for (int i = 0; i < 50; i++)
		if (held[i][199999] != i)
			return 1;
	printf("static_victim: 50 blocks held\n");
	for (int i = 0; i < 50; i++)
		free(held[i]);
	return 5;
}
