/* SPDX-License-Identifier: MIT */
/*
 * A library that allocates in its constructor. As a DT_NEEDED library of
 * the program it is initialised before libheldby.so (preloaded libraries
 * come last, just before the program), as libstdc++ and GLib are: its
 * 3 MiB table must still be recorded.
 */
#include <stdlib.h>
#include <string.h>

#define EARLY_TABLE_BYTES (3u << 20)

static char *early_table;

__attribute__((noinline)) static char *
early_ctor_table(void)
{
	char *t = malloc(EARLY_TABLE_BYTES);
	if (t)
		memset(t, 7, EARLY_TABLE_BYTES);
	return t;
}

__attribute__((constructor)) static void
early_lib_init(void)
{
	early_table = early_ctor_table();
}

unsigned
early_table_sum(void)
{
	unsigned s = 0;
	for (unsigned i = 0; early_table && i < EARLY_TABLE_BYTES; i += 4096)
		s += (unsigned char)early_table[i];
	return s;
}
