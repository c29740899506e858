/* SPDX-License-Identifier: MIT */
/*
 * /proc/PID/fd lists a process's descriptors as links to what they are;
 * /proc/PID/fdinfo/N says how each was opened. A trace is the one file
 * open for writing that starts with the trace magic and names pid in its
 * header.
 */
#include "proctrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heldby/trace.h"

/* Whether descriptor fd of pid was opened for writing. */
static int
fd_writable(uint64_t pid, const char *fd)
{
	char p[320];
	snprintf(p, sizeof p, "/proc/%llu/fdinfo/%s", (unsigned long long)pid,
		 fd);
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	char line[128];
	unsigned long flags = 0;
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = sscanf(line, "flags: %lo", &flags) == 1;
	fclose(f);
	return found && (flags & O_ACCMODE) != O_RDONLY;
}

/* Calls each(fd name, its stat, ctx) for every descriptor of pid that is a
 * regular file open for writing, until each returns non-zero, which it
 * returns; 0 when none did; -errno when the list cannot be read. */
static int
each_written_file(uint64_t pid,
		  int (*each)(const char *fd, const struct stat *st, void *ctx),
		  void *ctx)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%llu/fd", (unsigned long long)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = 0;
	for (struct dirent *e; !rc && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode) || !fd_writable(pid, e->d_name))
			continue;
		rc = each(e->d_name, &st, ctx);
	}
	closedir(d);
	return rc;
}

static int
same_file(const char *fd, const struct stat *st, void *ctx)
{
	const struct stat *want = ctx;
	(void)fd;
	return st->st_dev == want->st_dev && st->st_ino == want->st_ino;
}

int
proctrace_writing(const char *path, uint64_t pid)
{
	struct stat want;
	if (!pid || !path || strcmp(path, "-") == 0 || stat(path, &want) != 0)
		return 0;
	return each_written_file(pid, same_file, &want) > 0;
}

struct find {
	uint64_t pid;
	char *path;
	size_t len;
};

/* Whether the file behind descriptor fd is a trace of f->pid; then its
 * path goes into f->path. */
static int
is_its_trace(const char *fd, const struct stat *st, void *ctx)
{
	struct find *f = ctx;
	char p[320];
	uint8_t h[HELDBY_TRACE_HEADER_FIXED];
	(void)st;
	snprintf(p, sizeof p, "/proc/%llu/fd/%s", (unsigned long long)f->pid,
		 fd);
	int t = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (t < 0)
		return 0;
	ssize_t n = pread(t, h, sizeof h, 0);
	close(t);
	uint64_t pid = 0;
	if (n == (ssize_t)sizeof h)
		for (int i = 7; i >= 0; i--)
			pid = pid << 8 | h[16 + i];
	if (n != (ssize_t)sizeof h ||
	    memcmp(h, HELDBY_TRACE_MAGIC, HELDBY_TRACE_MAGIC_LEN) != 0 ||
	    pid != f->pid)
		return 0;
	ssize_t l = readlink(p, f->path, f->len - 1);
	if (l <= 0 || f->path[0] != '/')
		return 0;
	f->path[l] = 0;
	return 1;
}

int
proctrace_find(uint64_t pid, char *path, size_t len, char *err, size_t errlen)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/%llu", (unsigned long long)pid);
	if (!pid || access(proc, F_OK) != 0) {
		snprintf(err, errlen, "no process %llu",
			 (unsigned long long)pid);
		return -ESRCH;
	}
	struct find f = { pid, path, len };
	int rc = each_written_file(pid, is_its_trace, &f);
	if (rc == -EACCES || rc == -EPERM) {
		snprintf(err, errlen,
			 "process %llu: its descriptors may not be read (run "
			 "as its user or root)",
			 (unsigned long long)pid);
		return -EPERM;
	}
	if (rc <= 0) {
		snprintf(err, errlen,
			 "process %llu is not recorded by heldby (it writes "
			 "no trace)",
			 (unsigned long long)pid);
		return -ENOENT;
	}
	return 0;
}
