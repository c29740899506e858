/* SPDX-License-Identifier: MIT */
/*
 * Appends to the run's log (HELDBY_RUN_LOG, a file `heldby run` made): one
 * line per trace a process began, and one per program a process that is
 * not followed started, so that the tool finds every trace by what the
 * shim did rather than by guessing from a folder, and can name what it did
 * not see. One write(2) a line with O_APPEND: lines that processes write
 * at the same moment do not mix. The log gone (the tool ended, a daemon
 * lives on) is not an error.
 */
#include "fds.h"
#include "runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

#define LINE_MAX_BYTES 8192

static char log_path[4096];

void
runlog_init(void)
{
	const char *v = env_find("HELDBY_RUN_LOG");
	if (v && v[0] == '/' && strlen(v) < sizeof(log_path))
		strcpy(log_path, v);
	else
		log_path[0] = 0;
}

struct line {
	char buf[LINE_MAX_BYTES];
	size_t n;
	int full;
};

static void
put_char(struct line *l, char c)
{
	if (l->n + 1 >= sizeof(l->buf))
		l->full = 1;
	else
		l->buf[l->n++] = c;
}

/* A field: tab, newline and backslash escaped, so that a line is one line
 * and its fields split at tabs. */
static void
put_field(struct line *l, const char *s)
{
	for (; s && *s && !l->full; s++) {
		switch (*s) {
		case '\t':
			put_char(l, '\\');
			put_char(l, 't');
			break;
		case '\n':
			put_char(l, '\\');
			put_char(l, 'n');
			break;
		case '\\':
			put_char(l, '\\');
			put_char(l, '\\');
			break;
		default: put_char(l, *s);
		}
	}
}

static void
put_number(struct line *l, long v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	unsigned long u = v < 0 ? 0 : (unsigned long)v;
	do
		tmp[--i] = (char)('0' + u % 10);
	while ((u /= 10) && i > 0);
	while (i < (int)sizeof(tmp))
		put_char(l, tmp[i++]);
}

/* "K<tab>pid<tab>ppid" */
static void
put_head(struct line *l, char kind, pid_t pid, pid_t ppid)
{
	l->n = 0;
	l->full = 0;
	put_char(l, kind);
	put_char(l, '\t');
	put_number(l, (long)pid);
	put_char(l, '\t');
	put_number(l, (long)ppid);
}

static void
append(struct line *l)
{
	if (l->full) /* cut at the limit, still one whole line */
		l->n = sizeof(l->buf) - 1;
	l->buf[l->n++] = '\n';
	int fd = fds_open(log_path, O_WRONLY | O_APPEND | O_NOFOLLOW, 0);
	if (fd < 0)
		return;
	ssize_t w;
	do
		w = write(fd, l->buf, l->n);
	while (w < 0 && errno == EINTR);
	close(fd);
}

void
runlog_trace(const char *path)
{
	if (!log_path[0])
		return;
	int saved = errno;
	struct line l;
	put_head(&l, 'T', getpid(), getppid());
	put_char(&l, '\t');
	put_field(&l, path);
	append(&l);
	errno = saved;
}

void
runlog_untraced(pid_t pid, pid_t ppid, const char *prog, char *const argv[])
{
	if (!log_path[0])
		return;
	int saved = errno;
	struct line l;
	put_head(&l, 'U', pid, ppid);
	put_char(&l, '\t');
	put_field(&l, prog);
	for (size_t i = 0; argv && argv[i] && !l.full; i++) {
		put_char(&l, '\t');
		put_field(&l, argv[i]);
	}
	append(&l);
	errno = saved;
}

void
runlog_forked(pid_t child)
{
	if (!log_path[0])
		return;
	int saved = errno;
	struct line l;
	put_head(&l, 'F', child, getpid());
	put_char(&l, '\t');
	put_field(&l, "fork");
	append(&l);
	errno = saved;
}
