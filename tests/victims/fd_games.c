/* SPDX-License-Identifier: MIT */
/* Plays with descriptor numbers the way shells and daemons do, and says
 * what it saw: under heldby it must see what it sees without it, though
 * the shim keeps descriptors of its own (tests/integration/
 * test_descriptors.py). argv[1]:
 *   redirect T...      for each T, a number, or trace, pipe0 or pipe1 (the
 *                      shim's trace and libunwind's pipe, found in
 *                      /proc/self/fd; 600, 601, 602 without the shim):
 *                      put a pipe's write end on T, write through it,
 *                      close T and read the pipe to its end (a shell's
 *                      4>file, 4>&-)
 *   close-range LOG    the system call close_range(3, ~0U), then a log
 *                      LOG on the lowest number and on stderr (a daemon)
 *   null-over MODE LOG dup2 /dev/null over every open descriptor (MODE
 *                      libc, or raw: the system call), then log to LOG
 *   fill-disk DIR      fill DIR's disk with DIR/data, give 64 KiB back,
 *                      allocate while a trace block is due, then write
 *                      16 KiB more
 *   count-opens        how many files it can open, and the first number
 *   dup2-storm MS      for MS milliseconds, allocating nothing, put a
 *                      pipe's write end on 3 (dup2), write through it,
 *                      close 3 and read the pipe to its end: how many
 *                      rounds, and how many went wrong (the shim's own
 *                      short-lived files land on 3 while it is free)
 * Before any of that hold_before() holds 2 MiB; after it, a thread
 * allocates in fresh stack frames (libunwind's walks check memory through
 * its pipe) and held_after() holds 3 MiB; main returns 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *volatile held_b, *volatile held_a;
void *volatile churned[64];

__attribute__((noinline)) static void
hold_before(void)
{
	held_b = malloc(2 << 20);
}

__attribute__((noinline)) static void
held_after(void)
{
	held_a = malloc(3 << 20);
}

/* Allocates at each of depth frames, each with a page of stack of its
 * own: libunwind's walks of a new thread check the stack's pages. */
__attribute__((noinline)) static int
deep(int depth)
{
	volatile char page[4096];
	page[0] = (char)depth;
	free(malloc(16 + (size_t)depth));
	int r = depth > 0 ? deep(depth - 1) : 0;
	return r + page[0];
}

static void *
deep_thread(void *arg)
{
	(void)arg;
	deep(24);
	return NULL;
}

static void
provoke(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, deep_thread, NULL) == 0)
		pthread_join(t, NULL);
}

/* The shim's descriptors as /proc/self/fd shows them. */
static int shim_trace = -1, shim_pipe[2] = { -1, -1 };

static void
find_shim_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd < 3 || fd == dirfd(d))
			continue;
		char link[64], to[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, to, sizeof to - 1);
		if (n <= 0)
			continue;
		to[n] = 0;
		if (strstr(to, ".hbt"))
			shim_trace = fd;
		else if (!strncmp(to, "pipe:", 5))
			shim_pipe[(fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY
					  ? 0
					  : 1] = fd;
	}
	closedir(d);
}

static int
target(const char *t)
{
	if (!strcmp(t, "trace"))
		return shim_trace >= 0 ? shim_trace : 602;
	if (!strcmp(t, "pipe0"))
		return shim_pipe[0] >= 0 ? shim_pipe[0] : 600;
	if (!strcmp(t, "pipe1"))
		return shim_pipe[1] >= 0 ? shim_pipe[1] : 601;
	return atoi(t);
}

/* A pipe on numbers that no target is. */
static void
own_pipe(int p[2])
{
	int q[2];
	if (pipe(q) != 0)
		exit(2);
	p[0] = fcntl(q[0], F_DUPFD_CLOEXEC, 100);
	p[1] = fcntl(q[1], F_DUPFD_CLOEXEC, 100);
	close(q[0]);
	close(q[1]);
}

static void
redirect(int argc, char **argv)
{
	find_shim_fds();
	for (int i = 2; i < argc; i++) {
		int fd = target(argv[i]), p[2];
		own_pipe(p);
		if (dup2(p[1], fd) != fd) {
			printf("%s: dup2: %s\n", argv[i], strerror(errno));
			continue;
		}
		close(p[1]);
		provoke();
		ssize_t w = write(fd, "hello\n", 6);
		(void)w;
		if (close(fd) != 0)
			printf("%s: close: %s\n", argv[i], strerror(errno));
		/* Without the end of file, a reader waits for ever. */
		alarm(10);
		char got[64];
		size_t n = 0;
		ssize_t r;
		while (n < sizeof got - 1 &&
		       (r = read(p[0], got + n, sizeof got - 1 - n)) > 0)
			n += (size_t)r;
		alarm(0);
		got[n] = 0;
		printf("%s: read %zu bytes \"", argv[i], n);
		for (size_t k = 0; k < n; k++)
			printf(got[k] >= 32 && got[k] < 127 ? "%c" : "\\x%02x",
			       (unsigned char)got[k]);
		printf("\", then the end of file\n");
		close(p[0]);
	}
}

static int
open_log(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
}

static void
close_everything(const char *logpath)
{
	usleep(300000); /* the writer done with its rules (count_opens) */
	syscall(SYS_close_range, 3, ~0U, 0);
	int log = open_log(logpath);
	dup2(log, 2);
	dprintf(log, "log on %d\n", log);
	provoke();
	held_after();
	dprintf(log, "done\n");
}

static void
null_over(const char *how, const char *logpath)
{
	int null = open("/dev/null", O_RDWR);
	int fds[4096], n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 4096)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) &&
		    atoi(e->d_name) != null)
			fds[n++] = atoi(e->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		if (!strcmp(how, "raw"))
			syscall(SYS_dup2, null, fds[i]);
		else
			dup2(null, fds[i]);
	int log = open_log(logpath);
	dprintf(log, "every descriptor under /dev/null\n");
	provoke();
	held_after();
	dprintf(log, "done\n");
}

static void
fill_disk(const char *dir)
{
	/* Everything so far written: a block is due every 200 ms. */
	usleep(500000);
	char path[4096];
	snprintf(path, sizeof path, "%s/data", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static char buf[16 << 10];
	memset(buf, 'x', sizeof buf);
	off_t size = 0;
	ssize_t w;
	while ((w = write(fd, buf, 4096)) > 0)
		size += w;
	printf("disk full: %s\n", w < 0 ? strerror(errno) : "no error");
	if (ftruncate(fd, size - (64 << 10)) != 0 || lseek(fd, 0, SEEK_END) < 0)
		printf("cannot give space back: %s\n", strerror(errno));
	/* A block that does not fit in 64 KiB: sizes that hardly compress. */
	unsigned x = 12345;
	for (size_t i = 0; i < 300000; i++) {
		x = x * 1103515245 + 12345;
		free(churned[i % 64]);
		churned[i % 64] = malloc(16 + (x >> 16) % 4000);
	}
	usleep(800000);
	w = write(fd, buf, sizeof buf);
	printf("16 KiB more: %s\n",
	       w == (ssize_t)sizeof buf ? "written" : strerror(errno));
	close(fd);
	unlink(path);
	held_after();
}

static void
count_opens(void)
{
	int first = -1, n = 0, fd;
	/* Not while the writer looks up the rules of hold_before's stack: it
	 * opens each module's file for a moment (cfi.c). */
	usleep(300000);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		if (first < 0)
			first = fd;
		n++;
	}
	printf("first %d, %d files\n", first, n);
	held_after();
}

static void
dup2_storm(long ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long rounds = 0, wrong = 0;
	do {
		int p[2];
		own_pipe(p);
		char got[16];
		ssize_t r = -1;
		if (dup2(p[1], 3) == 3 && close(p[1]) == 0 &&
		    write(3, "hello\n", 6) == 6 && close(3) == 0)
			r = read(p[0], got, sizeof got);
		/* then the end of file, with nothing of anyone else's */
		if (r != 6 || read(p[0], got, sizeof got) != 0)
			wrong++;
		close(p[0]);
		close(p[1]);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 +
			 (t.tv_nsec - t0.tv_nsec) / 1000000 <
		 ms);
	printf("%s rounds, %ld wrong\n", rounds > 1000 ? "many" : "few", wrong);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	hold_before();
	if (!strcmp(mode, "redirect")) {
		redirect(argc, argv);
		held_after();
	} else if (!strcmp(mode, "close-range") && argc > 2) {
		close_everything(argv[2]);
	} else if (!strcmp(mode, "null-over") && argc > 3) {
		null_over(argv[2], argv[3]);
	} else if (!strcmp(mode, "fill-disk") && argc > 2) {
		fill_disk(argv[2]);
	} else if (!strcmp(mode, "count-opens")) {
		count_opens();
	} else if (!strcmp(mode, "dup2-storm") && argc > 2) {
		dup2_storm(atol(argv[2]));
		held_after();
	} else {
		fprintf(stderr,
			"usage: fd_games redirect|close-range|"
			"null-over|fill-disk|count-opens|dup2-storm ...\n");
		return 2;
	}
	return 0;
}
