/* SPDX-License-Identifier: MIT */
/*
 * Encodes trace records (include/heldby/trace.h) into a block's raw buffer.
 * Pure functions over caller-owned memory: usable from the shim's writer and
 * from any test that needs to build a trace. Not thread-safe for the same
 * struct enc; async-signal-safe.
 */
#ifndef HELDBY_ENCODE_H
#define HELDBY_ENCODE_H

#include <stddef.h>
#include <stdint.h>

struct enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t prev_time;
	uint64_t prev_ptr;
};

/* Empty, deltas reset. */
void enc_init(struct enc *e, uint8_t *buf, size_t cap);
/* After a block is written: empty again, deltas reset. */
void enc_clear(struct enc *e);

/* Each returns 0, or -1 when the record would not fit (nothing written).
 * A time earlier than the previous record's is written as that time (dt is
 * unsigned in the format). */
int enc_module(struct enc *e, uint64_t id, uint64_t bias, size_t nranges,
	       const uint64_t *starts, const uint64_t *lens, const char *path,
	       const uint8_t *build_id, size_t build_id_len);
int enc_module_unload(struct enc *e, uint64_t id);
int enc_stack(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip);
int enc_alloc(struct enc *e, uint64_t time_ns, uint64_t size, uint64_t ptr,
	      uint64_t stack, unsigned fn);
int enc_free(struct enc *e, uint64_t time_ns, uint64_t ptr);
int enc_thread(struct enc *e, uint64_t tid, const char *name);
int enc_mark(struct enc *e, uint64_t time_ns, const char *label);
int enc_end(struct enc *e, uint64_t time_ns, uint64_t dropped,
	    uint64_t waits);

#endif
