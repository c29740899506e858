/* SPDX-License-Identifier: MIT */
/*
 * Makes and reads the run's log. Lines are "K\tpid\tppid\tfield…\n" with
 * tab, newline and backslash escaped in the fields; a process writes each
 * line whole, so lines of processes that ran at once do not mix.
 */
#include "runlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
runlog_create(char *path, size_t cap)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(path, cap, "%s/heldby-run.XXXXXX", tmp) >= cap)
		return -ENAMETOOLONG;
	int fd = mkstemp(path); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Undoes the shim's escapes in place. */
static void
unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

static int
parse_pid(const char *s, pid_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 0x7fffffffL)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* One line, without its newline, into e. Returns 0, or -1 (skip it). */
static int
parse_line(char *line, struct rl_entry *e)
{
	size_t nf = 1;
	for (char *p = line; *p; p++)
		nf += *p == '\t';
	if (nf < 4 || !strchr("TUF", line[0]) || line[1] != '\t')
		return -1;
	char **f = calloc(nf, sizeof(*f));
	if (!f)
		return -1;
	size_t k = 0;
	for (char *p = line, *tok; (tok = strsep(&p, "\t"));)
		f[k++] = tok;
	memset(e, 0, sizeof(*e));
	e->kind = line[0];
	if (parse_pid(f[1], &e->pid) || parse_pid(f[2], &e->ppid)) {
		free(f);
		return -1;
	}
	e->nfields = nf - 3;
	e->fields = calloc(e->nfields, sizeof(char *));
	for (size_t i = 0; e->fields && i < e->nfields; i++) {
		unescape(f[i + 3]);
		e->fields[i] = strdup(f[i + 3]);
		if (!e->fields[i])
			e->nfields = i;
	}
	free(f);
	return e->fields ? 0 : -1;
}

int
runlog_read(const char *path, struct runlog *out)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0, room = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n')
			break; /* a line still being written */
		line[len - 1] = 0;
		if (out->n == room) {
			size_t nr = room ? 2 * room : 16;
			struct rl_entry *ne = realloc(out->e, nr * sizeof(*ne));
			if (!ne)
				break;
			out->e = ne;
			room = nr;
		}
		if (parse_line(line, &out->e[out->n]) == 0)
			out->n++;
	}
	free(line);
	fclose(f);
	return 0;
}

void
runlog_free(struct runlog *log)
{
	for (size_t i = 0; i < log->n; i++) {
		for (size_t j = 0; j < log->e[i].nfields; j++)
			free(log->e[i].fields[j]);
		free(log->e[i].fields);
	}
	free(log->e);
	memset(log, 0, sizeof(*log));
}
