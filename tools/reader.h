/* SPDX-License-Identifier: MIT */
/*
 * Streaming decoder of a heldby trace (include/heldby/trace.h). It keeps
 * the module and stack-node tables itself and hands out events one by one,
 * so memory stays bounded by one block plus the tables, whatever the length
 * of the trace. A cut-short or damaged file reads as far as it can.
 */
#ifndef HELDBY_TOOLS_READER_H
#define HELDBY_TOOLS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

struct rd_module {
	uint64_t id;
	uint64_t bias;
	size_t nranges;
	uint64_t *starts, *lens;
	char *path;
	uint8_t *build_id;
	size_t build_id_len;
	int live;
	UT_hash_handle hh;
};

/* One node of the stack tree, with its ip resolved against the modules
 * that were live when the node was read. */
struct rd_node {
	uint64_t id; /* 0: no node (an empty slot of the reader's array) */
	uint64_t parent;
	uint64_t ip;	 /* return address */
	uint64_t module; /* 0: in no known module */
	uint64_t offset; /* ip - load bias of module (ip when module is 0) */
};

/* RD_ADDR: block ptr (a numbered one) is at address addr; from now on it
 * is named by that address. */
enum rd_kind { RD_ALLOC, RD_FREE, RD_MARK, RD_END, RD_ADDR };

/* The identity of a block allocated by a version 2 record: its allocation
 * number with the top bit set, which no user-space address has. */
#define RD_SEQ_ID(seq) ((seq) | (1ull << 63))

struct rd_event {
	enum rd_kind kind;
	uint64_t time_ns; /* since the header's start_mono */
	/* The block's identity: its address (ALLOC/FREE/FREE_ADDR records,
	 * and after an RD_ADDR), or RD_SEQ_ID(its allocation number)
	 * (ALLOC_SEQ, FREE_SEQ, LOST records). */
	uint64_t ptr;
	uint64_t addr;	   /* RD_ADDR */
	int lost;	   /* FREE: released unseen (LOST), not a free call */
	uint64_t size;	   /* ALLOC */
	uint64_t stack;	   /* ALLOC; 0 = no stack */
	unsigned fn;	   /* ALLOC: enum heldby_fn */
	const char *label; /* MARK: not NUL-terminated, valid until next call */
	size_t label_len;
	uint64_t dropped, waits; /* END */
};

/* HELDBY_REC_SUMMARY: what the writer counted (the fields of the record). */
struct rd_summary {
	uint64_t peak_bytes, peak_blocks, peak_time_ns;
	uint64_t end_bytes, end_blocks;
	uint64_t alloc_calls, free_calls;
};

struct reader_stats {
	uint64_t blocks_read;	 /* decoded successfully */
	uint64_t blocks_damaged; /* skipped: bad header, bad payload, bad
				  * records, or missing from the sequence
				  * numbers */
	uint64_t last_seq;	 /* sequence number of the last good block */
	uint64_t bytes_read;	 /* file offset reached */
	uint64_t last_time_ns;	 /* time of the last event seen */
	int complete;		 /* saw END and lost no block (final once
				  * reader_next returned 0) */
	int ended;		 /* saw END (the program finished writing) */
	int truncated;		 /* the file ends inside a block */
	uint64_t anomalies; /* records referring to ids never defined, … */
	int has_summary;    /* a SUMMARY record was read */
	struct rd_summary summary;
};

struct reader;

/* Opens path ("-": standard input, a pipe too) and reads the header. Returns 0,
 * or -errno with a one-line reason in err ("not a heldby trace", "format
 * version 2 is newer than this heldby (1)"). Not thread-safe: one reader per
 * thread. */
int reader_open(const char *path, struct reader **out, char *err,
		size_t errlen);
/* A second reader of r's file from its start (a trace read from a pipe
 * too: the same spooled copy), for a view that reads it twice. Returns 0
 * or -errno with err set, as reader_open. */
int reader_reopen(const struct reader *r, struct reader **out, char *err,
		  size_t errlen);
void reader_close(struct reader *r);

/* Next event: 1 and *ev filled, or 0 at the end of the stream (including a
 * truncated or damaged tail). Never fails otherwise. */
int reader_next(struct reader *r, struct rd_event *ev);

/* Right after reader_open: moves to the file's last block by reading
 * block headers only, for a caller that wants just the closing records
 * (SUMMARY, END). Returns 0, or -1 with nothing changed when any header
 * fails its check, the sequence has a gap or the file ends inside a
 * header: then read the whole file. What the skipped blocks define
 * (modules, stack nodes) is unknown to the reader afterwards. */
int reader_skip_to_last_block(struct reader *r);

const struct reader_stats *reader_stats(const struct reader *r);
/* The node, or NULL; valid until the next reader_next (the node array may
 * move while nodes are read) or reader_close. */
const struct rd_node *reader_node(const struct reader *r, uint64_t id);
const struct rd_module *reader_module(const struct reader *r, uint64_t id);

/* Header fields. */
uint64_t reader_pid(const struct reader *r);
uint64_t reader_start_real_ns(const struct reader *r);
const char *reader_exe(const struct reader *r);
/* The command line the process was given (argv, a NUL after each, *len
 * bytes), or NULL when the trace does not have it (older shims). */
const char *reader_cmdline(const struct reader *r, size_t *len);
const char *reader_path(const struct reader *r);
/* The step of the events' clock in ns: HELDBY_TIME_TABLE_UNIT_NS (1 ms)
 * in a trace with a time table (what the shim writes), else 1. An event
 * time, or a difference of two, below it is only "less than a step". Marks
 * carry their own, finer times. Thread-safe. */
uint64_t reader_time_step_ns(const struct reader *r);

#endif
