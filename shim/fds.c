/* SPDX-License-Identifier: MIT */
/*
 * Keeps the shim's own descriptors alive through programs that close every
 * descriptor (daemons, sudo-like tools): the trace file, and libunwind's
 * memory-validation pipe. libunwind 1.6 notices a closed pipe and "reopens"
 * it by closing both numbers again -- by then often the program's own files
 * (Ginit.c open_pipe). So close, close_range and closefrom skip these
 * descriptors and report success.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#define HB_EXPORT __attribute__((visibility("default")))
#define NPROT 8

static _Atomic int prot[NPROT] = { -1, -1, -1, -1, -1, -1, -1, -1 };

void
fds_protect(int fd)
{
	for (int i = 0; i < NPROT; i++) {
		int e = -1;
		if (atomic_compare_exchange_strong(&prot[i], &e, fd))
			return;
	}
}

void
fds_unprotect(int fd)
{
	for (int i = 0; i < NPROT; i++) {
		int e = fd;
		atomic_compare_exchange_strong(&prot[i], &e, -1);
	}
}

static int
is_protected(int fd)
{
	if (fd < 0)
		return 0;
	for (int i = 0; i < NPROT; i++)
		if (atomic_load_explicit(&prot[i], memory_order_relaxed) == fd)
			return 1;
	return 0;
}

static int
open_fds(unsigned char *seen, int n)
{
	int k = 0;
	for (int fd = 0; fd < n; fd++) {
		seen[fd] = fcntl(fd, F_GETFD) >= 0;
		k += seen[fd];
	}
	return k;
}

void
fds_snapshot(unsigned char *seen, int n)
{
	open_fds(seen, n);
}

void
fds_protect_new_pipes(const unsigned char *before, int n)
{
	for (int fd = 0; fd < n; fd++) {
		struct stat st;
		if (before[fd] || fcntl(fd, F_GETFD) < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			fds_protect(fd);
	}
}

static int
sys_close(int fd)
{
	/* libc's close is a cancellation point: keep it that way */
	if (likely(real.close))
		return real.close(fd);
	return (int)syscall(SYS_close, fd);
}

HB_EXPORT int
close(int fd)
{
	if (unlikely(is_protected(fd)))
		return 0;
	return sys_close(fd);
}

static int
sys_close_range(unsigned lo, unsigned hi, int flags)
{
	if (likely(real.close_range))
		return real.close_range(lo, hi, flags);
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

HB_EXPORT int
close_range(unsigned lo, unsigned hi, int flags)
{
	if (lo > hi) {
		errno = EINVAL;
		return -1;
	}
	/* Close the gaps between protected descriptors, in order. */
	unsigned from = lo;
	for (;;) {
		int next = -1;
		for (int i = 0; i < NPROT; i++) {
			int p = atomic_load(&prot[i]);
			if (p >= 0 && (unsigned)p >= from &&
			    (unsigned)p <= hi && (next < 0 || p < next))
				next = p;
		}
		if (next < 0)
			return from <= hi ? sys_close_range(from, hi, flags)
					  : 0;
		if ((unsigned)next > from &&
		    sys_close_range(from, (unsigned)next - 1, flags) != 0)
			return -1;
		if ((unsigned)next == ~0u)
			return 0;
		from = (unsigned)next + 1;
	}
}

HB_EXPORT void
closefrom(int lo)
{
	if (lo < 0)
		lo = 0;
	if (close_range((unsigned)lo, ~0u, 0) == 0)
		return;
	/* Kernels before 5.9: one by one up to the limit. */
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = lo; fd < max; fd++)
		close((int)fd);
}
