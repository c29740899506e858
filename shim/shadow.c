/* SPDX-License-Identifier: MIT */
/*
 * The shadow map's regions (shadow.h). A region's bytes come from mmap
 * with MAP_NORESERVE: 64 MiB and 16 KiB of address space each, of which
 * the kernel backs only the pages that are written.
 */
#include "shadow.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mapmem.h"

_Atomic(_Atomic uint8_t *) shadow_dir[SHADOW_REGIONS];

#define REGION_BYTES                                                           \
	(SHADOW_CHUNKS +                                                       \
	 ((size_t)1 << (SHADOW_REGION_BITS - SHADOW_GRAIN_BITS)))

_Atomic uint8_t *
shadow_region_make(uintptr_t p)
{
	_Atomic(_Atomic uint8_t *) *slot = &shadow_dir[p >> SHADOW_REGION_BITS];
	void *m = hb_map_with(REGION_BYTES, MAP_NORESERVE);
	if (!m)
		return NULL;
	_Atomic uint8_t *want = NULL;
	if (atomic_compare_exchange_strong_explicit(
		    slot, &want, m, memory_order_acq_rel, memory_order_acquire))
		return m;
	munmap(m, REGION_BYTES); /* another thread mapped it first */
	return want;
}

/* Whether the kernel charges address space or commit to the process. */
static bool
space_is_limited(int resource)
{
	struct rlimit rl;
	return getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

bool
shadow_affordable(void)
{
	if (space_is_limited(RLIMIT_AS) || space_is_limited(RLIMIT_DATA))
		return false;
	char mode = '0';
	int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &mode, 1) != 1)
			mode = '0';
		close(fd);
	}
	return mode != '2';
}
