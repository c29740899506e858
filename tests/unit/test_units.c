/* SPDX-License-Identifier: MIT */
/* Human units: what every view prints and what the command line accepts. */
#include <criterion/criterion.h>
#include <errno.h>

#include "units.h"

Test(units, format_size)
{
	char b[UNITS_BUF];
	cr_expect_str_eq(format_size(0, b), "0 B");
	cr_expect_str_eq(format_size(512, b), "512 B");
	cr_expect_str_eq(format_size(1023, b), "1023 B");
	cr_expect_str_eq(format_size(1024, b), "1.00 KiB");
	cr_expect_str_eq(format_size(12 * 1024, b), "12.0 KiB");
	cr_expect_str_eq(format_size(512 * 1024, b), "512 KiB");
	cr_expect_str_eq(format_size(1023 * 1024 + 1000, b), "1.00 MiB");
	cr_expect_str_eq(format_size(3973069619ull, b), "3.70 GiB");
	cr_expect_str_eq(format_size(11059200, b), "10.5 MiB");
	cr_expect_str_eq(format_size(UINT64_MAX, b), "16.0 EiB");
}

Test(units, parse_size)
{
	uint64_t v;
	cr_expect_eq(parse_size("1048576", &v), 0);
	cr_expect_eq(v, 1048576);
	cr_expect_eq(parse_size("64KB", &v), 0);
	cr_expect_eq(v, 64000);
	cr_expect_eq(parse_size("64KiB", &v), 0);
	cr_expect_eq(v, 65536);
	cr_expect_eq(parse_size("64k", &v), 0);
	cr_expect_eq(v, 65536);
	cr_expect_eq(parse_size("10M", &v), 0);
	cr_expect_eq(v, 10u << 20);
	cr_expect_eq(parse_size("1.5GiB", &v), 0);
	cr_expect_eq(v, 3ull << 29);
	cr_expect_eq(parse_size("2 GB", &v), 0);
	cr_expect_eq(v, 2000000000ull);
	cr_expect_eq(parse_size("0", &v), 0);
	cr_expect_eq(v, 0);
	cr_expect_eq(parse_size("100B", &v), 0);
	cr_expect_eq(v, 100);
}

Test(units, parse_size_units_the_command_line_documents)
{
	uint64_t v;
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "50MiB", 50ull << 20 },
		{ "200mib", 200ull << 20 },
		{ "10m", 10ull << 20 },
		{ "64K", 65536 },
		{ "64kb", 64000 },
		{ "1MB", 1000000 },
		{ "1GB", 1000000000ull },
		{ "1G", 1ull << 30 },
		{ "1T", 1ull << 40 },
		{ "1TB", 1000000000000ull },
		{ "2PiB", 2ull << 50 },
		{ "15EiB", 15ull << 60 },
		{ "0.5KiB", 512 },
		{ "1.25K", 1280 },
		{ "0.001KB", 1 },
		{ "0B", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "15.5EiB", 31ull << 59 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 7;
		cr_expect_eq(parse_size(good[i].s, &v), 0, "rejected \"%s\"",
			     good[i].s);
		cr_expect_eq(v, good[i].v, "\"%s\" read as %llu", good[i].s,
			     (unsigned long long)v);
	}
}

Test(units, parse_size_rejects_what_the_command_line_should)
{
	uint64_t v = 7;
	static const char *const bad[] = {
		"10XB",	  "-5",	  "+5",	    "1e3",  "1E3",   "",
		"1.",	  "1.K",  ".5K",    "10 ",  "10  M", "10M ",
		"10KiBB", "10iB", "10 B B", "5 5",  "1,000", "inf",
		"nan",	  "1.5B", "0x1p3",  "10\n", "M10",   "1KIB2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(parse_size(bad[i], &v), -EINVAL, "accepted \"%s\"",
			     bad[i]);
	static const char *const huge[] = {
		"18446744073709551616",
		"16EiB",
		"16E",
		"18446744073709551615.5K",
		"20000PB",
		"15.999999999999999999EiB",
	};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
		cr_expect_eq(parse_size(huge[i], &v), -ERANGE,
			     "\"%s\" not out of range", huge[i]);
	cr_expect_eq(v, 7, "an error leaves the output alone");
}

Test(units, parse_size_rejects_bad_strings)
{
	uint64_t v = 7;
	static const char *const bad[] = {
		"",	   " ", "abc", "-1",  "1.5",   "10X",  "10MX",
		"10 MiBs", "K", ".",   "1e6", "1..5M", "0x10", "10Mi",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_neq(parse_size(bad[i], &v), 0, "accepted \"%s\"",
			      bad[i]);
	cr_expect_eq(parse_size("99999999999999999999", &v), -ERANGE);
	cr_expect_eq(parse_size("20000000000000000EiB", &v), -ERANGE);
	cr_expect_eq(v, 7, "an error leaves the output alone");
}

Test(units, format_duration)
{
	char b[UNITS_BUF];
	cr_expect_str_eq(format_duration(850, b), "850 ns");
	cr_expect_str_eq(format_duration(12300, b), "12.3 us");
	cr_expect_str_eq(format_duration(4500000, b), "4.5 ms");
	cr_expect_str_eq(format_duration(1234000000ull, b), "1.23 s");
	cr_expect_str_eq(format_duration(12400000000ull, b), "12.4 s");
	cr_expect_str_eq(format_duration(185000000000ull, b), "3m05s");
	cr_expect_str_eq(format_duration(7620000000000ull, b), "2h07m");
}

Test(units, format_duration_step_says_below_one_step)
{
	char b[UNITS_BUF];
	cr_expect_str_eq(format_duration_step(0, 1000000, b), "< 1 ms");
	cr_expect_str_eq(format_duration_step(999999, 1000000, b), "< 1 ms");
	cr_expect_str_eq(format_duration_step(1000000, 1000000, b), "1.0 ms");
	cr_expect_str_eq(format_duration_step(0, 1, b), "0 ns");
	cr_expect_str_eq(format_duration_step(0, 0, b), "0 ns");
	cr_expect_str_eq(format_duration_step(10, 500, b), "< 500 ns");
}

Test(units, format_count)
{
	char b[UNITS_BUF];
	cr_expect_str_eq(format_count(0, b), "0");
	cr_expect_str_eq(format_count(999, b), "999");
	cr_expect_str_eq(format_count(1000, b), "1,000");
	cr_expect_str_eq(format_count(1234567, b), "1,234,567");
}

Test(units, parse_duration)
{
	uint64_t v;
	cr_assert_eq(parse_duration("12.5s", &v), 0);
	cr_assert_eq(v, 12500000000ull);
	cr_assert_eq(parse_duration("1500ms", &v), 0);
	cr_assert_eq(v, 1500000000ull);
	cr_assert_eq(parse_duration("2m", &v), 0);
	cr_assert_eq(v, 120000000000ull);
	cr_assert_eq(parse_duration("1h", &v), 0);
	cr_assert_eq(v, 3600000000000ull);
	cr_assert_eq(parse_duration("250us", &v), 0);
	cr_assert_eq(v, 250000ull);
	cr_assert_eq(parse_duration("0s", &v), 0);
	cr_assert_eq(v, 0);
}

Test(units, parse_duration_wants_a_unit_and_a_plain_number)
{
	uint64_t v;
	const char *bad[] = { "12",   "",      "s",	"-1s",	"+1s", "1.s",
			      "1e3s", "0x10s", "1.5 s", "1sec", "inf", "1ss" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_neq(parse_duration(bad[i], &v), 0, "%s", bad[i]);
	cr_assert_eq(parse_duration("99999999999h", &v), -ERANGE);
}
