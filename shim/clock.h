/* SPDX-License-Identifier: MIT */
/*
 * The event clock. Every recorded event needs a time, so it is the cheapest
 * clock that is good enough: on x86-64 with a usable TSC a bare rdtsc
 * (about 10 ns here, against 23 ns for clock_gettime's vDSO, which was a
 * fifth of a program thread's time under the shim). No fence: events are
 * ordered by their key (hb_order, writer.c), never by their time, and the
 * time only has to be right to a few microseconds (the trace keeps it to
 * the millisecond), so an rdtsc that runs a few instructions early or late
 * changes nothing. Elsewhere, or when the TSC cannot be trusted, the event
 * clock is CLOCK_MONOTONIC in ns, as before.
 *
 * The writer turns raw readings into CLOCK_MONOTONIC ns with a calibration:
 * a (tsc, ns) pair taken when the trace starts and a fresh one at each
 * drain. Writer thread only; not signal-safe.
 */
#ifndef HELDBY_CLOCK_H
#define HELDBY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <stdatomic.h>

#include "attrs.h"

/* HELDBY_CLOCK */
enum { HB_CLOCK_AUTO = 0, HB_CLOCK_TSC = 1, HB_CLOCK_MONOTONIC = 2 };

/* Non-zero: event times are TSC ticks. Set once at start-up. */
extern int clk_tsc HB_HIDDEN;

/* Whether the TSC can time events: x86-64, invariant (CPUID 0x80000007
 * EDX bit 8), the kernel's clocksource (it demotes a TSC that is not in
 * step across CPUs), and rdtsc allowed to this process. Reads sysfs with
 * plain open/read. */
bool clk_tsc_usable(void) HB_HIDDEN;
/* Chooses the event clock for a HELDBY_CLOCK setting once, at start-up,
 * before any event; auto and tsc take the TSC when it is usable. Returns
 * whether it did. */
bool clk_choose(int setting) HB_HIDDEN;

static inline uint64_t
clk_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* While events flow, the writer ticks: it keeps its latest TSC reading in
 * clk_ticker, at least every CLK_TICK_NS, and an event takes that instead
 * of an rdtsc of its own, which was a tenth of what the shim cost
 * sqlite3's thread. 0: not ticking (the writer sleeps, compresses, is
 * gone, or this is a fork child), and every event reads the TSC. Every
 * CLK_OWN_EVERY-th event of a thread reads it anyway, and a thread never
 * takes a time older than its own last reading: a writer preempted while
 * ticking leaves a busy thread's times off by at most that many of its
 * events. */
#define CLK_TICK_NS 500000L
#define CLK_OWN_EVERY 64
extern _Atomic uint64_t clk_ticker HB_HIDDEN;
extern HB_TLS uint64_t clk_own_raw HB_HIDDEN;
extern HB_TLS unsigned clk_own_n HB_HIDDEN;

/* The raw time of an event (struct ev's time). */
static inline uint64_t
clk_event_raw(void)
{
#if defined(__x86_64__)
	if (likely(clk_tsc)) {
		uint64_t g =
			atomic_load_explicit(&clk_ticker, memory_order_relaxed);
		if (g && ++clk_own_n % CLK_OWN_EVERY)
			return g > clk_own_raw ? g : clk_own_raw;
		return clk_own_raw = __rdtsc();
	}
#endif
	return clk_mono_ns();
}

/* A reading of the event clock itself, never the writer's tick: for
 * marks, whose time the program asked for. */
static inline uint64_t
clk_event_raw_exact(void)
{
#if defined(__x86_64__)
	if (likely(clk_tsc))
		return clk_own_raw = __rdtsc();
#endif
	return clk_mono_ns();
}

/* The writer: clk_ticker takes a fresh reading (when events are TSC
 * ticks), or 0. */
static inline void
clk_tick(void)
{
#if defined(__x86_64__)
	if (clk_tsc)
		atomic_store_explicit(&clk_ticker, __rdtsc(),
				      memory_order_relaxed);
#endif
}

static inline void
clk_untick(void)
{
	atomic_store_explicit(&clk_ticker, 0, memory_order_relaxed);
}

struct clk_pair {
	uint64_t tsc, ns; /* read together; ns is CLOCK_MONOTONIC */
};

struct clk_cal {
	bool tsc; /* raw times are ticks (else ns: nothing to convert) */
	struct clk_pair first, last;
	uint64_t rate; /* ns per tick between them, clk_rate's form */
};

/* A new trace: the first pair (and the clock choice, which a fork child
 * inherits). */
void clk_cal_start(struct clk_cal *c) HB_HIDDEN;
/* A fresh latest pair; before each drain. */
void clk_cal_update(struct clk_cal *c) HB_HIDDEN;
/* CLOCK_MONOTONIC ns of a raw event time. */
uint64_t clk_cal_ns(const struct clk_cal *c, uint64_t raw) HB_HIDDEN;

/* The conversion itself: ns of tick count tsc at the rate between the two
 * pairs, anchored at `last` (tsc may lie on either side of it). Without a
 * usable interval (last not after first on both clocks) every time is
 * last.ns. Never below 0. */
uint64_t clk_convert(struct clk_pair first, struct clk_pair last,
		     uint64_t tsc) HB_HIDDEN;
/* Its two halves: the rate between the pairs, ns per tick in 32.32 fixed
 * point (0: no usable interval), once per calibration; and its use, per
 * event, with integer arithmetic only (a floating-point division per event
 * was 5% of the writer's time on python-json). */
uint64_t clk_rate(struct clk_pair first, struct clk_pair last) HB_HIDDEN;
uint64_t clk_apply(uint64_t rate, struct clk_pair last, uint64_t tsc) HB_HIDDEN;

#endif
