/* SPDX-License-Identifier: MIT */
/* A plugin that allocates and keeps memory, then is dlclose'd: its call site
 * must still be named in the report. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *
plugin_make_cache(size_t bytes)
{
	void *p = malloc(bytes);
	if (p)
		memset(p, 7, bytes);
	return p;
}
