/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An unnamed file: O_TMPFILE where the file system has it, else a name
 * made by mkstemp and unlinked at once. */
static int
unnamed_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	char name[4096];
	if (snprintf(name, sizeof name, "%s/heldby-stdin.XXXXXX", dir) >=
	    (int)sizeof name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(name, O_CLOEXEC);
	if (fd >= 0)
		unlink(name);
	return fd;
}

static int
copy_all(int from, int to)
{
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += w;
		}
	}
}

int
spool_stdin(char *err, size_t errlen)
{
	struct stat sb;
	if (fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode)) {
		int fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			snprintf(err, errlen, "%s", strerror(errno));
		return fd < 0 ? -errno : fd;
	}
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	int fd = unnamed_file(dir);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot keep standard input in %s: %s",
			 dir, strerror(e));
		return -e;
	}
	int rc = copy_all(STDIN_FILENO, fd);
	if (rc) {
		snprintf(err, errlen, "reading standard input: %s",
			 strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}
