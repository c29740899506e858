/* SPDX-License-Identifier: MIT */
/*
 * The writer's tick-to-ns conversion (shim/clock.c): the rate between the
 * first and the latest calibration pair, anchored at the latest, signed on
 * either side of it, never a division by zero or a negative or wrapped
 * result; and, where the TSC is usable, a real calibration agrees with
 * CLOCK_MONOTONIC.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

static struct clk_pair
pair(uint64_t tsc, uint64_t ns)
{
	return (struct clk_pair){ tsc, ns };
}

Test(clock, rate_between_pairs_anchored_at_the_latest)
{
	struct clk_pair f = pair(1000, 5000), l = pair(3000, 6000); /* 0.5 ns */
	cr_expect_eq(clk_convert(f, l, 3000), 6000);
	cr_expect_eq(clk_convert(f, l, 2000), 5500, "older than the latest");
	cr_expect_eq(clk_convert(f, l, 3400), 6200, "newer than the latest");
	cr_expect_eq(clk_convert(f, l, 1000), 5000);
}

Test(clock, an_hour_at_3ghz_stays_exact_to_a_ns)
{
	uint64_t t0 = 10000000000u, n0 = 1000000000000u;
	struct clk_pair f = pair(t0, n0);
	struct clk_pair l = pair(t0 + UINT64_C(3000000000) * 3600,
				 n0 + UINT64_C(3600000000000));
	/* an event 5 ms before the latest pair */
	uint64_t got = clk_convert(f, l, l.tsc - 15000000u);
	uint64_t want = l.ns - 5000000u;
	cr_expect(got + 1 >= want && got <= want + 1, "%llu, want %llu",
		  (unsigned long long)got, (unsigned long long)want);
}

Test(clock, no_interval_gives_the_latest_time)
{
	struct clk_pair p = pair(5000, 7000);
	cr_expect_eq(clk_convert(p, p, 9999), 7000, "same pair");
	cr_expect_eq(clk_convert(pair(6000, 6000), p, 1), 7000,
		     "ticks went back");
	cr_expect_eq(clk_convert(pair(4000, 7000), p, 1), 7000,
		     "ns stood still");
}

Test(clock, never_below_zero_nor_wrapped)
{
	struct clk_pair f = pair(100, 0), l = pair(200, 100); /* 1 ns/tick */
	cr_expect_eq(clk_convert(f, l, 150), 50);
	cr_expect_eq(clk_convert(f, l, 50), 0, "before 0 ns: clamped");
	cr_expect_eq(clk_convert(pair(1000, 0), pair(2000, 100), 0), 0,
		     "exactly at 0 ns");
	/* half the tick range away: as far back as it goes, clamped */
	cr_expect_eq(clk_convert(f, l, 200 + (UINT64_C(1) << 63)), 0);
	/* far ahead: large, but not wrapped past zero */
	uint64_t far = clk_convert(f, l, 200 + (UINT64_C(1) << 62));
	cr_expect(far > (UINT64_C(1) << 61), "%llu", (unsigned long long)far);
}

Test(clock, monotonic_times_pass_through)
{
	cr_expect_not(clk_choose(HB_CLOCK_MONOTONIC));
	struct clk_cal c;
	clk_cal_start(&c);
	clk_cal_update(&c);
	cr_expect_eq(clk_cal_ns(&c, 123456789), 123456789);
	uint64_t before = clk_mono_ns(), raw = clk_event_raw();
	cr_expect(raw >= before && raw <= clk_mono_ns(), "ns, read now");
}

Test(clock, tsc_calibration_agrees_with_clock_monotonic)
{
	if (!clk_choose(HB_CLOCK_TSC))
		cr_skip_test("no usable TSC here");
	struct clk_cal c;
	clk_cal_start(&c);
	uint64_t ns0 = clk_mono_ns();
	uint64_t raw = clk_event_raw();
	uint64_t ns1 = clk_mono_ns();
	struct timespec ts = { 0, 2000000 };
	nanosleep(&ts, NULL);
	clk_cal_update(&c);
	cr_assert(c.last.ns - c.first.ns >= 2000000, "a real interval");
	uint64_t got = clk_cal_ns(&c, raw);
	/* the rate's error over 2 ms is far below this */
	cr_expect(got + 50000 >= ns0 && got <= ns1 + 50000,
		  "%llu not in [%llu, %llu]", (unsigned long long)got,
		  (unsigned long long)ns0, (unsigned long long)ns1);
	clk_choose(HB_CLOCK_MONOTONIC);
}

Test(clock, first_update_waits_out_a_tiny_interval)
{
	if (!clk_choose(HB_CLOCK_TSC))
		cr_skip_test("no usable TSC here");
	struct clk_cal c;
	clk_cal_start(&c);
	clk_cal_update(&c); /* at once */
	cr_expect(c.last.ns - c.first.ns >= 200000 && c.last.tsc > c.first.tsc,
		  "interval %llu ns",
		  (unsigned long long)(c.last.ns - c.first.ns));
	clk_choose(HB_CLOCK_MONOTONIC);
}
