/* SPDX-License-Identifier: MIT */
/*
 * Stack capture: the fast unwinder (unwind.c), and libunwind's
 * unw_backtrace where it gives up or HELDBY_UNWIND asks for it. The leading
 * frames that lie inside libheldby's or libunwind's own code are dropped,
 * found by address rather than by a fixed count so that inlining and
 * compiler changes cannot shift the stack.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <link.h>
#include <stdio.h>
#include <string.h>

#include "attrs.h"
#include "backtrace.h"
#include "config.h"
#include "guard.h"
#include "lifecycle.h"
#include "ring.h"
#include "sigmask.h"
#include "unwind.h"

struct range {
	uintptr_t lo, hi;
};
/* Executable segments of libheldby and libunwind, up to 4 each; those
 * from unw_first on are libunwind's. */
static struct range skip[8];
static int nskip, unw_first = 8;

/* Whether libunwind may walk. It stops for good when its validation pipe
 * is gone or its number handed to the program (fds.c): it would read and
 * write the program's file on that number. Walks under way are counted,
 * this thread's among them in unw_self, so that bt_stop_libunwind can
 * wait for them. */
static _Atomic bool unw_on = true;
static _Atomic int unw_inside;
static HB_TLS int unw_self;
/* While a fork is under way (bt_fork_prepare); unw_forking on the thread
 * that forks, whose own walks (a handler's) must not wait for it. */
static _Atomic bool unw_paused;
static HB_TLS bool unw_forking;
static bool unw_busy_at_fork;

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
	unw_first = nskip;
	dl_iterate_phdr(find_cb, &c);
	/* libunwind's first call makes its validation pipe (tdep_init). */
	if (atomic_load(&unw_on))
		unw_set_caching_policy(unw_local_addr_space,
				       UNW_CACHE_PER_THREAD);
	else
		hb_warn("heldby: too few descriptors under RLIMIT_NOFILE for "
			"libunwind's pipe; stacks the fast unwinder cannot "
			"walk keep their first frame only\n");
	if (hb_cfg.unwind != HB_UNWIND_LIBUNWIND)
		uw_init();
}

void
bt_without_libunwind(void)
{
	atomic_store(&unw_on, false);
}

/* Waits (bounded: 1 s) until walks on other threads are done. */
static bool
walks_done(void)
{
	for (int i = 0; i < 20000 && atomic_load(&unw_inside) > unw_self; i++)
		ring_nap(50000);
	return atomic_load(&unw_inside) <= unw_self;
}

void
bt_stop_libunwind(bool wait)
{
	atomic_store(&unw_on, false);
	/* A walk counts itself, then looks at unw_on: one that began after
	 * the store sees it. Bounded: a walk takes microseconds. */
	if (wait)
		(void)walks_done();
}

void
bt_fork_prepare(void)
{
	unw_forking = true;
	atomic_store(&unw_paused, true);
	unw_busy_at_fork = !walks_done();
}

void
bt_fork_parent(void)
{
	atomic_store(&unw_paused, false);
	unw_forking = false;
}

void
bt_fork_child(void)
{
	/* Only this thread is left: walks of others are gone with them, and
	 * a lock one of them held stays held. */
	atomic_store(&unw_inside, unw_self);
	if (unw_busy_at_fork)
		atomic_store(&unw_on, false);
	atomic_store(&unw_paused, false);
	unw_forking = false;
}

/* Counts this thread's walk in unw_inside, once no fork holds walks back
 * (bounded: a fork that takes longer than 1 s lets it through). */
static void
walk_enter(void)
{
	for (int i = 0; i < 20000; i++) {
		atomic_fetch_add(&unw_inside, 1);
		if (!atomic_load(&unw_paused) || unw_forking)
			return;
		atomic_fetch_sub(&unw_inside, 1);
		ring_nap(50000);
	}
	atomic_fetch_add(&unw_inside, 1);
}

bool
bt_from_libunwind(const void *addr)
{
	for (int i = unw_first; i < nskip; i++)
		if ((uintptr_t)addr >= skip[i].lo &&
		    (uintptr_t)addr < skip[i].hi)
			return true;
	return false;
}

/* unw_backtrace, or -1 once libunwind walks no more. */
static int
unw_walk(void **buf, int cap)
{
	int n = -1;
	/* libunwind's caches and locks, and unw_inside, must not be left
	 * half changed by a handler that siglongjmps out of the hook. */
	sigset_t old;
	sig_block_async(&old);
	walk_enter();
	if (atomic_load(&unw_on)) {
		unw_self++;
		n = unw_backtrace(buf, cap);
		unw_self--;
	}
	atomic_fetch_sub(&unw_inside, 1);
	sig_unblock(&old);
	return n;
}

/* Without libunwind, a stack the fast unwinder gives up on keeps the
 * return address of the hook (HB_HOOK_FRAME: saved rbp, then it). */
static int
caller_only(void **buf, const void *caller)
{
	if (!caller)
		return 0;
	buf[0] = ((void *const *)caller)[1];
	return 1;
}

void
bt_flush(void)
{
	unw_flush_cache(unw_local_addr_space, 0, 0);
	int owned = guard_enter();
	uw_flush();
	if (owned)
		guard_leave();
}

/* HELDBY_UNWIND=check */
static _Atomic uint64_t chk_stacks, chk_fallbacks, chk_differ;

void
bt_report(void)
{
	if (hb_cfg.unwind != HB_UNWIND_CHECK)
		return;
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "heldby: unwind check: %llu stacks, %llu left to libunwind, "
		 "%llu different\n",
		 (unsigned long long)atomic_load(&chk_stacks),
		 (unsigned long long)atomic_load(&chk_fallbacks),
		 (unsigned long long)atomic_load(&chk_differ));
	hb_warn(msg);
}

static inline int
is_ours(uintptr_t a)
{
	/* Rolled: unrolled, the compiler loaded all eight ranges up front on
	 * every capture, though one or two are used. */
#pragma GCC unroll 1
	for (int i = 0; i < nskip; i++)
		if (a >= skip[i].lo && a < skip[i].hi)
			return 1;
	return 0;
}

static int
skip_ours(void *const *buf, int n)
{
	int i = 0;
	while (i < n && is_ours((uintptr_t)buf[i]))
		i++;
	return i;
}

/* Both unwinders; libunwind's answer is kept. The first max frames that
 * are not ours are compared: both stop at cap frames, counting their own. */
static int
capture_checked(void **buf, int cap, int max, void **memo, const void *caller)
{
	void *fast[HB_DEPTH_MAX + BT_SLACK];
	struct uw_reuse unused;
	int nf = uw_backtrace(fast, cap, memo, caller, &unused);
	int n = unw_walk(buf, cap);
	if (n < 0) { /* libunwind stopped: the fast walk, as in fast mode */
		if (nf < 0)
			return caller_only(buf, caller);
		memcpy(buf, fast, (size_t)nf * sizeof(*buf));
		return nf;
	}
	atomic_fetch_add(&chk_stacks, 1);
	if (nf < 0) {
		atomic_fetch_add(&chk_fallbacks, 1);
		uw_want_stack(buf, n);
		return n;
	}
	int i = skip_ours(buf, n), j = skip_ours(fast, nf);
	int kept = n - i < max ? n - i : max;
	bool same = kept == (nf - j < max ? nf - j : max);
	for (int k = 0; same && k < kept; k++)
		same = buf[i + k] == fast[j + k];
	if (!same)
		atomic_fetch_add(&chk_differ, 1);
	return n;
}

int
bt_capture(void **buf, int max, int *first, void **memo, const void *caller,
	   struct uw_reuse *reuse)
{
	int cap = max + BT_SLACK, n = -1;
	reuse->walk = 0;
	reuse->same_outer = 0;
	if (hb_cfg.unwind == HB_UNWIND_FAST)
		n = uw_backtrace(buf, cap, memo, caller, reuse);
	else if (hb_cfg.unwind == HB_UNWIND_CHECK)
		n = capture_checked(buf, cap, max, memo, caller);
	if (n < 0) { /* uw_backtrace set *reuse only where it succeeded */
		n = unw_walk(buf, cap);
		if (n < 0)
			n = caller_only(buf, caller);
		else if (hb_cfg.unwind == HB_UNWIND_FAST)
			uw_want_stack(buf, n);
	}
	int i = skip_ours(buf, n);
	*first = i;
	if (n - i > max) {
		reuse->walk = 0; /* cut short: not the walk's outer end */
		return max;
	}
	if (reuse->same_outer > (unsigned)(n - i))
		reuse->same_outer = (unsigned)(n - i);
	return n - i;
}
