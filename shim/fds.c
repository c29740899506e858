/* SPDX-License-Identifier: MIT */
/*
 * The shim's own descriptors, the trace and libunwind's memory-validation
 * pipe, kept out of the program's way: the program owns every number. They
 * sit above the numbers it uses, outlive its close-everything loops while
 * they hold our objects, and make way when it dup2's onto one
 * (docs/lifecycle.md, "Descriptors").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attrs.h"
#include "backtrace.h"
#include "fds.h"
#include "lifecycle.h"
#include "real.h"
#include "ring.h"
#include "sigmask.h"
#include "tracefile.h"

/* Where the shim's descriptors go when the program may use many: above
 * what programs open one by one (shells keep theirs from 10 up). */
#define FDS_FLOOR 512
/* How far the shim raises a low soft limit for the moment it takes its
 * numbers: its three, and room to move one. */
#define FDS_ROOM 8
/* libunwind's two and the trace. */
#define FDS_OURS 3
#define FILL_MAX (FDS_FLOOR + FDS_ROOM)

static struct tfile *_Atomic trace;
/* libunwind's pipe while it walks: both ends are one inode, which tells
 * our pipe from a file the program put on its number. */
static _Atomic int pipe_fd[2] = { -1, -1 };
static uint64_t pipe_dev, pipe_ino;
/* The numbers libunwind keeps (Ginit.c, mem_validate_pipe), for good: it
 * closes them itself when it finds its pipe gone. */
static _Atomic int unw_fd[2] = { -1, -1 };

static int
sys_close(int fd)
{
	/* libc's close is a cancellation point: keep it that way */
	if (likely(real.close))
		return real.close(fd);
	return (int)syscall(SYS_close, fd);
}

static bool
same_object(int fd, uint64_t dev, uint64_t ino)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (uint64_t)st.st_dev == dev &&
	       (uint64_t)st.st_ino == ino;
}

/* ---- where our numbers go ---- */

/* From floor up: above the program's soft limit, raised for the moment
 * the shim takes its numbers, where the hard limit allows; else
 * FDS_FLOOR, where the limit is above it; else (top) the highest numbers
 * under the limit, the only ones left that keep the program's low numbers
 * as they would be without us. */
struct zone {
	struct rlimit old;
	bool raised, top;
	int floor, limit;
};

/* One raise at a time: a second would take the first's raised limit for
 * the program's and leave it so. No waiting (a signal handler's dup2 may
 * have interrupted the holder): the second one does without. */
static atomic_flag raising = ATOMIC_FLAG_INIT;

static void
zone_enter(struct zone *z, int need)
{
	z->raised = z->top = false;
	z->floor = FDS_FLOOR;
	z->limit = INT_MAX;
	if (getrlimit(RLIMIT_NOFILE, &z->old) != 0)
		return;
	rlim_t soft = z->old.rlim_cur, hard = z->old.rlim_max;
	if (soft == RLIM_INFINITY || soft >= FILL_MAX)
		return;
	if ((hard == RLIM_INFINITY || hard >= soft + FDS_ROOM) &&
	    !atomic_flag_test_and_set(&raising)) {
		/* For these few system calls a thread of the program could
		 * open past its limit, or see it raised: at start-up there
		 * is none, later it is the moment of a rare event. */
		struct rlimit r = { soft + FDS_ROOM, hard };
		if (setrlimit(RLIMIT_NOFILE, &r) == 0) {
			z->raised = true;
			z->floor = (int)soft;
			z->limit = (int)soft + FDS_ROOM;
			return;
		}
		atomic_flag_clear(&raising);
	}
	z->top = true;
	z->limit = (int)soft;
	z->floor = (int)soft > need ? (int)soft - need : 0;
}

static void
zone_leave(struct zone *z)
{
	/* Descriptors above a soft limit stay usable (only new ones are
	 * checked against it). */
	if (z->raised) {
		setrlimit(RLIMIT_NOFILE, &z->old);
		z->raised = false;
		atomic_flag_clear(&raising);
	}
}

/* A close-on-exec copy of fd among the shim's numbers, or -1. */
static int
copy_high(int fd)
{
	struct zone z;
	zone_enter(&z, 1);
	int c = -1;
	if (!z.top)
		c = fcntl(fd, F_DUPFD_CLOEXEC, z.floor);
	else /* the highest free one */
		for (int at = z.limit - 1;
		     c < 0 && at >= 0 && at >= z.limit - FDS_ROOM; at--)
			c = fcntl(fd, F_DUPFD_CLOEXEC, at);
	zone_leave(&z);
	return c;
}

/* fd moved among the shim's numbers, or fd where there is no room. */
static int
park(int fd)
{
	int c = copy_high(fd);
	if (c < 0)
		return fd;
	if (c < fd) { /* fd is the higher already */
		syscall(SYS_close, c);
		return fd;
	}
	syscall(SYS_close, fd);
	return c;
}

/* ---- the shim's own files ---- */

/* open() takes the lowest free number, the one a program's dup2 onto a
 * low number (a shell's 3>file) or close_range then open may take at the
 * same moment: the program's file would then be the one we read and
 * close. So the program's dup2, dup3 and close_range (placing) and the
 * shim's opens (opening) exclude each other: each counts itself, then
 * looks at the other. An open gives way; a placement waits for the open
 * and its move among our numbers, a few system calls. */
static _Atomic int opening, placing;

int
fds_open(const char *path, int flags, mode_t mode)
{
	/* A handler that dup2's on this thread would wait for us. */
	sigset_t old;
	sig_block_async(&old);
	int fd = -1, err = EBUSY;
	for (int tries = 0; tries < 20000; tries++) {
		atomic_fetch_add(&opening, 1);
		if (atomic_load(&placing) == 0) {
			fd = open(path, flags | O_CLOEXEC, mode);
			err = errno;
			if (fd >= 0)
				fd = park(fd);
			atomic_fetch_sub(&opening, 1);
			break;
		}
		atomic_fetch_sub(&opening, 1);
		ring_nap(50000);
	}
	sig_unblock(&old);
	errno = err;
	return fd;
}

static void
place_begin(void)
{
	atomic_fetch_add(&placing, 1);
	/* A child's counts are a copy, of opens it does not make. */
	if (atomic_load(&opening) == 0 || !hb_in_owner())
		return;
	for (int i = 0; i < 20000 && atomic_load(&opening) > 0; i++)
		ring_nap(50000);
}

static void
place_end(void)
{
	atomic_fetch_sub(&placing, 1);
}

void
fds_forked(void)
{
	atomic_store(&opening, 0);
	atomic_store(&placing, 0);
}

/* ---- libunwind's pipe ---- */

/* libunwind makes its pipe on the two lowest free numbers, where the
 * program would have opened its first files, and keeps the numbers in a
 * variable of its own (1.6, Ginit.c, tdep_init_mem_validate): so while it
 * does, every free number below the shim's floor is taken. */
static struct {
	struct zone z;
	int first; /* the lowest free number from the floor up */
	uint64_t mine[(FILL_MAX + 63) / 64];
} fill;

static void
fill_release(void)
{
	int lo = -1;
	for (int fd = 0; fd <= FILL_MAX; fd++) {
		bool m = fd < FILL_MAX && (fill.mine[fd / 64] >> (fd % 64) & 1);
		if (m && lo < 0)
			lo = fd;
		if (m || lo < 0)
			continue;
		/* One call per run of them; one by one before Linux 5.9. */
		if (syscall(SYS_close_range, lo, fd - 1, 0) != 0)
			for (int k = lo; k < fd; k++)
				syscall(SYS_close, k);
		lo = -1;
	}
	for (size_t i = 0; i < sizeof(fill.mine) / sizeof(fill.mine[0]); i++)
		fill.mine[i] = 0;
}

int
fds_fill_low(void)
{
	zone_enter(&fill.z, FDS_OURS);
	fill.first = -1;
	int src = open("/", O_PATH | O_CLOEXEC);
	if (src < 0 && errno != EMFILE && errno != ENFILE)
		return 0; /* no filler here: the pipe goes low, as it would */
	int d = src;
	while (d >= 0 && d < fill.z.floor && d < FILL_MAX) {
		fill.mine[d / 64] |= UINT64_C(1) << (d % 64);
		d = fcntl(src, F_DUPFD_CLOEXEC, 0);
	}
	if (d >= 0 && d >= fill.z.floor) {
		fill.first = d;
		syscall(SYS_close, d);
	}
	/* Under a limit we cannot raise, the pipe and the trace need the
	 * top numbers, all three free. */
	int room = fill.first >= 0;
	for (int k = 0; fill.z.top && room && k < FDS_OURS; k++)
		room = fill.first + k < fill.z.limit &&
		       fcntl(fill.first + k, F_GETFD) < 0;
	if (!room) {
		fill_release();
		zone_leave(&fill.z);
		return -1;
	}
	return 0;
}

void
fds_unfill(void)
{
	fill_release();
	struct stat st;
	int p0 = fill.first, p1 = -1;
	if (p0 >= 0 && fstat(p0, &st) == 0 && S_ISFIFO(st.st_mode))
		for (int k = p0 + 1; p1 < 0 && k <= p0 + FDS_ROOM; k++)
			if (same_object(k, (uint64_t)st.st_dev,
					(uint64_t)st.st_ino))
				p1 = k;
	if (p1 >= 0) {
		pipe_dev = (uint64_t)st.st_dev;
		pipe_ino = (uint64_t)st.st_ino;
		atomic_store(&unw_fd[0], p0);
		atomic_store(&unw_fd[1], p1);
		atomic_store(&pipe_fd[0], p0);
		atomic_store(&pipe_fd[1], p1);
	}
	zone_leave(&fill.z);
}

/* libunwind walks no more: its pipe is gone, or its number the
 * program's. It would find that out by reading the number, the
 * program's file then, and make a new pipe on the program's lowest free
 * numbers. wait: until no walk that may still use the old numbers is
 * under way. */
static void
drop_libunwind(bool wait)
{
	bt_stop_libunwind(wait);
	atomic_store(&pipe_fd[0], -1);
	atomic_store(&pipe_fd[1], -1);
}

/* ---- the trace ---- */

void
fds_trace(struct tfile *t)
{
	atomic_store(&trace, t);
}

/* ---- the program's calls ---- */

/* A number that may hold one of ours: cheap, for every close. */
static inline bool
maybe_ours(int fd)
{
	if (fd < 0)
		return false;
	struct tfile *t = atomic_load_explicit(&trace, memory_order_relaxed);
	return (t &&
		fd == atomic_load_explicit(&t->fd, memory_order_relaxed)) ||
	       fd == atomic_load_explicit(&pipe_fd[0], memory_order_relaxed) ||
	       fd == atomic_load_explicit(&pipe_fd[1], memory_order_relaxed) ||
	       fd == atomic_load_explicit(&unw_fd[0], memory_order_relaxed) ||
	       fd == atomic_load_explicit(&unw_fd[1], memory_order_relaxed);
}

/* Whether fd holds our object still: a number where the program put a
 * file of its own, past our dup2 (a system call of its own), is its. */
static bool
holds_ours(int fd)
{
	struct tfile *t = atomic_load(&trace);
	if (t && fd == atomic_load(&t->fd))
		return same_object(fd, t->dev, t->ino);
	if (fd == atomic_load(&pipe_fd[0]) || fd == atomic_load(&pipe_fd[1]))
		return same_object(fd, pipe_dev, pipe_ino);
	return false;
}

HB_EXPORT int
close(int fd)
{
	if (unlikely(maybe_ours(fd))) {
		/* libunwind found its pipe gone and "reopens" it, closing
		 * both numbers first (Ginit.c, open_pipe): by now they may
		 * be the program's files. */
		if ((fd == atomic_load(&unw_fd[0]) ||
		     fd == atomic_load(&unw_fd[1])) &&
		    bt_from_libunwind(__builtin_return_address(0))) {
			drop_libunwind(false);
			return 0;
		}
		if (holds_ours(fd))
			return 0;
	}
	return sys_close(fd);
}

static int
sys_close_range(unsigned lo, unsigned hi, int flags)
{
	if (likely(real.close_range))
		return real.close_range(lo, hi, flags);
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

/* close_range, leaving ours open. */
static int
close_all_but_ours(unsigned lo, unsigned hi, int flags)
{
	/* Ours in the range, ascending; the gaps between them are closed. */
	struct tfile *t = atomic_load(&trace);
	int cand[FDS_OURS] = { t ? atomic_load(&t->fd) : -1,
			       atomic_load(&pipe_fd[0]),
			       atomic_load(&pipe_fd[1]) };
	int keep[FDS_OURS], n = 0;
	for (int i = 0; i < FDS_OURS; i++) {
		int fd = cand[i];
		if (fd < 0 || (unsigned)fd < lo || (unsigned)fd > hi ||
		    !holds_ours(fd))
			continue;
		int j = n++;
		for (; j > 0 && keep[j - 1] >= fd; j--)
			keep[j] = keep[j - 1];
		keep[j] = fd;
	}
	unsigned from = lo;
	for (int i = 0; i < n; i++) {
		unsigned k = (unsigned)keep[i];
		if (k < from)
			continue; /* the same number twice */
		if (k > from && sys_close_range(from, k - 1, flags) != 0)
			return -1;
		from = k + 1;
	}
	return from <= hi ? sys_close_range(from, hi, flags) : 0;
}

HB_EXPORT int
close_range(unsigned lo, unsigned hi, int flags)
{
	if (lo > hi) {
		errno = EINVAL;
		return -1;
	}
	place_begin();
	int r = close_all_but_ours(lo, hi, flags);
	int saved = errno;
	place_end();
	errno = saved;
	return r;
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

/* The program puts a file on fd, one of our numbers: ours goes
 * elsewhere first. True when the trace was moved. */
static bool
make_way(int fd)
{
	/* A vfork child's descriptors are its own, our memory the
	 * parent's. */
	if (!hb_in_owner())
		return false;
	struct tfile *t = atomic_load(&trace);
	if (t && fd == atomic_load(&t->fd) && same_object(fd, t->dev, t->ino)) {
		/* With no number left to move to, the program's dup2 wins
		 * all the same; the trace is reopened by its path once a
		 * number is free (tfile_write_block). */
		int c = copy_high(fd);
		if (c < 0)
			return false;
		if (tfile_swap_fd(t, fd, c))
			return true;
		syscall(SYS_close, c);
		return false;
	}
	if (fd == atomic_load(&pipe_fd[0]) || fd == atomic_load(&pipe_fd[1]))
		drop_libunwind(true);
	return false;
}

/* dup2 failed after the trace made way: natively the number would be
 * free, and ours has moved. */
static void
undo_way(int fd)
{
	struct tfile *t = atomic_load(&trace);
	if (t && same_object(fd, t->dev, t->ino))
		syscall(SYS_close, fd);
}

HB_EXPORT int
dup2(int oldfd, int newfd)
{
	bool moved = false;
	if (unlikely(maybe_ours(newfd)) && oldfd != newfd &&
	    fcntl(oldfd, F_GETFD) >= 0)
		moved = make_way(newfd);
	place_begin();
	int r = likely(real.dup2) ? real.dup2(oldfd, newfd)
				  : (int)syscall(SYS_dup2, oldfd, newfd);
	int saved = errno;
	place_end();
	if (unlikely(moved) && r < 0)
		undo_way(newfd);
	errno = saved;
	return r;
}

HB_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	bool moved = false;
	if (unlikely(maybe_ours(newfd)) && oldfd != newfd &&
	    fcntl(oldfd, F_GETFD) >= 0)
		moved = make_way(newfd);
	place_begin();
	int r = likely(real.dup3) ? real.dup3(oldfd, newfd, flags)
				  : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	int saved = errno;
	place_end();
	if (unlikely(moved) && r < 0)
		undo_way(newfd);
	errno = saved;
	return r;
}
