/* SPDX-License-Identifier: MIT */
/*
 * uthash as the tools use it: most tables are keyed by a u64 (a stack,
 * node or module id), and uthash's default Jenkins hash spends its time on
 * those 8 bytes and still leaves long chains for ids that differ only in a
 * few middle bits. A 64-bit finaliser (murmur3's fmix64) is cheaper and
 * spreads them evenly; other keys (the symbol cache's pair, report_text's
 * strings) keep Jenkins. The replay's live set hashes with hb_hash_u64 too.
 * Include this instead of <uthash.h> in tools/: every file that touches a
 * table must hash alike.
 */
#ifndef HELDBY_TOOLS_HASH_H
#define HELDBY_TOOLS_HASH_H

#include <stdint.h>
#include <string.h>

#include "heldby/mix.h"

static inline unsigned
hb_hash_u64(uint64_t k)
{
	return (unsigned)heldby_mix64(k);
}

#define HASH_FUNCTION(keyptr, keylen, hashv)                                   \
	do {                                                                   \
		if ((keylen) == sizeof(uint64_t)) {                            \
			uint64_t hb_k_;                                        \
			memcpy(&hb_k_, (keyptr), sizeof hb_k_);                \
			(hashv) = hb_hash_u64(hb_k_);                          \
		} else {                                                       \
			HASH_JEN(keyptr, keylen, hashv);                       \
		}                                                              \
	} while (0)

#include <uthash.h>

#endif
