/* SPDX-License-Identifier: MIT */
/*
 * Allocation numbers in 32 bits, for the counters' table (count.h), which
 * keeps one per live block while recording: 4 bytes a slot where the
 * number itself took 8 (python-json has 2.2M live blocks, in 4M slots).
 *
 * A tag is the number modulo 2^32 - 1, plus one (0 is "none"). It names
 * the newest number below `next` with that residue, which is the block's
 * own while the block is younger than 2^32 - 1 allocations. Every
 * SEQTAG_SPAN allocations the writer takes the tags of blocks older than
 * SEQTAG_SPAN (and writes their address instead), so a tag is at most
 * 2 * SEQTAG_SPAN - 2 = 2^32 - 2 numbers older than the newest. Pure
 * functions; any thread.
 */
#ifndef HELDBY_SEQTAG_H
#define HELDBY_SEQTAG_H

#include <stdint.h>

#define SEQTAG_MOD UINT64_C(0xffffffff)
/* A test build sets a short span (tests/integration/meson.build), so that
 * the pass runs within a test. */
#ifndef SEQTAG_SPAN
#define SEQTAG_SPAN (UINT64_C(1) << 31)
#endif
_Static_assert(2 * SEQTAG_SPAN - 2 < SEQTAG_MOD, "a tag must not wrap");

/* seq >= 1. */
static inline uint32_t
seqtag_of(uint64_t seq)
{
	return (uint32_t)(seq % SEQTAG_MOD) + 1;
}

/* The number tag (non-zero) stands for, when every number below next was
 * handed out and the block is younger than SEQTAG_MOD allocations. */
static inline uint64_t
seqtag_seq(uint32_t tag, uint64_t next)
{
	uint64_t top = next - 1, r = (uint64_t)tag - 1;
	return top - (top % SEQTAG_MOD + SEQTAG_MOD - r) % SEQTAG_MOD;
}

#endif
