/* SPDX-License-Identifier: MIT */
/*
 * Writes the trace file. Each block is one zstd frame with its content
 * checksum, behind a small header, written with a full write(2) loop, so a
 * program killed at any moment leaves a file whose complete blocks read.
 * The file outlives the program's games with descriptors (reopened by its
 * path) and gives back what a block it could not finish took of the disk.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced */
#include "ring.h"
#include "tracefile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include "heldby/trace.h"

void *(*tfile_alloc)(void *opaque, size_t n);
void (*tfile_free)(void *opaque, void *p);
int (*tfile_open)(const char *path, int flags, mode_t mode);

static void
le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The system call: the shim's close (fds.c) keeps the trace's number open
 * through the program's close-everything loops, and a number that is no
 * longer the trace is the program's. */
static void
sys_close(int fd)
{
	syscall(SYS_close, fd);
}

static int
open_high(const char *path, int flags, mode_t mode)
{
	if (tfile_open)
		return tfile_open(path, flags, mode);
	int fd = open(path, flags, mode);
	if (fd < 0)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 512);
	if (hi < 0)
		return fd;
	sys_close(fd);
	return hi;
}

/* Brackets each system call on the descriptor, for tfile_swap_fd: the
 * number is read after the count turns odd. */
static int
io_begin(struct tfile *t)
{
	atomic_fetch_add(&t->io, 1);
	return atomic_load(&t->fd);
}

static void
io_end(struct tfile *t)
{
	atomic_fetch_add(&t->io, 1);
}

static int
write_all(struct tfile *t, const uint8_t *p, size_t n)
{
	while (n) {
		int fd = io_begin(t);
		ssize_t w = fd >= 0 ? write(fd, p, n) : -1;
		int err = fd >= 0 ? errno : EBADF;
		io_end(t);
		if (w < 0) {
			if (err == EINTR)
				continue;
			return -err;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static bool
is_trace(const struct tfile *t, int fd)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 &&
	       (uint64_t)st.st_dev == t->dev && (uint64_t)st.st_ino == t->ino;
}

/* The program closed the trace's descriptor, or put a file of its own on
 * its number, past the shim (a raw close_range, a dup2 system call): the
 * file again, by its path, if that is still the file we wrote. No O_CREAT:
 * a trace someone removed stays removed. A block cut short by the loss
 * goes, so the file ends with its last whole block. */
static int
reopen(struct tfile *t, int stale)
{
	if (!t->path[0])
		return -EBADF;
	int fd = open_high(t->path,
			   O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd < 0)
		return -EBADF;
	struct stat st;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != t->dev ||
	    (uint64_t)st.st_ino != t->ino || (uint64_t)st.st_size < t->bytes ||
	    ((uint64_t)st.st_size > t->bytes &&
	     ftruncate(fd, (off_t)t->bytes) != 0)) {
		sys_close(fd);
		return -EBADF;
	}
	/* Our new descriptor is no one else's yet: it goes in unless the
	 * number changed meanwhile (then the caller looks again). */
	if (!atomic_compare_exchange_strong(&t->fd, &stale, fd))
		sys_close(fd);
	return 0;
}

/* Makes t->fd the trace's descriptor again where it is not. Fails, and
 * forgets the number (the program's now), when the trace is lost. */
static int
check_fd(struct tfile *t)
{
	for (int tries = 0; tries < 4; tries++) {
		int fd = atomic_load(&t->fd);
		if (is_trace(t, fd))
			return 0;
		if (reopen(t, fd) != 0) {
			atomic_compare_exchange_strong(&t->fd, &fd, -1);
			return -EBADF;
		}
	}
	return -EBADF;
}

/* A block that was not written whole leaves nothing behind: a full disk
 * gets its space back (the program's next write would fail where without
 * us it succeeds), and the file still ends with its last whole block. */
static void
cut_back(struct tfile *t, uint64_t good)
{
	int fd = io_begin(t);
	if (is_trace(t, fd))
		(void)ftruncate(fd, (off_t)good);
	io_end(t);
}

bool
tfile_swap_fd(struct tfile *t, int old, int nfd)
{
	if (!atomic_compare_exchange_strong(&t->fd, &old, nfd))
		return false;
	/* A call that read old began before the swap (io_begin: the count,
	 * then the number; here the number, then the count): wait for it to
	 * end. One system call on a local file; bounded all the same. */
	unsigned io = atomic_load(&t->io);
	if (io & 1) {
		for (int i = 0; i < 20000 && atomic_load(&t->io) == io; i++)
			ring_nap(50000);
	}
	return true;
}

/* The next frame's level. Level 7's own tables would be 6 MiB; at
 * level 3's sizes it writes 0.7% more. */
static void
set_level(struct tfile *t, int level)
{
	t->level = level;
	ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_hashLog, 17);
	ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_chainLog, 16);
}

void
tfile_make_folders(const char *path)
{
	char dir[4096];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	struct stat st;
	if (stat(dir, &st) == 0)
		return;
	for (char *p = dir + 1; p <= slash; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = 0;
		(void)mkdir(dir, 0700); /* what fails, tfile_create says */
		*p = c;
	}
}

int
tfile_create(struct tfile *t, const char *path, uint64_t pid,
	     uint64_t start_real_ns, uint64_t start_mono_ns, const char *exe,
	     const char *cmdline, size_t cmdlen, uint32_t flags)
{
	int err;
	memset(t, 0, sizeof(*t));
	/* O_APPEND: after a block is cut off again (cut_back) the next one
	 * goes where it ended, on this descriptor as on one reopened. */
	int fd = open_high(path,
			   O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
				   O_CLOEXEC,
			   0600);
	if (fd < 0) {
		atomic_store(&t->fd, -1);
		return -errno;
	}
	atomic_store(&t->fd, fd);
	struct stat st;
	if (fstat(fd, &st) == 0) {
		t->dev = (uint64_t)st.st_dev;
		t->ino = (uint64_t)st.st_ino;
	}
	/* Reopened by this path (writer.c makes it absolute; a relative one
	 * would name another file once the program changed folder). */
	size_t plen = strlen(path);
	if (path[0] == '/' && plen < sizeof(t->path))
		memcpy(t->path, path, plen + 1);

	ZSTD_customMem mem = ZSTD_defaultCMem;
	if (tfile_alloc && tfile_free) {
		mem.customAlloc = tfile_alloc;
		mem.customFree = tfile_free;
	}
	t->cctx = ZSTD_createCCtx_advanced(mem);
	if (!t->cctx) {
		err = -ENOMEM;
		goto out_close;
	}
	set_level(t, TFILE_LEVEL_DENSE);
	ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_checksumFlag, 1);
	/* zstd reads the block where the writer encoded it, rather than
	 * copying it into a buffer of its own: the whole block is given in
	 * one call. */
	ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_stableInBuffer, 1);
	t->zcap = ZSTD_compressBound(HELDBY_BLOCK_RAW_MAX) +
		  HELDBY_BLOCK_HEADER_SIZE;
	void *z = mmap(NULL, t->zcap, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z == MAP_FAILED) {
		err = -errno;
		goto out_free;
	}
	t->zbuf = z;

	size_t elen = exe ? strlen(exe) : 0;
	if (elen > 4096)
		elen = 4096;
	if (!cmdline)
		cmdlen = 0;
	if (cmdlen > HELDBY_CMDLINE_MAX)
		cmdlen = HELDBY_CMDLINE_MAX;
	if (cmdlen)
		flags |= HELDBY_TRACE_F_CMDLINE;
	size_t hlen =
		HELDBY_TRACE_HEADER_FIXED + elen + (cmdlen ? 4 + cmdlen : 0);
	uint8_t hdr[HELDBY_TRACE_HEADER_FIXED + 4096 + 4 + HELDBY_CMDLINE_MAX];
	memcpy(hdr, HELDBY_TRACE_MAGIC, HELDBY_TRACE_MAGIC_LEN);
	le32(hdr + 8, HELDBY_TRACE_VERSION);
	le32(hdr + 12, (uint32_t)hlen);
	le64(hdr + 16, pid);
	le64(hdr + 24, start_real_ns);
	le64(hdr + 32, start_mono_ns);
	le32(hdr + 40, (uint32_t)elen);
	le32(hdr + 44, flags);
	if (elen)
		memcpy(hdr + HELDBY_TRACE_HEADER_FIXED, exe, elen);
	if (cmdlen) {
		le32(hdr + HELDBY_TRACE_HEADER_FIXED + elen, (uint32_t)cmdlen);
		memcpy(hdr + HELDBY_TRACE_HEADER_FIXED + elen + 4, cmdline,
		       cmdlen);
	}
	err = write_all(t, hdr, hlen);
	if (err)
		goto out_unmap;
	t->bytes = hlen;
	return 0;

out_unmap:
	munmap(t->zbuf, t->zcap);
	t->zbuf = NULL;
out_free:
	ZSTD_freeCCtx(t->cctx);
	t->cctx = NULL;
out_close:
	/* No header-less file left behind (a full disk at the very start);
	 * we created it (O_EXCL) a moment ago. */
	unlink(path);
	sys_close(fd);
	atomic_store(&t->fd, -1);
	return err;
}

/* Compresses raw[0..len) into one frame in zbuf, which has room for the
 * whole bound: *z bytes behind the block header. */
static int
compress(struct tfile *t, const uint8_t *raw, size_t len, size_t *z)
{
	ZSTD_inBuffer in = { raw, len, 0 };
	ZSTD_outBuffer out = { t->zbuf + HELDBY_BLOCK_HEADER_SIZE,
			       t->zcap - HELDBY_BLOCK_HEADER_SIZE, 0 };
	size_t left;
	do
		left = ZSTD_compressStream2(t->cctx, &out, &in, ZSTD_e_end);
	while (!ZSTD_isError(left) && left != 0 && out.pos < out.size);
	if (ZSTD_isError(left) || left != 0) {
		ZSTD_CCtx_reset(t->cctx, ZSTD_reset_session_only);
		return -EIO;
	}
	*z = out.pos;
	return 0;
}

/* The level of the block after one of len raw bytes that took z. */
static int
next_level(size_t len, size_t z)
{
	if (len < TFILE_SMALL_BLOCK || z * TFILE_DENSE_RATIO <= len)
		return TFILE_LEVEL_DENSE;
	if (z * TFILE_LOOSE_RATIO > len)
		return TFILE_LEVEL_LOOSE;
	return TFILE_LEVEL_FAST;
}

int
tfile_write_block(struct tfile *t, const uint8_t *raw, size_t len)
{
	if (!t->cctx)
		return -EBADF;
	if (len > HELDBY_BLOCK_RAW_MAX)
		return -EINVAL;
	if (check_fd(t) != 0)
		return -EBADF;
	size_t z;
	if (compress(t, raw, len, &z) != 0)
		return -EIO;
	le32(t->zbuf, HELDBY_BLOCK_MAGIC);
	le32(t->zbuf + 4, t->seq);
	le32(t->zbuf + 8, (uint32_t)z);
	le32(t->zbuf + 12, (uint32_t)len);
	le32(t->zbuf + 16,
	     heldby_block_check(t->seq, (uint32_t)z, (uint32_t)len));
	size_t n = HELDBY_BLOCK_HEADER_SIZE + z;
	int err = write_all(t, t->zbuf, n);
	/* Closed while we wrote: once more, into the file reopened (which
	 * reopen cut back to its last whole block). */
	if (err == -EBADF && check_fd(t) == 0)
		err = write_all(t, t->zbuf, n);
	if (err) {
		cut_back(t, t->bytes);
		return err;
	}
	t->bytes += n;
	t->seq++;
	set_level(t, next_level(len, z));
	return 0;
}

int
tfile_sync(struct tfile *t)
{
	if (check_fd(t) != 0)
		return -EBADF;
	int fd = io_begin(t);
	int r = fd >= 0 ? fdatasync(fd) : -1;
	int err = fd >= 0 ? errno : EBADF;
	io_end(t);
	return r == 0 ? 0 : -err;
}

void
tfile_close(struct tfile *t)
{
	if (t->cctx)
		ZSTD_freeCCtx(t->cctx);
	t->cctx = NULL;
	if (t->zbuf)
		munmap(t->zbuf, t->zcap);
	t->zbuf = NULL;
	tfile_drop_fd(t);
}

void
tfile_drop_fd(struct tfile *t)
{
	int fd = atomic_exchange(&t->fd, -1);
	if (is_trace(t, fd))
		sys_close(fd);
}
