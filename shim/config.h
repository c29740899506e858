/* SPDX-License-Identifier: MIT */
/*
 * The shim's configuration: the HELDBY_* settings as lifecycle.c read them
 * at start-up (their list is there), their defaults, and the fixed sizes
 * that bound what is recorded.
 */
#ifndef HELDBY_CONFIG_H
#define HELDBY_CONFIG_H

#include "attrs.h"

/* HELDBY_DEPTH: frames kept per stack, 1..HB_DEPTH_MAX. */
#define HB_DEPTH_DEFAULT 64
#define HB_DEPTH_MAX 256
/* HELDBY_FLUSH_MS */
#define HB_FLUSH_MS_DEFAULT 200
/* a ring's first size: what a thread that never outruns the writer keeps
 * (docs/architecture.md, "Ring sizes") */
#define HB_RING_SIZE (16u << 10)
/* a ring doubles while full, up to this (ring.h) */
#define HB_RING_MAX (8u << 20)

/* HELDBY_MODE. record: counters and trace; count: counters only (no
 * stacks, no trace, no writer thread); off: everything passes through. */
enum hb_mode { HB_MODE_RECORD = 0, HB_MODE_OFF = 1, HB_MODE_COUNT = 2 };

/* HELDBY_UNWIND: the fast unwinder with libunwind where it gives up,
 * libunwind alone, or both on every stack, compared (a diagnostic). */
enum hb_unwind {
	HB_UNWIND_FAST = 0,
	HB_UNWIND_LIBUNWIND = 1,
	HB_UNWIND_CHECK = 2
};

struct hb_config {
	char output[4096]; /* pattern, %p not yet expanded */
	int mode;	   /* enum hb_mode */
	int depth;
	int flush_ms;
	int follow;
	int unwind; /* enum hb_unwind */
	int clock;  /* HB_CLOCK_* (clock.h) */
};
/* Written once by hb_init (lifecycle.c) before the first event, read-only
 * after: any thread reads it without a lock. */
extern struct hb_config hb_cfg HB_HIDDEN;

#endif
