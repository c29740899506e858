/* SPDX-License-Identifier: MIT */
/*
 * Sizes and durations for humans. Three significant digits are enough to
 * tell holders apart; the exact bytes are in --json.
 */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *
format_size(uint64_t n, char *buf)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB" };
	if (n < 1024) {
		snprintf(buf, UNITS_BUF, "%llu B", (unsigned long long)n);
		return buf;
	}
	double v = (double)n / 1024.0;
	size_t u = 0;
	/* Switch unit before rounding would print "1024 KiB". */
	while (v >= 999.5 && u + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024.0;
		u++;
	}
	if (v < 9.995)
		snprintf(buf, UNITS_BUF, "%.2f %s", v, unit[u]);
	else if (v < 99.95)
		snprintf(buf, UNITS_BUF, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, UNITS_BUF, "%.0f %s", v, unit[u]);
	return buf;
}

/* The bytes a unit stands for: "" and "B" 1, "K" and "KiB" 1024, "KB"
 * 1000, up to E. Returns 0, or -EINVAL for anything else. */
static int
unit_of(const char *p, uint64_t *mult)
{
	static const char letters[] = "KMGTPE";
	*mult = 1;
	if (!*p || !strcasecmp(p, "b"))
		return 0;
	const char *l = strchr(letters, toupper((unsigned char)*p));
	if (!l || !*l)
		return -EINVAL;
	unsigned pow = (unsigned)(l - letters) + 1;
	const char *rest = p + 1;
	uint64_t base;
	if (!*rest || !strcasecmp(rest, "ib"))
		base = 1024;
	else if (!strcasecmp(rest, "b"))
		base = 1000;
	else
		return -EINVAL;
	for (unsigned i = 0; i < pow; i++)
		*mult *= base;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	const char *p = s;
	uint64_t whole = 0;
	int digits = 0;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
		p++;
		digits++;
	}
	if (!digits)
		return -EINVAL; /* "", "-5", ".5K": a number starts with a digit
				 */
	double frac = 0, scale = 0.1;
	int has_frac = 0;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			frac += (*p - '0') * scale;
			scale /= 10;
			p++;
			has_frac = 1;
		}
		if (!has_frac)
			return -EINVAL; /* "1." or "1.K" */
	}
	/* One space may part the number from its unit ("2 GB"), never end it.
	 */
	if (*p == ' ' && p[1] && p[1] != ' ')
		p++;

	uint64_t mult;
	if (unit_of(p, &mult))
		return -EINVAL;
	if (has_frac && mult == 1)
		return -EINVAL; /* a fraction of a byte */
	if (whole > UINT64_MAX / mult)
		return -ERANGE;
	uint64_t v = whole * mult;
	/* frac < 1, so this is at most mult: exact enough, and fits. */
	uint64_t f = (uint64_t)round(frac * (double)mult);
	if (f > UINT64_MAX - v)
		return -ERANGE;
	*out = v + f;
	return 0;
}

/* The ns of a time unit, or 0 when u is none. */
static uint64_t
time_unit_ns(const char *u)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000 },
		{ "m", 60000000000 },
		{ "min", 60000000000 },
		{ "h", 3600000000000 },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(u, units[i].name))
			return units[i].ns;
	return 0;
}

int
parse_duration(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || end[-1] == '.' || strpbrk(s, "eExXpP"))
		return -EINVAL; /* "1.", exponents and hex are not times */
	uint64_t unit = time_unit_ns(end);
	if (!unit)
		return -EINVAL; /* a bare number: seconds or ms? say which */
	double ns = v * (double)unit;
	if (ns >= 18446744073709551615.0)
		return -ERANGE;
	*out = (uint64_t)(ns + 0.5);
	return 0;
}

char *
format_duration(uint64_t ns, char *buf)
{
	if (ns < 1000)
		snprintf(buf, UNITS_BUF, "%llu ns", (unsigned long long)ns);
	else if (ns < 999950)
		snprintf(buf, UNITS_BUF, "%.1f us", ns / 1e3);
	else if (ns < 999950000ull)
		snprintf(buf, UNITS_BUF, "%.1f ms", ns / 1e6);
	else if (ns < 9995000000ull)
		snprintf(buf, UNITS_BUF, "%.2f s", ns / 1e9);
	else if (ns < 59950000000ull)
		snprintf(buf, UNITS_BUF, "%.1f s", ns / 1e9);
	else if (ns < 3600000000000ull) {
		uint64_t s = (ns + 500000000ull) / 1000000000ull;
		snprintf(buf, UNITS_BUF, "%llum%02llus",
			 (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	} else {
		uint64_t m = (ns + 30000000000ull) / 60000000000ull;
		snprintf(buf, UNITS_BUF, "%lluh%02llum",
			 (unsigned long long)(m / 60),
			 (unsigned long long)(m % 60));
	}
	return buf;
}

char *
format_duration_step(uint64_t ns, uint64_t step_ns, char *buf)
{
	if (step_ns <= 1 || ns >= step_ns)
		return format_duration(ns, buf);
	/* "0 ns" where the clock moves by 1 ms would claim a precision the
	 * trace does not have. */
	if (step_ns % 1000000u == 0)
		snprintf(buf, UNITS_BUF, "< %llu ms",
			 (unsigned long long)(step_ns / 1000000u));
	else {
		char step[UNITS_BUF];
		snprintf(buf, UNITS_BUF, "< %s",
			 format_duration(step_ns, step));
	}
	return buf;
}

char *
format_count(uint64_t n, char *buf)
{
	char tmp[UNITS_BUF];
	int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n);
	int o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}
