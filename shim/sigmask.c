/* SPDX-License-Identifier: MIT */
/*
 * sigmask.h: the asynchronous signals blocked around the shim's slow
 * paths. In shim_core, since the rings need it too.
 */
#include "sigmask.h"

#include <pthread.h>

void
sig_block_async(sigset_t *old)
{
	sigset_t set;
	sigfillset(&set);
	static const int sync_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
					 SIGTRAP };
	for (size_t i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigdelset(&set, sync_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void
sig_unblock(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
