/* SPDX-License-Identifier: MIT */
/*
 * The request file of `heldby snapshot`, PATH.ctl beside the trace: found,
 * checked and read, then answered in place. The writer thread looks for it
 * on its own wakes, so the program gets no signal and no thread of ours
 * more; the cost while no one asks is one failed open every CTL_POLL_NS.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fds.h"
#include "tracefile.h"

#define CTL_SUFFIX ".ctl"
/* A file this large is not a request (the longest is 211 bytes). */
#define CTL_SIZE_MAX 512
#define REQ_PREFIX "snapshot\t"
#define REQ_PREFIX_LEN (sizeof(REQ_PREFIX) - 1)
#define DEFAULT_LABEL "snapshot-"
/* Room for the longest answer: "done\t" label "\t" 20 digits "\n". */
#define ANSWER_MAX (CTL_LABEL_MAX + 32)

bool
ctl_due(struct ctl *c, uint64_t now)
{
	if (c->last_poll && now - c->last_poll < CTL_POLL_NS)
		return false;
	c->last_poll = now;
	return true;
}

/* Only the tool's user (or root) can have written a request: the answer
 * is written into the file, and a file someone else can write could be
 * anything by then. */
static bool
trusted(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return false;
	return S_ISREG(st.st_mode) &&
	       (st.st_uid == geteuid() || st.st_uid == 0) &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH)) && st.st_size < CTL_SIZE_MAX;
}

/* The label of the request buf[0..n) into label (NUL-terminated); false
 * when buf is not exactly one request line. */
static bool
parse_request(const char *buf, size_t n, char *label)
{
	if (n < REQ_PREFIX_LEN + 1 || buf[n - 1] != '\n' ||
	    memcmp(buf, REQ_PREFIX, REQ_PREFIX_LEN) != 0)
		return false;
	const char *l = buf + REQ_PREFIX_LEN;
	size_t len = n - REQ_PREFIX_LEN - 1;
	if (len > CTL_LABEL_MAX || memchr(l, '\n', len) || memchr(l, 0, len))
		return false;
	memcpy(label, l, len);
	label[len] = 0;
	return true;
}

/* v in decimal at p, NUL-terminated; returns the digits written. No
 * snprintf: the answer is built on the writer thread between drains, and
 * this is all it needs. */
static size_t
put_dec(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	p[n] = 0;
	return n;
}

bool
ctl_take(struct ctl *c, const char *trace_path, struct ctl_req *q)
{
	char path[TFILE_PATH_MAX + sizeof(CTL_SUFFIX)];
	size_t plen = strlen(trace_path);
	if (!plen || plen + sizeof(CTL_SUFFIX) > sizeof(path))
		return false;
	memcpy(path, trace_path, plen);
	memcpy(path + plen, CTL_SUFFIX, sizeof(CTL_SUFFIX));
	/* O_NONBLOCK: a FIFO or a device put there must not hold the writer
	 * up before fstat turns it down. */
	int fd =
		fds_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
	if (fd < 0)
		return false;
	char buf[CTL_SIZE_MAX];
	ssize_t n = trusted(fd) ? pread(fd, buf, sizeof(buf), 0) : -1;
	if (n < 0 || !parse_request(buf, (size_t)n, q->label)) {
		close(fd);
		return false;
	}
	c->snapshots++;
	if (!q->label[0]) {
		memcpy(q->label, DEFAULT_LABEL, sizeof(DEFAULT_LABEL) - 1);
		put_dec(q->label + sizeof(DEFAULT_LABEL) - 1, c->snapshots);
	}
	q->fd = fd;
	return true;
}

/* Appends s (at most max bytes of it) at buf + n; returns the new
 * length. */
static size_t
put_str(char *buf, size_t n, const char *s, size_t max)
{
	size_t len = strnlen(s, max);
	memcpy(buf + n, s, len);
	return n + len;
}

void
ctl_answer(struct ctl_req *q, uint64_t t_ns, int err)
{
	char buf[ANSWER_MAX];
	size_t n;
	if (!err) {
		n = put_str(buf, 0, "done\t", 5);
		n = put_str(buf, n, q->label, CTL_LABEL_MAX);
		buf[n++] = '\t';
		n += put_dec(buf + n, t_ns);
	} else {
		n = put_str(buf, 0, "failed\t", 7);
		n = put_str(buf, n, strerror(-err), ANSWER_MAX - 8);
	}
	buf[n++] = '\n';
	/* Written over the request, then cut to its own length. A read may
	 * meet the write halfway: the tool waits for a whole answer line,
	 * then unlinks the file. */
	if (pwrite(q->fd, buf, n, 0) == (ssize_t)n)
		(void)ftruncate(q->fd, (off_t)n);
	close(q->fd);
	q->fd = -1;
}
