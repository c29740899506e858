/* SPDX-License-Identifier: MIT */
/* The 64-bit finaliser of MurmurHash3 (fmix64): spreads a key's bits over
 * the whole word. Shared by the shim's stack table and the tools' hash
 * tables, whose keys (addresses, ids) differ only in a few low bits. */
#ifndef HELDBY_MIX_H
#define HELDBY_MIX_H

#include <stdint.h>

static inline uint64_t
heldby_mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

#endif
