/* SPDX-License-Identifier: MIT */
/*
 * A program that brings its own allocator, as one statically linked with
 * tcmalloc or jemalloc does: malloc, free, calloc and realloc are defined
 * here (a bump arena), so they resolve before any preloaded library.
 * Exits 3 after checking its own data, so a test sees that it ran intact.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ALIGN 16
static _Alignas(ALIGN) unsigned char arena[32 << 20];
static size_t used;

void *
malloc(size_t n)
{
	/* room for the size */
	size_t need = (n + 2 * ALIGN - 1) / ALIGN * ALIGN;
	if (n > sizeof arena || need > sizeof arena - used)
		return NULL;
	unsigned char *p = arena + used;
	used += need;
	memcpy(p, &n, sizeof n);
	return p + ALIGN;
}

void
free(void *p)
{
	(void)p; /* a bump arena never gives back */
}

void *
calloc(size_t a, size_t b)
{
	if (b && a > SIZE_MAX / b)
		return NULL;
	void *p = malloc(a * b);
	if (p)
		memset(p, 0, a * b);
	return p;
}

void *
realloc(void *old, size_t n)
{
	void *p = malloc(n);
	if (p && old) {
		size_t was;
		memcpy(&was, (unsigned char *)old - ALIGN, sizeof was);
		memcpy(p, old, was < n ? was : n);
	}
	return p;
}

int
main(void)
{
	unsigned char *held[100];
	for (int i = 0; i < 100; i++) {
		held[i] = malloc(100000);
		if (!held[i])
			return 1;
		memset(held[i], i, 100000);
	}
	for (int i = 0; i < 100; i++)
		if (held[i][99999] != i)
			return 1;
	printf("own_malloc: 100 blocks held\n");
	return 3;
}
