/* SPDX-License-Identifier: MIT */
/*
 * The event clock's choice and the writer's calibration (clock.h says why
 * events read the bare TSC).
 */
#include "clock.h"

#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "attrs.h"

int clk_tsc;
_Atomic uint64_t clk_ticker;
HB_TLS uint64_t clk_own_raw;
HB_TLS unsigned clk_own_n;

/* The shortest calibration interval: the two readings of a pair are a few
 * tens of ns apart, so over 200 us the rate is right to about 1e-4, a
 * microsecond on an event a drain (5 ms) old. Later drains only widen the
 * interval. */
#define CLK_MIN_NS 200000u

#if defined(__x86_64__)
/* Whether the kernel times itself with the TSC: it demotes a TSC that is
 * not in step across CPUs, or that stops or drifts. Plain open/read: this
 * runs at start-up under the guard, where stdio would allocate. */
static bool
clocksource_is_tsc(void)
{
	int fd = open("/sys/devices/system/clocksource/clocksource0/"
		      "current_clocksource",
		      O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[16];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strcmp(buf, "tsc\n") == 0 || strcmp(buf, "tsc") == 0;
}
#endif

bool
clk_tsc_usable(void)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
		return false; /* not invariant: it may stop or change rate */
	int mode = PR_TSC_ENABLE;
	if (prctl(PR_GET_TSC, &mode, 0, 0, 0) == 0 && mode != PR_TSC_ENABLE)
		return false; /* rdtsc would fault */
	return clocksource_is_tsc();
#else
	return false;
#endif
}

bool
clk_choose(int setting)
{
	clk_tsc = setting != HB_CLOCK_MONOTONIC && clk_tsc_usable();
	return clk_tsc;
}

/* A (tsc, ns) pair: the ns reading bracketed by two tick readings, the
 * narrowest of a few tries, so that a preemption between them does not
 * skew the rate. */
static struct clk_pair
pair_read(void)
{
	struct clk_pair best = { 0, clk_mono_ns() };
#if defined(__x86_64__)
	uint64_t width = UINT64_MAX;
	for (int i = 0; i < 4; i++) {
		uint64_t t0 = __rdtsc();
		uint64_t ns = clk_mono_ns();
		uint64_t t1 = __rdtsc();
		if (t1 >= t0 && t1 - t0 < width) {
			width = t1 - t0;
			best.tsc = t0 + width / 2;
			best.ns = ns;
		}
	}
#endif
	return best;
}

void
clk_cal_start(struct clk_cal *c)
{
	c->tsc = clk_tsc != 0;
	c->first = c->tsc ? pair_read() : (struct clk_pair){ 0, clk_mono_ns() };
	c->last = c->first;
	c->rate = 0;
}

void
clk_cal_update(struct clk_cal *c)
{
	if (!c->tsc)
		return;
	c->last = pair_read();
	/* The first drain can come right after the start: wait out a usable
	 * interval once rather than convert with a rate from a few ns. */
	for (int i = 0; i < 20 && c->last.ns - c->first.ns < CLK_MIN_NS; i++) {
		struct timespec ts = { 0, (long)(CLK_MIN_NS -
						 (c->last.ns - c->first.ns)) };
		nanosleep(&ts, NULL);
		c->last = pair_read();
	}
	c->rate = clk_rate(c->first, c->last);
}

uint64_t
clk_cal_ns(const struct clk_cal *c, uint64_t raw)
{
	return c->tsc ? clk_apply(c->rate, c->last, raw) : raw;
}

/* At most 2^30 ns a tick, so that a tick difference (below 2^63) times the
 * rate fits a signed 128-bit product. */
#define RATE_MAX (UINT64_C(1) << 62)

uint64_t
clk_rate(struct clk_pair first, struct clk_pair last)
{
	if (last.tsc <= first.tsc || last.ns <= first.ns)
		return 0;
	unsigned __int128 r = ((unsigned __int128)(last.ns - first.ns) << 32) /
			      (last.tsc - first.tsc);
	return r > RATE_MAX ? RATE_MAX : (uint64_t)r;
}

uint64_t
clk_apply(uint64_t rate, struct clk_pair last, uint64_t tsc)
{
	if (!rate)
		return last.ns;
	/* Signed: an event is usually a little older than the latest pair. */
	__int128 off =
		((__int128)(int64_t)(tsc - last.tsc) * (__int128)rate) >> 32;
	const __int128 lim = (__int128)1 << 62; /* ns: 146 years */
	if (off > lim)
		off = lim;
	if (off < -lim)
		off = -lim;
	if (off < 0 && (uint64_t)-off > last.ns)
		return 0;
	return last.ns + (uint64_t)(int64_t)off;
}

uint64_t
clk_convert(struct clk_pair first, struct clk_pair last, uint64_t tsc)
{
	return clk_apply(clk_rate(first, last), last, tsc);
}
