/* SPDX-License-Identifier: MIT */
/*
 * Events a known time apart, to check the times in the trace (event clock
 * and its calibration, shim/clock.c). Marks, sleeps ~300 ms, marks, holds
 * 8 MiB (the peak), sleeps, marks, frees, sleeps and exits. Each timed
 * event is bracketed by two CLOCK_MONOTONIC readings, printed at the end as
 * "event NAME BEFORE_NS AFTER_NS" (with "pid PID" first): the trace's time
 * of the event lies between them (tests/integration/test_clock.py).
 *   timed_marks          in this process
 *   timed_marks fork     in a forked child (its own trace when followed)
 *   timed_marks execfail after an exec that fails (the trace restarts)
 *   timed_marks busy     with a thread that allocates all along, so that
 *                        the writer ticks the clock for the events
 * The thread stands aside while a timed event is made (quiet()): a free
 * or malloc of its that had taken its place in the order and was then
 * preempted before reading the clock would stamp a later time, and the
 * writer, which never lets time go back, would move the timed event after
 * it, by as long as the machine kept that thread waiting.
 * Not linked with libheldby: the marks are live only under LD_PRELOAD.
 */
#include <heldby.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1u << 20)
#define NEV 4

static const char *names[NEV] = { "start", "slept", "peak", "held" };
static uint64_t before[NEV], after[NEV];
static void *volatile sink;
static atomic_int stop_churn;
/* Held by churn() around each free and malloc, by quiet() around a timed
 * event; want_quiet makes churn() let go until quiet() has it. */
static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int want_quiet;
static atomic_int churn_full; /* all 64 blocks held: the sequence may begin */

/* Small blocks in and out until told to stop: events keep flowing. All
 * of one size, so that between two iterations (where quiet() finds it)
 * the thread holds the most it ever does: the program's peak is the 8 MiB
 * allocation itself, not a later moment at which this thread happened to
 * hold a few bytes more, which a loaded machine could put off at will. */
static void *
churn(void *arg)
{
	(void)arg;
	void *keep[64] = { 0 };
	for (unsigned i = 0; !atomic_load(&stop_churn); i++) {
		while (atomic_load(&want_quiet))
			sched_yield();
		pthread_mutex_lock(&churn_lock);
		free(keep[i % 64]);
		keep[i % 64] = malloc(48);
		pthread_mutex_unlock(&churn_lock);
		if (i == 64)
			atomic_store(&churn_full, 1);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* No event of churn()'s is under way from quiet() to loud(). */
static void
quiet(void)
{
	atomic_store(&want_quiet, 1);
	pthread_mutex_lock(&churn_lock);
	atomic_store(&want_quiet, 0);
}

static void
loud(void)
{
	pthread_mutex_unlock(&churn_lock);
}

static void
timed_mark(int i)
{
	quiet();
	before[i] = mono_ns();
	heldby_mark(names[i]);
	after[i] = mono_ns();
	loud();
}

static int
sequence(void)
{
	timed_mark(0);
	nap_ms(300);
	timed_mark(1);
	/* The allocation comes a while after this thread's last event, so
	 * that its time is the writer's tick in busy mode, not the mark's. */
	nap_ms(50);
	quiet();
	before[2] = mono_ns();
	char *big = malloc(8 * MiB);
	after[2] = mono_ns();
	loud();
	if (!big)
		return 1;
	memset(big, 1, 4096);
	sink = big;
	nap_ms(300);
	timed_mark(3);
	free(big);
	nap_ms(300);
	printf("pid %ld\n", (long)getpid());
	for (int i = 0; i < NEV; i++)
		printf("event %s %llu %llu\n", names[i],
		       (unsigned long long)before[i],
		       (unsigned long long)after[i]);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "fork") == 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			exit(sequence());
		int st;
		return waitpid(pid, &st, 0) == pid && WIFEXITED(st)
			       ? WEXITSTATUS(st)
			       : 1;
	}
	if (strcmp(mode, "execfail") == 0) {
		heldby_mark("before-exec");
		char *args[] = { "/nonexistent/heldby-timed-marks", NULL };
		execv(args[0], args);
	} else if (strcmp(mode, "busy") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, churn, NULL) != 0)
			return 1;
		while (!atomic_load(&churn_full))
			sched_yield();
		int rc = sequence();
		atomic_store(&stop_churn, 1);
		pthread_join(t, NULL);
		return rc;
	} else if (*mode) {
		fprintf(stderr, "usage: timed_marks [fork|execfail|busy]\n");
		return 2;
	}
	return sequence();
}
