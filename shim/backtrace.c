/* SPDX-License-Identifier: MIT */
/*
 * Stack capture with libunwind's unw_backtrace (works without frame
 * pointers). The leading frames that lie inside libheldby's or libunwind's
 * own code are dropped, found by address rather than by a fixed count so
 * that inlining and compiler changes cannot shift the stack.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <link.h>

#include "shim.h"

struct range {
	uintptr_t lo, hi;
};
/* Executable segments of libheldby and libunwind, up to 4 each. */
static struct range skip[8];
static int nskip;

struct find_ctx {
	uintptr_t addr;
};

static int
find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct find_ctx *c = arg;
	int hit = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (c->addr >= lo && c->addr < lo + ph->p_memsz)
			hit = 1;
	}
	if (!hit)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nskip < 8; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		skip[nskip].lo = lo;
		skip[nskip].hi = lo + ph->p_memsz;
		nskip++;
	}
	return 1;
}

void
bt_init(void)
{
	struct find_ctx c;
	c.addr = (uintptr_t)&bt_init;
	dl_iterate_phdr(find_cb, &c);
	c.addr = (uintptr_t)&unw_backtrace;
	dl_iterate_phdr(find_cb, &c);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

void
bt_flush(void)
{
	unw_flush_cache(unw_local_addr_space, 0, 0);
}

static inline int
is_ours(uintptr_t a)
{
	for (int i = 0; i < nskip; i++)
		if (a >= skip[i].lo && a < skip[i].hi)
			return 1;
	return 0;
}

int
bt_capture(void **buf, int max, int *first)
{
	int n = unw_backtrace(buf, max + BT_SLACK);
	int i = 0;
	while (i < n && is_ours((uintptr_t)buf[i]))
		i++;
	*first = i;
	return n - i < max ? n - i : max;
}
