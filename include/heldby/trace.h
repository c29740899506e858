/* SPDX-License-Identifier: MIT */
/*
 * The heldby trace format: the one contract between the shim that writes a
 * trace and the tools that read it. docs/trace-format.md explains the why;
 * this header is the normative definition. Any change to what is written
 * here bumps HELDBY_TRACE_VERSION.
 */
#ifndef HELDBY_TRACE_H
#define HELDBY_TRACE_H

#include <stdint.h>

/* The file starts with these 8 bytes. */
#define HELDBY_TRACE_MAGIC "HELDBYT\n"
#define HELDBY_TRACE_MAGIC_LEN 8
#define HELDBY_TRACE_VERSION 4u

/*
 * File header, all integers little-endian, no padding:
 *   off  0  char[8]  HELDBY_TRACE_MAGIC
 *   off  8  u32      format version (HELDBY_TRACE_VERSION)
 *   off 12  u32      header size in bytes, including the exe path
 *   off 16  u64      pid of the traced process
 *   off 24  u64      CLOCK_REALTIME at start, ns since the epoch
 *   off 32  u64      CLOCK_MONOTONIC at start, ns; event times count from it
 *   off 40  u32      length of the executable path that follows
 *   off 44  u32      flags (HELDBY_TRACE_F_*)
 *   off 48  bytes    executable path (not NUL-terminated)
 *   then, with HELDBY_TRACE_F_CMDLINE: u32 length, and the command line
 *            as the program was given it (argv, each argument followed by
 *            a NUL, at most HELDBY_CMDLINE_MAX bytes)
 * A reader skips to "header size", so later versions may append fields.
 */
#define HELDBY_TRACE_HEADER_FIXED 48u
#define HELDBY_TRACE_F_NONE 0u
/* Version 4 flag: the time of events is kept out of the records. Each
 * block's raw bytes are its records, then a time table, then the table's
 * length in bytes (u32). An entry of the table, (u at, u dt), moves the
 * block's time by dt * HELDBY_TIME_TABLE_UNIT_NS right before the record
 * that starts at byte offset `at` past the previous entry's offset (the
 * first entry's: past the block's start), as a TIME record there would.
 * A TIME record every millisecond, at no fixed place among repeating
 * events, broke zstd's matches: 37% of sqlite3's trace. */
#define HELDBY_TRACE_F_TIME_TABLE 1u
#define HELDBY_TIME_TABLE_UNIT_NS 1000000u
/* The header holds the process's command line after the executable path:
 * the executable alone names a symlink's target (Debian's redis-server is
 * redis-check-rdb), the command line what was run. */
#define HELDBY_TRACE_F_CMDLINE 2u
#define HELDBY_CMDLINE_MAX 4096u
/* The longest HELDBY_OUTPUT pattern the shim takes, and so the longest
 * `heldby run -o` accepts: made absolute, expanded, with ".NN" added, it
 * still fits a path. */
#define HELDBY_OUTPUT_MAX 3900u

/*
 * Then blocks, back to back until the end of the file. Block header, 20
 * bytes, little-endian:
 *   off  0  u32  HELDBY_BLOCK_MAGIC
 *   off  4  u32  sequence number, 0 for the first block, +1 each block
 *   off  8  u32  stored size: bytes of payload after this header
 *   off 12  u32  raw size: bytes after decompression (<= HELDBY_BLOCK_RAW_MAX)
 *   off 16  u32  header check: heldby_block_check(seq, stored, raw)
 * The payload is exactly one zstd frame written with the content checksum
 * on (ZSTD_c_checksumFlag), so a damaged payload fails to decompress. A
 * damaged header fails its check; the reader then scans forward for the next
 * magic whose header check holds.
 */
#define HELDBY_BLOCK_MAGIC 0x4b4c4248u /* "HBLK" read as little-endian u32 */
#define HELDBY_BLOCK_HEADER_SIZE 20u
#define HELDBY_BLOCK_RAW_MAX (8u << 20)

static inline uint32_t
heldby_block_check(uint32_t seq, uint32_t stored, uint32_t raw)
{
	/* Not a checksum of the payload (zstd has that): it only tells a real
	 * block header from a stray magic number while resynchronising. */
	uint32_t h = 0x9e3779b1u ^ seq;
	h = (h ^ stored) * 0x85ebca77u;
	h = (h ^ raw) * 0xc2b2ae3du;
	return h ^ (h >> 16);
}

/*
 * The raw payload of a block is a sequence of records. Each record is one
 * kind byte followed by its fields, in the order listed below:
 *   u  unsigned LEB128 varint (at most 10 bytes for a u64)
 *   s  signed varint: zigzag, then LEB128
 *   str  u length, then that many bytes (no NUL)
 *
 * Each block is self-contained for its deltas: at the start of every block
 * prev_time = 0 and prev_ptr = 0. A time field "dt" is the event's time
 * minus prev_time (ns since the header's start_mono); a pointer field "dptr"
 * is the pointer minus prev_ptr. Each record that has dt sets prev_time; each
 * record that has dptr sets prev_ptr. A record without a time (ALLOC_SEQ,
 * FREE_SEQ, FREE_ADDR, LOST) happens at prev_time.
 *
 * Identifiers (module ids, stack ids) are global to the file and assigned
 * by the writer from 1 upward; a record that uses an id comes after the
 * record that defines it (possibly in an earlier block).
 *
 * Events appear in the true order in which they happened across all
 * threads: a free is ordered before the real free ran, an allocation after
 * the real allocation returned.
 */
enum heldby_rec {
	/* u id, u load_bias, u nranges, nranges x (u start, u len),
	 * str path, str build_id (raw bytes, may be empty).
	 * A module (the executable, a shared library, the vdso) from the
	 * moment it is known until its MODULE_UNLOAD. start is an absolute
	 * address of a PT_LOAD segment in this process (since the second
	 * writer of version 4, only of executable ones). A frame address is
	 * resolved against the modules live when its STACK record is read;
	 * after an unload, a later module may occupy the same addresses. */
	HELDBY_REC_MODULE = 1,
	/* u id */
	HELDBY_REC_MODULE_UNLOAD = 2,
	/* u id, u parent, u ip
	 * One node of the stack tree. ip is a return address (symbolise at
	 * ip - 1); parent is the node of its caller (0: outermost frame). An
	 * event's stack is the node of its innermost frame; following parent
	 * links walks outward. A stack id of 0 in an event means "no stack". */
	HELDBY_REC_STACK = 3,
	/* u dt, u size, s dptr, u stack, u fn (enum heldby_fn) */
	HELDBY_REC_ALLOC = 4,
	/* u dt, s dptr
	 * The block at ptr is released. A FREE for a pointer the reader does
	 * not hold (allocated before tracking began, or untracked) is ignored.
	 * realloc is written as FREE of the old pointer then ALLOC of the new.
	 */
	HELDBY_REC_FREE = 5,
	/* u tid, str name */
	HELDBY_REC_THREAD = 6,
	/* u dt, str label: a named moment (heldby_mark) */
	HELDBY_REC_MARK = 7,
	/* u dt, u events_dropped, u ring_waits
	 * The program ended and everything was written. A trace without END
	 * was cut short (crash, kill -9, _exit, full disk). */
	HELDBY_REC_END = 8,

	/* Version 2 records. The writer of version 2 uses these for events
	 * instead of ALLOC and FREE (a reader still reads both): an event
	 * carries no time of its own, and a free names its allocation rather
	 * than an address, which leaves almost nothing for zstd to encode.
	 *
	 * Allocations are numbered from 1 upward across the whole file; the
	 * reader keeps next_seq, the number the next ALLOC_SEQ takes. A field
	 * "back" names allocation next_seq - back (so back >= 1). */

	/* u dt: the time of the events that follow (sets prev_time). The
	 * writer writes one only when the time moved by its resolution
	 * (1 ms) or more, and before the first event of each block. */
	HELDBY_REC_TIME = 9,
	/* u next_seq: written before the first numbered record of a block, so
	 * that a block decodes on its own after a damaged one. */
	HELDBY_REC_SEQ = 10,
	/* u size, u stack, u fn: allocation number next_seq, at prev_time;
	 * then next_seq += 1. Its address is not written (see ADDR). */
	HELDBY_REC_ALLOC_SEQ = 11,
	/* u back: allocation next_seq - back is released, at prev_time. */
	HELDBY_REC_FREE_SEQ = 12,
	/* u back, s dptr: allocation next_seq - back, still live, is at this
	 * address, and is freed later by FREE_ADDR. The version 2 and 3
	 * writers matched frees to allocations over a window of recent
	 * allocations and wrote one for each allocation that outlived it;
	 * version 4 writes one only for an allocation its table could not
	 * hold (out of memory). */
	HELDBY_REC_ADDR = 13,
	/* s dptr: the block at this address (named by an ADDR, or unknown to
	 * the trace, then ignored) is released, at prev_time. */
	HELDBY_REC_FREE_ADDR = 14,
	/* u back: allocation next_seq - back was released unseen (its address
	 * was handed out again); an anomaly, counted, not a free. */
	HELDBY_REC_LOST = 15,
	/* u did, u up, s dip: a stack node as STACK, in deltas: id is the
	 * previous NODE's id in this block plus did (the first is absolute),
	 * parent = id - up (up = id: outermost), ip = the parent's ip + dip
	 * (dip = ip when outermost). A callee sits near its caller, so this
	 * costs a third of STACK once compressed. */
	HELDBY_REC_NODE = 16,

	/* Version 3. u peak_bytes, u peak_blocks, u peak_time (ns since
	 * start, absolute), u end_bytes, u end_blocks, u alloc_calls,
	 * u free_calls: what a replay of this trace finds, counted by the
	 * writer as it wrote the events. Written alone in the last block, with
	 * END, and only when the writer counted every event of the trace from
	 * an empty table (not in a fork child or after a failed exec) and its
	 * counts are the replay's (no unseen free of a block the trace never
	 * named, whose address came back), so that
	 * `heldby run` can print its summary from the file's last block
	 * instead of replaying the whole trace. */
	HELDBY_REC_SUMMARY = 17,

	/* Version 4. s delta: allocation prev_free + delta is released, at
	 * prev_time, where prev_free is the allocation the block's last
	 * FREE_SEQ or FREE_NEAR released (0 at the start of a block). A
	 * program frees what it built together together: in order, in
	 * reverse, or with a stride, so the deltas repeat where "back" keeps
	 * growing. The writer uses whichever of the two is smaller. */
	HELDBY_REC_FREE_NEAR = 18,
	/* Version 4. u did, u up, u ip: a stack node as NODE, with its ip
	 * whole. Longer than NODE's delta to the parent's ip, but the same
	 * return address under many parents is the same bytes each time,
	 * which zstd matches: imagemagick's trace 12% smaller, cc1plus's 3%. */
	HELDBY_REC_NODE_IP = 19,
};

/* Which function made an allocation. */
enum heldby_fn {
	HELDBY_FN_MALLOC = 0,
	HELDBY_FN_CALLOC = 1,
	HELDBY_FN_REALLOC = 2,
	HELDBY_FN_REALLOCARRAY = 3,
	HELDBY_FN_POSIX_MEMALIGN = 4,
	HELDBY_FN_ALIGNED_ALLOC = 5,
	HELDBY_FN_MEMALIGN = 6,
	HELDBY_FN_VALLOC = 7,
	HELDBY_FN_PVALLOC = 8,
	HELDBY_FN_NEW = 9,	  /* operator new, any variant */
	HELDBY_FN_NEW_ARRAY = 10, /* operator new[], any variant */
	HELDBY_FN_COUNT_
};

#endif
