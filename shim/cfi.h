/* SPDX-License-Identifier: MIT */
/*
 * Unwind rules of x86-64 code, read from the modules' .eh_frame with
 * elfutils libdw, reduced to the few shapes the fast unwinder (unwind.c)
 * can apply without interpreting DWARF: the caller's frame is found from
 * rsp or rbp plus a constant, the return address sits just below it, and
 * rbp is either untouched or saved at a constant offset. Anything else
 * (signal frames, DWARF expressions, realigned stacks) is CFI_COMPLEX and
 * left to libunwind.
 */
#ifndef HELDBY_CFI_H
#define HELDBY_CFI_H

#include <stdbool.h>
#include <stdint.h>

#include "attrs.h"

enum cfi_kind {
	CFI_MISSING = 0, /* could not be looked up now: use libunwind */
	CFI_SIMPLE,	 /* apply the fields below */
	CFI_OUTERMOST,	 /* the return address is undefined: stack ends */
	CFI_COMPLEX,	 /* not a shape unwind.c applies: use libunwind */
};

struct cfi_rule {
	uint8_t kind;
	uint8_t cfa_rbp;   /* CFA = (cfa_rbp ? rbp : rsp) + cfa_off */
	uint8_t rbp_saved; /* caller's rbp at CFA + rbp_off, else unchanged */
	int32_t cfa_off;
	int32_t rbp_off;
};

/* The rule for code address pc (for a return address, pass it minus 1:
 * the call, not what follows it). Serialised internally; returns
 * CFI_MISSING rather than wait when another thread is looking one up, and
 * after a fork that happened during a lookup. Call with the reentrancy
 * guard held: libdw allocates. */
struct cfi_rule cfi_lookup(uint64_t pc) HB_HIDDEN;

/* After dlclose: forget the modules, whose addresses may be reused. */
void cfi_forget(void) HB_HIDDEN;

#endif
