/* SPDX-License-Identifier: MIT */
/* The shim's own threads (the writer, the compressor). */
#ifndef HELDBY_SHIM_OWN_THREAD_H
#define HELDBY_SHIM_OWN_THREAD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#define OWN_THREAD_STACK ((size_t)512 << 10)

/* Starts fn on a thread named name, born with every signal blocked: a
 * handler of the program must never run on a thread it does not know.
 * The caller's mask is as it was. Returns 0 or -errno. */
static inline int
own_thread_start(pthread_t *t, void *(*fn)(void *), const char *name)
{
	sigset_t all, old;
	sigfillset(&all);
	/* Not RLIMIT_STACK's 8 MiB of the program's address space: the
	 * deepest the writer goes is libdw reading a module's CFI. */
	pthread_attr_t attr;
	bool sized = pthread_attr_init(&attr) == 0;
	if (sized)
		pthread_attr_setstacksize(&attr, OWN_THREAD_STACK);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(t, sized ? &attr : NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (sized)
		pthread_attr_destroy(&attr);
	if (err)
		return -err;
	pthread_setname_np(*t, name);
	return 0;
}

#endif
