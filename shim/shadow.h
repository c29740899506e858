/* SPDX-License-Identifier: MIT */
/*
 * A byte for every 16 bytes of the address space below 2^47: where count
 * mode (count.c) keeps a small block's size, at the block's own address,
 * instead of in a hash table. The map is a directory of 1 GiB regions
 * whose 64 MiB of bytes are mapped on first use and filled in by the
 * kernel page by page, so it costs resident memory only where blocks
 * start: one 4 KiB page for each 64 KiB of heap that holds one.
 */
#ifndef HELDBY_SHADOW_H
#define HELDBY_SHADOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "real.h"

#define SHADOW_GRAIN_BITS 4  /* glibc's blocks are 16-byte aligned */
#define SHADOW_ADDR_BITS 47  /* user space on x86-64 and aarch64 (4-level) */
#define SHADOW_REGION_BITS 30
#define SHADOW_REGIONS (1u << (SHADOW_ADDR_BITS - SHADOW_REGION_BITS))

extern _Atomic(_Atomic uint8_t *) shadow_dir[SHADOW_REGIONS] HB_HIDDEN;

/* Whether p has a byte: 16-byte aligned and below 2^47. */
static inline bool
shadow_covers(uintptr_t p)
{
	return !(p & ((1u << SHADOW_GRAIN_BITS) - 1)) &&
	       !(p >> SHADOW_ADDR_BITS);
}

/* Whether regions may be mapped without taking from the program: not
 * under a limit of address space (RLIMIT_AS) or of data (RLIMIT_DATA,
 * which counts private writable mappings), and not where the kernel
 * refuses to overcommit (vm.overcommit_memory = 2, where MAP_NORESERVE
 * is ignored): there each region's 64 MiB would count against what the
 * program may map. Start-up only. */
bool shadow_affordable(void) HB_HIDDEN;

/* Maps p's region; NULL when mmap fails. Thread-safe: two threads that
 * race for one region keep one mapping. */
_Atomic uint8_t *shadow_region_make(uintptr_t p) HB_HIDDEN;

/* p's byte (shadow_covers(p)), or NULL when its region was never mapped
 * (no block there ever had a byte) and make is false, or mmap failed. */
static inline _Atomic uint8_t *
shadow_byte(uintptr_t p, bool make)
{
	_Atomic uint8_t *r = atomic_load_explicit(
		&shadow_dir[p >> SHADOW_REGION_BITS], memory_order_acquire);
	if (unlikely(!r)) {
		if (!make || !(r = shadow_region_make(p)))
			return NULL;
	}
	return r + ((p & ((UINT64_C(1) << SHADOW_REGION_BITS) - 1)) >>
		    SHADOW_GRAIN_BITS);
}

#endif
