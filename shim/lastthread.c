/* SPDX-License-Identifier: MIT */
/*
 * Whether the program has no thread left but the shim's own. glibc ends a
 * process with exit(0) when its last thread leaves with pthread_exit (main
 * too); it counts the shim's writer and compressor among them, so a main()
 * that ends in pthread_exit would wait for them for ever. The kernel's
 * count tells: the threads of the process, less a main thread that is a
 * zombie (it left, the others run), less the shim's own.
 */
#include "fds.h"
#include "lastthread.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Reads a small /proc file into buf (NUL-terminated). Returns its length,
 * or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
	int fd = fds_open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* The main thread's state letter, from /proc/self/stat ("pid (comm) S"):
 * the last ')' ends the command's name, which may hold anything. */
static char
main_thread_state(void)
{
	char buf[512];
	if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return 0;
	char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

static long
threads_in_process(void)
{
	char buf[2048];
	if (read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return -1;
	const char *t = strstr(buf, "\nThreads:");
	if (!t)
		return -1;
	t += 9;
	while (*t == ' ' || *t == '\t')
		t++;
	long n = 0;
	while (*t >= '0' && *t <= '9')
		n = n * 10 + (*t++ - '0');
	return n;
}

bool
lastthread_gone(int own)
{
	/* The main thread leaves first in every case that matters: the
	 * program's other threads end on their own, or with exit. */
	if (main_thread_state() != 'Z')
		return false;
	long n = threads_in_process();
	return n >= 0 && n <= 1 + own;
}
