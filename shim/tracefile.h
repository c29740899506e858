/* SPDX-License-Identifier: MIT */
/*
 * The trace file: header, then zstd-compressed, checksummed blocks as
 * include/heldby/trace.h defines them. Usable from the shim's writer and from
 * plain test programs. One struct tfile per file; not thread-safe for the
 * same file (but for tfile_swap_fd); not async-signal-safe.
 */
#ifndef HELDBY_TRACEFILE_H
#define HELDBY_TRACEFILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ZSTD_CCtx_s;

/* Room for a path as writer.c makes them. */
#define TFILE_PATH_MAX 4200

struct tfile {
	/* The file's descriptor. It changes under the thread that writes
	 * when the program dup2's onto its number (tfile_swap_fd) and when
	 * it is reopened by path, so it is read once per system call. */
	_Atomic int fd;
	/* Odd while a system call on fd is under way (tfile_swap_fd). */
	_Atomic unsigned io;
	uint32_t seq; /* next block's sequence number */
	struct ZSTD_CCtx_s *cctx;
	uint8_t *zbuf; /* compressed output, from mmap */
	size_t zcap;
	uint64_t bytes;	   /* bytes written so far: the end of the last block */
	uint64_t dev, ino; /* to notice that the program closed our fd */
	int level;	   /* zstd level of the block being filled */
	char path[TFILE_PATH_MAX]; /* to reopen it by */
};

/* zstd levels. Level 3 (double-fast) compresses at ~850 MB/s here; the
 * lazy search of level 7 at ~165 MB/s, but a third smaller where events
 * repeat (python-json's trace: 3.0 -> 1.9 MB). On data that hardly
 * compresses (random frees: churn) it gains 7% for twice the
 * compressor's time. So a block gets the dense level after a block that
 * compressed 8:1 or better, or a small one (a few ms of work at any level).
 * After one that compressed less than 3:1 it gets level 2, with the same
 * tables: churn's blocks (1.7:1) 5% larger, at 181 MB/s instead of 146,
 * and the compressor's time is what bounds a program that allocates that
 * fast (churn 13% less wall time). cc1plus's blocks (5:1 to 8:1) stay at
 * level 3, which writes 7% less for them. */
#define TFILE_LEVEL_LOOSE 2
#define TFILE_LEVEL_FAST 3
#define TFILE_LEVEL_DENSE 7
#define TFILE_LOOSE_RATIO 3
#define TFILE_DENSE_RATIO 8
#define TFILE_SMALL_BLOCK (256u << 10)

/* Memory for zstd's context. The shim points these at the real allocator so
 * its own memory never passes through the traced malloc; NULL (the default)
 * means zstd's own (malloc). Set before tfile_create. */
extern void *(*tfile_alloc)(void *opaque, size_t n);
extern void (*tfile_free)(void *opaque, void *p);

/* open(2) for the trace, on a number out of the program's way. The shim
 * points it at fds_open (fds.c); NULL means open, then a copy at 512 or
 * above where F_DUPFD_CLOEXEC finds room. Set before tfile_create. */
extern int (*tfile_open)(const char *path, int flags, mode_t mode);

/* Creates path (O_EXCL, mode 0600) and writes the header, with flags
 * (HELDBY_TRACE_F_*) and the command line cmdline[0..cmdlen) (argv, each
 * NUL-terminated; NULL: none, and no HELDBY_TRACE_F_CMDLINE). The
 * descriptor is tfile_open's, out of the way of programs
 * that reuse low numbers. Returns 0 or -errno (-EEXIST when the file
 * exists). */
/* Makes the missing folders above path (mode 0700, as the trace is 0600),
 * so that a pattern with a folder per process ("%p/") can be written.
 * Folders that exist are left as they are. */
void tfile_make_folders(const char *path);
int tfile_create(struct tfile *t, const char *path, uint64_t pid,
		 uint64_t start_real_ns, uint64_t start_mono_ns,
		 const char *exe, const char *cmdline, size_t cmdlen,
		 uint32_t flags);

/* Compresses raw[0..len) (len <= HELDBY_BLOCK_RAW_MAX) into one block and
 * writes it whole. When the descriptor no longer refers to the trace (the
 * program closed it or put another file on its number, with a system call
 * the shim does not see), the file is opened again by its path, if it is
 * still the same file, and the block written there. A block that cannot
 * be written whole is cut off again (ftruncate), so a full disk gets its
 * space back and the file ends with its last whole block. Returns 0 or
 * -errno: -EBADF, writing nothing, when the trace is lost (no descriptor
 * and no file by its path); the number is then forgotten (fd -1), since it
 * is the program's. */
int tfile_write_block(struct tfile *t, const uint8_t *raw, size_t len);
/* fdatasync of the trace, reopened first where the descriptor no longer
 * refers to it (as tfile_write_block does). 0 or -errno. Not while a
 * block is being written (compressor_wait first). */
int tfile_sync(struct tfile *t);
/* Makes nfd, a copy of the trace's descriptor old, the one written to,
 * and waits until no system call uses old any more (1 s at most), so that
 * the caller may hand old to the program. False, changing nothing, when
 * the descriptor is no longer old. Any thread; async-signal-safe. */
bool tfile_swap_fd(struct tfile *t, int old, int nfd);
/* Closes the file, where its descriptor still refers to it, and frees the
 * context. Idempotent. */
void tfile_close(struct tfile *t);
/* Closes the descriptor only, where it still refers to the file (a fork
 * child's copy); the rest is left as it is. */
void tfile_drop_fd(struct tfile *t);

#endif
