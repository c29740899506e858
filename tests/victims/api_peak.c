/* SPDX-License-Identifier: MIT */
/*
 * A program that asks heldby about its own heap through include/heldby.h.
 * Built three ways from this one source (tests/victims/meson.build): with
 * the meson dependency (HELDBY_LINKED, direct calls), linked with -lheldby
 * alone (calls looked up), and not linked at all (looked up; live only
 * under LD_PRELOAD). Prints what it measured, one "name value" a line;
 * tests/integration/test_api.py judges it.
 *   api_peak [peak]   reset, hold 10 MiB + 3 MiB at once, free both
 *   api_peak threads  4 threads hold 2 MiB each at once, then churn
 *                     mallocs, reallocs and frees across threads
 *   api_peak fork     4 threads make and keep 20000 small blocks each,
 *                     main 100 more, then it forks at once, before
 *                     anyone asks heldby: the child's counters must start
 *                     where the parent's are
 */
#include <heldby.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1u << 20)
#define NTHREADS 4
#define CHURN 20000

static void *volatile sink;

static void *
must_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	memset(p, 1, n < 64 ? n : 64);
	sink = p;
	return p;
}

/* The process's thread count: count mode must not start a writer. */
static int
threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void
report(const char *name, size_t v)
{
	printf("%s %zu\n", name, v);
}

static int
peak(void)
{
	heldby_mark("before");
	heldby_reset_peak();
	size_t before = heldby_current_bytes();
	size_t blocks_before = heldby_live_blocks();
	void *a = must_alloc(10 * MiB);
	void *b = must_alloc(3 * MiB);
	size_t held = heldby_current_bytes();
	size_t blocks_held = heldby_live_blocks();
	heldby_mark("holding");
	free(a);
	free(b);
	size_t pk = heldby_peak_bytes();
	size_t after = heldby_current_bytes();
	size_t blocks_after = heldby_live_blocks();
	heldby_mark("after");
	int nthreads = threads_now();
	/* printed last: stdout's buffer is allocated by the first print */
	report("active", (size_t)heldby_active());
	report("version", heldby_version());
	report("header_version", HELDBY_VERSION_NUMBER);
	report("before", before);
	report("held", held);
	report("peak", pk);
	report("after", after);
	report("blocks_before", blocks_before);
	report("blocks_held", blocks_held);
	report("blocks_after", blocks_after);
	report("threads", (size_t)nthreads);
	return 0;
}

static pthread_barrier_t hold_start, hold_end;
static void *_Atomic shared_slot[64];

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg;
	pthread_barrier_wait(&hold_start);
	void *big = must_alloc(2 * MiB);
	pthread_barrier_wait(&hold_end); /* every thread holds its 2 MiB */
	pthread_barrier_wait(&hold_end); /* main has looked */
	free(big);
	for (int i = 0; i < CHURN; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 8) % 700;
		void *p = must_alloc(n);
		if (seed & 0x100000) {
			void *q = realloc(p, n * 2);
			if (q)
				p = q;
		}
		/* Swap through a shared slot: frees from other threads and
		 * address reuse across threads. */
		p = atomic_exchange(&shared_slot[(seed >> 4) % 64], p);
		free(p);
	}
	return NULL;
}

static int
threads(void)
{
	pthread_t t[NTHREADS];
	pthread_barrier_init(&hold_start, NULL, NTHREADS + 1);
	pthread_barrier_init(&hold_end, NULL, NTHREADS + 1);
	for (size_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)))
			return 2;
	heldby_reset_peak();
	size_t before = heldby_current_bytes();
	size_t blocks_before = heldby_live_blocks();
	pthread_barrier_wait(&hold_start);
	pthread_barrier_wait(&hold_end);
	size_t held = heldby_current_bytes();
	pthread_barrier_wait(&hold_end);
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < 64; i++)
		free(atomic_exchange(&shared_slot[i], NULL));
	size_t pk = heldby_peak_bytes();
	size_t after = heldby_current_bytes();
	size_t blocks_after = heldby_live_blocks();
	report("active", (size_t)heldby_active());
	report("before", before);
	report("held", held);
	report("peak", pk);
	report("after", after);
	report("blocks_before", blocks_before);
	report("blocks_after", blocks_after);
	return 0;
}

static void *
keeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < CHURN; i++)
		must_alloc(48);
	return NULL;
}

/* write(2), not stdio: the child's first printf would allocate stdout's
 * buffer before the parent's. */
static void
say(const char *name, size_t v)
{
	char line[96];
	int n = snprintf(line, sizeof line, "%s %zu\n", name, v);
	if (write(1, line, (size_t)n) != n)
		_exit(3);
}

static int
fork_counts(void)
{
	pthread_t t[NTHREADS];
	for (size_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, keeper, NULL))
			return 2;
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	/* A burst just before fork: the writer drains every few ms, so most
	 * of these are still in the ring when the child is made. */
	for (int i = 0; i < 100; i++)
		must_alloc(32);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		size_t at_fork = heldby_current_bytes();
		size_t blocks = heldby_live_blocks();
		void *p = must_alloc(3 * MiB);
		size_t grown = heldby_current_bytes();
		free(p);
		say("child_at_fork", at_fork);
		say("child_blocks", blocks);
		say("child_grown", grown - at_fork);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return 4;
	say("parent_at_fork", heldby_current_bytes());
	say("parent_blocks", heldby_live_blocks());
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "peak") == 0)
		return peak();
	if (strcmp(argv[1], "threads") == 0)
		return threads();
	if (strcmp(argv[1], "fork") == 0)
		return fork_counts();
	fprintf(stderr, "usage: api_peak [peak|threads|fork]\n");
	return 2;
}
