/* SPDX-License-Identifier: MIT */
/*
 * A byte for every 16 bytes (a grain) of the address space below 2^47:
 * where count mode (count.c) keeps a small block's size, at the block's
 * own address, instead of in a hash table; and a byte for every 64 KiB (a
 * chunk), which says what count.c needs to know of the chunk as a whole.
 * The map is a directory of 1 GiB regions whose 64 MiB of grain bytes
 * are mapped on first use and filled in by the kernel page by page, so it
 * costs resident memory only where grain bytes are written: a 4 KiB page
 * for a 64 KiB chunk.
 */
#ifndef HELDBY_SHADOW_H
#define HELDBY_SHADOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "attrs.h"

#define SHADOW_GRAIN_BITS 4 /* glibc's blocks are 16-byte aligned */
#define SHADOW_ADDR_BITS 47 /* user space on x86-64 and aarch64 (4-level) */
#define SHADOW_REGION_BITS 30
#define SHADOW_REGIONS (1u << (SHADOW_ADDR_BITS - SHADOW_REGION_BITS))

/* 64 KiB of address space: one 4 KiB page of grain bytes. */
#define SHADOW_CHUNK_BITS 16
#define SHADOW_CHUNKS (1u << (SHADOW_REGION_BITS - SHADOW_CHUNK_BITS))

extern _Atomic(_Atomic uint8_t *) shadow_dir[SHADOW_REGIONS] HB_HIDDEN;

/* Whether p has a byte: 16-byte aligned and below 2^47. */
static inline bool
shadow_covers(uintptr_t p)
{
	return !(p & ((1u << SHADOW_GRAIN_BITS) - 1)) &&
	       !(p >> SHADOW_ADDR_BITS);
}

/* Maps p's region: a byte for each 64 KiB chunk of it, then a byte for
 * each 16-byte grain. NULL when mmap fails. Thread-safe: two threads that
 * race for one region keep one mapping. */
_Atomic uint8_t *shadow_region_make(uintptr_t p) HB_HIDDEN;

/* p's bytes (shadow_covers(p)): its grain's, and its chunk's. */
struct shadow_spot {
	_Atomic uint8_t *grain, *chunk;
};

/* False when p's region was never mapped and make is false, or mmap
 * failed. */
static inline bool
shadow_find(uintptr_t p, bool make, struct shadow_spot *s)
{
	_Atomic uint8_t *r = atomic_load_explicit(
		&shadow_dir[p >> SHADOW_REGION_BITS], memory_order_acquire);
	if (unlikely(!r)) {
		if (!make || !(r = shadow_region_make(p)))
			return false;
	}
	uint64_t off = p & ((UINT64_C(1) << SHADOW_REGION_BITS) - 1);
	s->chunk = r + (off >> SHADOW_CHUNK_BITS);
	s->grain = r + SHADOW_CHUNKS + (off >> SHADOW_GRAIN_BITS);
	return true;
}

/* Whether regions may be mapped without taking from the program: not
 * under a limit of address space (RLIMIT_AS) or of data (RLIMIT_DATA,
 * which counts private writable mappings), and not where the kernel
 * refuses to overcommit (vm.overcommit_memory = 2, where MAP_NORESERVE
 * is ignored): there each region's 64 MiB would count against what the
 * program may map. Start-up only. */
bool shadow_affordable(void) HB_HIDDEN;

#endif
