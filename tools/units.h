/* SPDX-License-Identifier: MIT */
/*
 * Human units for sizes and durations: what every view prints, and the
 * size syntax the command line accepts (--max-peak 1.5GiB).
 */
#ifndef HELDBY_TOOLS_UNITS_H
#define HELDBY_TOOLS_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_BUF 32

/* Writes n as "512 B", "12.0 KiB", "3.70 GiB" (three significant digits,
 * binary units) into buf (at least UNITS_BUF bytes); returns buf.
 * Thread-safe; no allocation. */
char *format_size(uint64_t n, char *buf);

/* Parses "1048576", "64KB" (64000), "64KiB" (65536), "10M" (10 MiB),
 * "1.5GiB", "2 GB": digits, optionally a fraction ("1.5", not "1." or
 * ".5"), then optionally one space and a unit. Single letters K, M, G, T,
 * P, E and KiB, MiB… count in 1024s, KB, MB… in 1000s; B is bytes; any
 * case. A fraction needs a unit and is rounded to the byte. Signs,
 * exponents ("1e3"), hex and anything else are -EINVAL; more than
 * UINT64_MAX bytes is -ERANGE. Returns 0 and sets *out; on error *out is
 * left alone. Thread-safe. */
int parse_size(const char *s, uint64_t *out);

/* Writes a duration in ns as "850 ns", "12.3 us", "4.5 ms", "12.4 s",
 * "3m05s", "2h07m" into buf (at least UNITS_BUF bytes); returns buf. */
char *format_duration(uint64_t ns, char *buf);
/* Parses a time with its unit: "12.5s", "1500ms", "2m", "1h", "250us",
 * "40ns" ("min" is "m"). A number without a unit, a sign, an exponent or
 * hex is -EINVAL; past 2^64 ns -ERANGE. Returns 0 with *out in ns. */
int parse_duration(const char *s, uint64_t *out);

/* As format_duration, for a time measured by a clock that moves by step_ns
 * (reader_time_step_ns): below one step it writes "< 1 ms". step_ns 0 or 1:
 * format_duration. */
char *format_duration_step(uint64_t ns, uint64_t step_ns, char *buf);

/* Writes n with thousands separators: 1234567 -> "1,234,567". */
char *format_count(uint64_t n, char *buf);

#endif
