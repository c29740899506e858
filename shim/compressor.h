/* SPDX-License-Identifier: MIT */
/*
 * The compressor (compressor.c): a thread that compresses and writes the
 * writer's finished blocks (tfile_write_block), so that the writer goes on
 * encoding events into its other buffer meanwhile. One block at a time is
 * in its hands. Driven by one thread (the writer); not async-signal-safe.
 */
#ifndef HELDBY_COMPRESSOR_H
#define HELDBY_COMPRESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracefile.h"

/* Starts the thread for file t, which it uses until compressor_stop.
 * on_thread runs first on the new thread (NULL: nothing). Returns 0 or
 * -errno; without a thread, compressor_submit writes blocks itself. */
int compressor_start(struct tfile *t, void (*on_thread)(void));
/* Hands raw[0..len) over to be compressed and written as the file's next
 * block, after waiting for the block handed over before it. raw stays the
 * compressor's until the next compressor_submit or compressor_wait returns.
 * Returns 0, or the -errno of an earlier block's write (reported once);
 * this block is then not written. */
int compressor_submit(const uint8_t *raw, size_t len);
/* Waits until every block handed over is written. Returns 0, or the
 * -errno of the write that failed (reported once). */
int compressor_wait(void);
/* Waits as compressor_wait, then ends the thread. */
int compressor_stop(void);
/* In a fork child, where the thread does not exist: forgets it. */
void compressor_forget(void);
/* Whether the compressor's thread runs (one of the shim's own threads). */
bool compressor_running(void);

#endif
