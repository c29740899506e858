/* SPDX-License-Identifier: MIT */
/*
 * LEB128 and zigzag varints as the trace format uses them (trace.h). Shared
 * by the shim's encoder and the tools' decoder so both agree by construction.
 */
#ifndef HELDBY_VARINT_H
#define HELDBY_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define HELDBY_VARINT_MAX 10u

/* Writes v at p (room for HELDBY_VARINT_MAX bytes); returns bytes written.
 * Thread-safe, async-signal-safe. */
static inline size_t
heldby_put_u(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline uint64_t
heldby_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
heldby_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline size_t
heldby_put_s(uint8_t *p, int64_t v)
{
	return heldby_put_u(p, heldby_zigzag(v));
}

/* Reads a varint from [*p, end); advances *p. Returns 0, or -1 when the
 * input ends inside the varint or it is longer than 10 bytes. */
static inline int
heldby_get_u(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const uint8_t *q = *p;
	while (q < end && shift < 70) {
		uint8_t b = *q++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*out = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

static inline int
heldby_get_s(const uint8_t **p, const uint8_t *end, int64_t *out)
{
	uint64_t u;
	if (heldby_get_u(p, end, &u) != 0)
		return -1;
	*out = heldby_unzigzag(u);
	return 0;
}

#endif
