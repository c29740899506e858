/* SPDX-License-Identifier: MIT */
/* A plugin meant to be dlopen'ed with RTLD_DEEPBIND: its own malloc and free
 * bind to libc, past the preloaded shim, while the malloc inside libc's
 * strdup still reaches it. Everything it frees must not be reported held;
 * what it keeps must be (tests/integration/test_deepbind.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEEPBIND_STRINGS 1000

/* Reachable from outside, so that gcc cannot drop the strdup/free pairs. */
char *deepbind_strings[DEEPBIND_STRINGS];
void *deepbind_kept;

/* strdup()s n strings, then free()s them; returns their total length. */
__attribute__((noinline)) size_t
deepbind_churn(int n)
{
	char buf[32];
	size_t len = 0;
	if (n > DEEPBIND_STRINGS)
		n = DEEPBIND_STRINGS;
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "deepbind-%d", i);
		deepbind_strings[i] = strdup(buf);
	}
	for (int i = 0; i < n; i++) {
		len += deepbind_strings[i] ? strlen(deepbind_strings[i]) : 0;
		free(deepbind_strings[i]);
		deepbind_strings[i] = NULL;
	}
	return len;
}

/* malloc()s bytes and keeps them until the process exits. */
__attribute__((noinline)) void *
deepbind_keep(size_t bytes)
{
	deepbind_kept = malloc(bytes);
	if (deepbind_kept)
		memset(deepbind_kept, 0x5a, bytes);
	return deepbind_kept;
}

/* free()s a block the host allocated before the plugin was loaded,
 * through free's address (a GLOB_DAT slot, not the PLT's JUMP_SLOT). */
__attribute__((noinline)) void
deepbind_take(char *s)
{
	void (*volatile release)(void *) = free;
	release(s);
}
