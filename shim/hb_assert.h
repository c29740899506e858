/* SPDX-License-Identifier: MIT */
/*
 * Internal assertions, as mimalloc's mi_assert_internal: invariants of the
 * shim's own data structures, checked where meson's `assertions` option is
 * on (the sanitizer build of tests/gates, and buildtype=debug) and compiled
 * to nothing otherwise. A config constant, not an #ifdef (jemalloc's
 * config_debug): the condition is always compiled, so it cannot rot.
 */
#ifndef HELDBY_HB_ASSERT_H
#define HELDBY_HB_ASSERT_H

#include <stdlib.h>
#include <unistd.h>

#ifndef HB_ASSERTIONS
#define HB_ASSERTIONS 0
#endif

/* A failed hb_assert: one line on stderr, then abort. Inside malloc and in
 * signal handlers too: write(2) of a stack buffer, no stdio, no malloc.
 * Any thread; async-signal-safe. Never returns. */
__attribute__((noreturn, cold)) static inline void
hb_assert_fail(const char *cond, const char *file, unsigned line)
{
	char buf[256];
	size_t n = 0;
	const char *parts[] = { "heldby: ",	 file, ":",	    NULL,
				": assertion `", cond, "' failed\n" };
	char num[12];
	size_t k = sizeof(num);
	do {
		num[--k] = (char)('0' + line % 10);
		line /= 10;
	} while (line && k > 0);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *s = parts[i];
		size_t len = 0;
		if (!s) {
			s = num + k;
			len = sizeof(num) - k;
		} else {
			while (s[len])
				len++;
		}
		/* keep the last bytes for the newline */
		for (size_t j = 0; j < len && n < sizeof(buf) - 1; j++)
			buf[n++] = s[j];
	}
	buf[n - 1] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, n);
	(void)w;
	abort();
}

/* Checks cond where HB_ASSERTIONS is on; else nothing is evaluated and no
 * code is left. cond must have no side effect that the program needs. */
#define hb_assert(cond)                                                        \
	do {                                                                   \
		if (HB_ASSERTIONS && !(cond))                                  \
			hb_assert_fail(#cond, __FILE__, __LINE__);             \
	} while (0)

#endif
