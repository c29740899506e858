/* SPDX-License-Identifier: MIT */
/*
 * The compressor thread. zstd took a third of the writer's time where
 * blocks hardly compress (churn: 225 instructions an event of 860), and
 * the writer is what keeps up with the program's rings. On its own thread,
 * compression runs while the program waits or the writer encodes.
 *
 * A handshake on one word: the writer hands a block over by setting BUSY,
 * the thread gives it back by setting IDLE; each sleeps on the word (a
 * futex) while it waits for the other. No lock, no allocation: fork and
 * exit find nothing held.
 */
#include "compressor.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "own_thread.h"
#include "tracefile.h"

enum { IDLE, BUSY, QUIT };

static _Atomic int state;
static struct tfile *file;
static void (*thread_setup)(void);
static pthread_t thread;
static bool running;
/* The block handed over, and the first error of a write: set by one side
 * before its release store of state, read by the other after its acquire
 * load. */
static const uint8_t *job_raw;
static size_t job_len;
static int job_err;

static void
sleep_while(int value)
{
	syscall(SYS_futex, (int *)&state, FUTEX_WAIT_PRIVATE, value, NULL, NULL,
		0);
}

static void
set_state(int value)
{
	atomic_store_explicit(&state, value, memory_order_release);
	syscall(SYS_futex, (int *)&state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *
compressor_main(void *arg)
{
	(void)arg;
	if (thread_setup)
		thread_setup();
	for (;;) {
		int s = atomic_load_explicit(&state, memory_order_acquire);
		if (s == QUIT)
			return NULL;
		if (s == IDLE) {
			sleep_while(IDLE);
			continue;
		}
		int err = tfile_write_block(file, job_raw, job_len);
		if (err && !job_err)
			job_err = err;
		set_state(IDLE);
	}
}

static void
wait_idle(void)
{
	while (atomic_load_explicit(&state, memory_order_acquire) == BUSY)
		sleep_while(BUSY);
}

static int
take_error(void)
{
	int err = job_err;
	job_err = 0;
	return err;
}

int
compressor_start(struct tfile *t, void (*on_thread)(void))
{
	file = t;
	thread_setup = on_thread;
	job_err = 0;
	atomic_store(&state, IDLE);
	int err = own_thread_start(&thread, compressor_main, "heldby-zstd");
	running = err == 0;
	return err;
}

int
compressor_submit(const uint8_t *raw, size_t len)
{
	if (!running)
		return tfile_write_block(file, raw, len);
	wait_idle();
	int err = take_error();
	if (err)
		return err;
	job_raw = raw;
	job_len = len;
	set_state(BUSY);
	return 0;
}

int
compressor_wait(void)
{
	if (running)
		wait_idle();
	return take_error();
}

int
compressor_stop(void)
{
	int err = compressor_wait();
	if (running) {
		set_state(QUIT);
		pthread_join(thread, NULL);
		running = false;
	}
	return err;
}

bool
compressor_running(void)
{
	return running;
}

void
compressor_forget(void)
{
	running = false;
	file = NULL;
	job_err = 0;
	atomic_store(&state, IDLE);
}
