/* SPDX-License-Identifier: MIT */
/* A signal handler that allocates, arriving as fast as a second thread can
 * send it, while the main thread allocates in a tight loop: often inside
 * heldby's hooks. The two use different size classes, each warmed up
 * first, so glibc itself serves both from its lock-free per-thread cache
 * and the program is sound without heldby. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic int stop;
static volatile sig_atomic_t handled;
static pthread_t main_thread;

static void
on_signal(int sig)
{
	(void)sig;
	void *volatile p = malloc(200);
	free(p);
	handled++;
}

static void *
sender(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	main_thread = pthread_self();
	free(malloc(200));
	free(malloc(64));
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t t;
	pthread_create(&t, NULL, sender, NULL);
	long i = 0;
	/* until the handler ran argv[1] times as well (or a long while) */
	while (i < n || (handled < n / 10 && i < 1000 * n)) {
		void *volatile p = malloc(64);
		free(p);
		i++;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("main %ld handler %ld\n", i, (long)handled);
	return 0;
}
