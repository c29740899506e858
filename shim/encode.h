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
	/* Version 2 events: a TIME record is written only when the time moved
	 * by time_res or more (and once per block); allocations are numbered
	 * from 1 across blocks (next_seq survives enc_clear). */
	uint64_t time_res;
	uint64_t next_seq;
	int has_time, has_seq;
	uint64_t prev_node; /* id of the block's last NODE record */
	uint64_t prev_free; /* allocation of the last FREE_SEQ / FREE_NEAR */
	/* The time table (HELDBY_TRACE_F_TIME_TABLE), when tcap != 0: its
	 * entries grow in buf[cap - tcap, cap); tlast is the record offset of
	 * the last one. */
	size_t tcap, tlen, tlast;
};

#define ENC_TIME_RES_NS 1000000u

/* Empty, deltas reset, next_seq 1, time_res ENC_TIME_RES_NS, TIME records
 * inline (no time table). */
void enc_init(struct enc *e, uint8_t *buf, size_t cap);
/* After a block is written: empty again, deltas reset. */
void enc_clear(struct enc *e);
/* From now on event times go to a time table of at most `bytes` (taken
 * from the end of buf) instead of TIME records, in units of
 * HELDBY_TIME_TABLE_UNIT_NS (the resolution, ENC_TIME_RES_NS). For a file
 * with HELDBY_TRACE_F_TIME_TABLE. */
void enc_time_table(struct enc *e, size_t bytes);
/* The block's bytes: buf[0, return value). With a time table, moves the
 * table behind the records and adds its length; enc_clear after. */
size_t enc_finish(struct enc *e);

/* Each returns 0, or -1 when the record would not fit (nothing written).
 * A time earlier than the previous record's is written as that time (dt is
 * unsigned in the format). */
int enc_module(struct enc *e, uint64_t id, uint64_t bias, size_t nranges,
	       const uint64_t *starts, const uint64_t *lens, const char *path,
	       const uint8_t *build_id, size_t build_id_len);
int enc_module_unload(struct enc *e, uint64_t id);
int enc_stack(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip);
/* NODE record (version 2): parent_ip is the ip of node parent (any value
 * when parent is 0). */
int enc_node(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip,
	     uint64_t parent_ip);
/* NODE_IP record (version 4): the same with the ip whole. */
int enc_node_ip(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip);
int enc_alloc(struct enc *e, uint64_t time_ns, uint64_t size, uint64_t ptr,
	      uint64_t stack, unsigned fn);
int enc_free(struct enc *e, uint64_t time_ns, uint64_t ptr);
/* Version 2 events (trace.h): each writes the TIME and SEQ records it
 * needs first, all or nothing. enc_alloc_seq numbers the allocation
 * (*seq, may be NULL); the others name an allocation by that number, which
 * must be below next_seq. */
int enc_alloc_seq(struct enc *e, uint64_t time_ns, uint64_t size,
		  uint64_t stack, unsigned fn, uint64_t *seq);
/* FREE_SEQ or FREE_NEAR (version 4), whichever names seq with the
 * smaller number. */
int enc_free_seq(struct enc *e, uint64_t time_ns, uint64_t seq);
int enc_addr(struct enc *e, uint64_t seq, uint64_t ptr);
int enc_free_addr(struct enc *e, uint64_t time_ns, uint64_t ptr);
int enc_lost(struct enc *e, uint64_t seq);
int enc_thread(struct enc *e, uint64_t tid, const char *name);
int enc_mark(struct enc *e, uint64_t time_ns, const char *label);
int enc_end(struct enc *e, uint64_t time_ns, uint64_t dropped, uint64_t waits);
/* What a replay finds, for HELDBY_REC_SUMMARY (fields in its order). */
struct enc_summary {
	uint64_t peak_bytes, peak_blocks, peak_time;
	uint64_t end_bytes, end_blocks;
	uint64_t alloc_calls, free_calls;
};
int enc_summary(struct enc *e, const struct enc_summary *s);

#endif
