/* SPDX-License-Identifier: MIT */
#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fds.h"

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
	/* Among the shim's numbers while it is read (a long file): see cfi.c's
	 * module_cfi. */
	int fd = fds_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return NULL;
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

/* linux/fs.h's struct procmap_query and PROCMAP_QUERY, which Debian 12's
 * headers (6.1) lack; a binary interface the kernel keeps. */
struct maps_vma_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define MAPS_PROCMAP_QUERY _IOWR('f', 17, struct maps_vma_query)

/* Once a kernel has said it has no PROCMAP_QUERY it is not asked again. */
static _Atomic int query_missing;

static int
query_once(int fd, uintptr_t addr, char *name, size_t cap,
	   struct maps_vma_query *q)
{
	memset(q, 0, sizeof(*q));
	q->size = sizeof(*q);
	q->query_addr = addr;
	if (name && cap) {
		q->vma_name_addr = (uint64_t)(uintptr_t)name;
		q->vma_name_size = (uint32_t)cap;
	}
	return ioctl(fd, MAPS_PROCMAP_QUERY, q) == 0 ? 0 : -errno;
}

int
maps_query(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, char *name, size_t cap)
{
	if (atomic_load_explicit(&query_missing, memory_order_relaxed))
		return -1;
	int fd = fds_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return -1;
	struct maps_vma_query q;
	int err = query_once(fd, addr, name, cap, &q);
	if (err == -ENAMETOOLONG) /* not "[stack]", then */
		err = query_once(fd, addr, NULL, 0, &q);
	close(fd);
	if (err == -ENOENT)
		return 0;
	if (err) {
		if (err == -ENOTTY || err == -EINVAL)
			atomic_store_explicit(&query_missing, 1,
					      memory_order_relaxed);
		return -1;
	}
	if (name && cap) {
		/* the size out counts the NUL the kernel wrote; 0: no name */
		if (!q.vma_name_addr || !q.vma_name_size)
			name[0] = 0;
		name[cap - 1] = 0;
	}
	*lo = (uintptr_t)q.vma_start;
	*hi = (uintptr_t)q.vma_end;
	return 1;
}
