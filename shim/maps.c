/* SPDX-License-Identifier: MIT */
#include "maps.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

/* Whether line (NUL-terminated) is "lo-hi ..." with lo <= addr < hi. */
static int
line_holds(const char *line, uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	char *rest;
	uintptr_t a = (uintptr_t)strtoull(line, &rest, 16);
	if (*rest != '-')
		return 0;
	uintptr_t b = (uintptr_t)strtoull(rest + 1, NULL, 16);
	if (addr < a || addr >= b)
		return 0;
	*lo = a;
	*hi = b;
	return 1;
}

const char *
maps_line_of(uintptr_t addr, char *buf, size_t cap, uintptr_t *lo,
	     uintptr_t *hi)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	/* Among the shim's numbers while it is read (a long file): see cfi.c's
	 * module_cfi. */
	fd = fds_park(fd);
	const char *found = NULL;
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (line_holds(line, addr, lo, hi)) {
				found = line;
				goto done;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		if (have == cap - 1)
			have = 0; /* a line longer than the buffer: skip it */
		memmove(buf, line, have);
	}
done:
	close(fd);
	return found;
}
