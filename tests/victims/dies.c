/* SPDX-License-Identifier: MIT */
/* Holds 40 MiB from hold_forty(), then leaves the way argv[1] says:
 * exit, _exit, return, abort, raise-segv, fault-segv, bus, kill (prints
 * "ready" and waits to be killed) or handler (its own SIGSEGV handler,
 * which says so and leaves with _exit(3)). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NBLOCKS 40

void *volatile held[NBLOCKS];
int *volatile nowhere; /* NULL, and the compiler cannot know it */

__attribute__((noinline)) static void
hold_forty(void)
{
	for (int i = 0; i < NBLOCKS; i++)
		held[i] = malloc(1 << 20);
}

static void
own_handler(int sig)
{
	(void)sig;
	static const char msg[] = "own handler ran\n";
	ssize_t r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	_exit(3);
}

/* A store into a mapping past the end of its file. */
static void
bus_error(void)
{
	char path[] = "/tmp/heldby-bus-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return;
	unlink(path);
	volatile char *m =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED)
		m[0] = 1;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "return";
	if (!strcmp(how, "handler"))
		signal(SIGSEGV, own_handler);
	hold_forty();
	fflush(stdout);
	if (!strcmp(how, "exit"))
		exit(0);
	if (!strcmp(how, "_exit"))
		_exit(0);
	if (!strcmp(how, "abort"))
		abort();
	if (!strcmp(how, "raise-segv") || !strcmp(how, "handler"))
		raise(SIGSEGV);
	if (!strcmp(how, "fault-segv"))
		*nowhere = 1;
	if (!strcmp(how, "bus"))
		bus_error();
	if (!strcmp(how, "kill")) {
		usleep(500 * 1000); /* more than HELDBY_FLUSH_MS */
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}
