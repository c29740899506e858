/* SPDX-License-Identifier: MIT */
/* main returns while other threads are still allocating as fast as they can:
 * the process must still exit promptly, with a complete trace. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Kept in a global so the compiler cannot drop the allocation. */
void *volatile kept_block;

static void *
allocate_forever(void *arg)
{
	(void)arg;
	for (;;) {
		void *p = malloc(64);
		*(volatile char *)p = 0;
		free(p);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t;
	for (int i = 0; i < 4; i++)
		pthread_create(&t, NULL, allocate_forever, NULL);
	kept_block = malloc(1 << 20);
	usleep(100 * 1000);
	printf("main returns\n");
	return 0;
}
