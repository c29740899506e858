/* SPDX-License-Identifier: MIT */
/*
 * Record encoder: varints and per-block deltas exactly as trace.h defines
 * them. Each function checks the worst-case size first so a record is either
 * written whole or not at all.
 */
#include "encode.h"

#include <stdbool.h>
#include <string.h>

#include "heldby/trace.h"
#include "heldby/varint.h"
#include "hb_assert.h"

void
enc_init(struct enc *e, uint8_t *buf, size_t cap)
{
	e->buf = buf;
	e->cap = cap;
	e->time_res = ENC_TIME_RES_NS;
	e->next_seq = 1;
	e->tcap = 0;
	enc_clear(e);
}

void
enc_clear(struct enc *e)
{
	e->len = 0;
	e->prev_time = 0;
	e->prev_ptr = 0;
	e->has_time = 0;
	e->has_seq = 0;
	e->prev_node = 0;
	e->prev_free = 0;
	e->tlen = 0;
	e->tlast = 0;
}

void
enc_time_table(struct enc *e, size_t bytes)
{
	e->tcap = bytes < e->cap / 2 ? bytes : e->cap / 2;
	e->tlen = 0;
	e->tlast = 0;
}

size_t
enc_finish(struct enc *e)
{
	if (!e->tcap)
		return e->len;
	/* records, the table and its length never overlap */
	hb_assert(e->len + e->tlen + 4 <= e->cap);
	uint8_t *p = e->buf + e->len;
	memmove(p, e->buf + e->cap - e->tcap, e->tlen);
	p += e->tlen;
	uint32_t n = (uint32_t)e->tlen;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(n >> (8 * i));
	return e->len + e->tlen + 4;
}

/* The time table keeps 4 bytes for its length (enc_finish). */
static int
room(const struct enc *e, size_t n)
{
	hb_assert(e->len + e->tcap <= e->cap); /* no record over the table */
	return e->cap - e->tcap - e->len >= n;
}

static size_t
ulen(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
slen(int64_t v)
{
	return ulen(heldby_zigzag(v));
}

static uint64_t
clamp_time(const struct enc *e, uint64_t t)
{
	return t < e->prev_time ? 0 : t - e->prev_time;
}

static uint8_t *
cur(struct enc *e)
{
	return e->buf + e->len;
}

static uint64_t
dtime(struct enc *e, uint64_t t)
{
	if (t < e->prev_time)
		t = e->prev_time;
	uint64_t dt = t - e->prev_time;
	e->prev_time = t;
	e->has_time = 1;
	return dt;
}

static int64_t
dptr(struct enc *e, uint64_t p)
{
	int64_t d = (int64_t)(p - e->prev_ptr);
	e->prev_ptr = p;
	return d;
}

static size_t
put_str(uint8_t *p, const void *s, size_t n)
{
	size_t k = heldby_put_u(p, n);
	memcpy(p + k, s, n);
	return k + n;
}

int
enc_module(struct enc *e, uint64_t id, uint64_t bias, size_t nranges,
	   const uint64_t *starts, const uint64_t *lens, const char *path,
	   const uint8_t *build_id, size_t build_id_len)
{
	size_t plen = path ? strlen(path) : 0;
	size_t need = 1 + ulen(id) + ulen(bias) + ulen(nranges) + ulen(plen) +
		      plen + ulen(build_id_len) + build_id_len;
	for (size_t i = 0; i < nranges; i++)
		need += ulen(starts[i]) + ulen(lens[i]);
	if (!room(e, need))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_MODULE;
	q += heldby_put_u(q, id);
	q += heldby_put_u(q, bias);
	q += heldby_put_u(q, nranges);
	for (size_t i = 0; i < nranges; i++) {
		q += heldby_put_u(q, starts[i]);
		q += heldby_put_u(q, lens[i]);
	}
	q += put_str(q, path ? path : "", plen);
	q += put_str(q, build_id ? (const void *)build_id : "", build_id_len);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_module_unload(struct enc *e, uint64_t id)
{
	if (!room(e, 1 + ulen(id)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_MODULE_UNLOAD;
	q += heldby_put_u(q, id);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_stack(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip)
{
	if (!room(e, 1 + ulen(id) + ulen(parent) + ulen(ip)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_STACK;
	q += heldby_put_u(q, id);
	q += heldby_put_u(q, parent);
	q += heldby_put_u(q, ip);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_node(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip,
	 uint64_t parent_ip)
{
	uint64_t did = id - e->prev_node, up = id - parent;
	int64_t dip = (int64_t)(parent ? ip - parent_ip : ip);
	if (!room(e, 1 + ulen(did) + ulen(up) + slen(dip)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_NODE;
	q += heldby_put_u(q, did);
	q += heldby_put_u(q, up);
	q += heldby_put_s(q, dip);
	e->len += (size_t)(q - p);
	e->prev_node = id;
	return 0;
}

int
enc_node_ip(struct enc *e, uint64_t id, uint64_t parent, uint64_t ip)
{
	uint64_t did = id - e->prev_node, up = id - parent;
	if (!room(e, 1 + ulen(did) + ulen(up) + ulen(ip)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_NODE_IP;
	q += heldby_put_u(q, did);
	q += heldby_put_u(q, up);
	q += heldby_put_u(q, ip);
	e->len += (size_t)(q - p);
	e->prev_node = id;
	return 0;
}

int
enc_alloc(struct enc *e, uint64_t time_ns, uint64_t size, uint64_t ptr,
	  uint64_t stack, unsigned fn)
{
	if (!room(e, 1 + ulen(clamp_time(e, time_ns)) + ulen(size) +
			     slen((int64_t)(ptr - e->prev_ptr)) + ulen(stack) +
			     ulen(fn)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_ALLOC;
	q += heldby_put_u(q, dtime(e, time_ns));
	q += heldby_put_u(q, size);
	q += heldby_put_s(q, dptr(e, ptr));
	q += heldby_put_u(q, stack);
	q += heldby_put_u(q, fn);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_free(struct enc *e, uint64_t time_ns, uint64_t ptr)
{
	if (!room(e, 1 + ulen(clamp_time(e, time_ns)) +
			     slen((int64_t)(ptr - e->prev_ptr))))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_FREE;
	q += heldby_put_u(q, dtime(e, time_ns));
	q += heldby_put_s(q, dptr(e, ptr));
	e->len += (size_t)(q - p);
	return 0;
}

/* ---- version 2 events ---- */

static int
time_due(const struct enc *e, uint64_t t)
{
	return !e->has_time ||
	       (t > e->prev_time && t - e->prev_time >= e->time_res);
}

/* A time table entry takes at most two 10-byte varints. */
#define TABLE_ENTRY_MAX 20u

/* Bytes of the TIME and SEQ records an event at t needs first (with a
 * time table: none for the time, or more than fit when the table is
 * full). */
static size_t
prefix_len(const struct enc *e, uint64_t t, int numbered)
{
	size_t n = 0;
	bool due = t != UINT64_MAX && time_due(e, t);
	if (due && e->tcap)
		n += e->tcap - e->tlen >= TABLE_ENTRY_MAX + 4 ? 0 : e->cap;
	else if (due)
		n += 1 + ulen(clamp_time(e, t));
	if (numbered && !e->has_seq)
		n += 1 + ulen(e->next_seq);
	return n;
}

/* The most prefix_len gives while it fits: a TIME and a SEQ record. */
#define PREFIX_MAX (2 * (1 + HELDBY_VARINT_MAX))

/* Room for any prefix and n more bytes. Nearly always true, and cheaper
 * than the exact count (prefix_len, ulen), which callers work out only
 * when this fails: 60 of the writer's 640 instructions an event on churn
 * went to those counts. */
static int
room_for_any_prefix(const struct enc *e, size_t n)
{
	return room(e, PREFIX_MAX + n) &&
	       (!e->tcap || e->tcap - e->tlen >= TABLE_ENTRY_MAX + 4);
}

/* A time table entry for the record about to be written at q: the time
 * moves by whole units, so it stays within one unit of t. */
static void
put_time_entry(struct enc *e, const uint8_t *q, uint64_t t)
{
	size_t at = (size_t)(q - e->buf);
	hb_assert(at >= e->tlast && e->tlen + TABLE_ENTRY_MAX + 4 <= e->tcap);
	uint64_t units =
		t > e->prev_time ? (t - e->prev_time) / e->time_res : 0;
	uint8_t *p = e->buf + e->cap - e->tcap + e->tlen;
	size_t k = heldby_put_u(p, at - e->tlast);
	k += heldby_put_u(p + k, units);
	e->tlen += k;
	e->tlast = at;
	e->prev_time += units * e->time_res;
	e->has_time = 1;
}

static uint8_t *
put_prefix(struct enc *e, uint8_t *q, uint64_t t, int numbered)
{
	bool due = t != UINT64_MAX && time_due(e, t);
	if (due && e->tcap) {
		put_time_entry(e, q, t);
	} else if (due) {
		*q++ = HELDBY_REC_TIME;
		q += heldby_put_u(q, dtime(e, t));
		e->has_time = 1;
	}
	if (numbered && !e->has_seq) {
		*q++ = HELDBY_REC_SEQ;
		q += heldby_put_u(q, e->next_seq);
		e->has_seq = 1;
	}
	return q;
}

static uint64_t
back(const struct enc *e, uint64_t seq)
{
	return e->next_seq - seq;
}

int
enc_alloc_seq(struct enc *e, uint64_t time_ns, uint64_t size, uint64_t stack,
	      unsigned fn, uint64_t *seq)
{
	if (!room_for_any_prefix(e, 1 + 3 * HELDBY_VARINT_MAX) &&
	    !room(e, prefix_len(e, time_ns, 1) + 1 + ulen(size) + ulen(stack) +
			     ulen(fn)))
		return -1;
	uint8_t *p = cur(e), *q = put_prefix(e, p, time_ns, 1);
	*q++ = HELDBY_REC_ALLOC_SEQ;
	q += heldby_put_u(q, size);
	q += heldby_put_u(q, stack);
	q += heldby_put_u(q, fn);
	e->len += (size_t)(q - p);
	hb_assert(e->len + e->tcap <= e->cap); /* written whole, in room */
	if (seq)
		*seq = e->next_seq;
	e->next_seq++;
	return 0;
}

/* kind, u back: FREE_SEQ (timed) or LOST (time UINT64_MAX: untimed). */
static int
put_back(struct enc *e, unsigned kind, uint64_t time_ns, uint64_t seq)
{
	/* an allocation numbered already */
	hb_assert(seq && seq < e->next_seq);
	if (!room_for_any_prefix(e, 1 + HELDBY_VARINT_MAX) &&
	    !room(e, prefix_len(e, time_ns, 1) + 1 + ulen(back(e, seq))))
		return -1;
	uint8_t *p = cur(e), *q = put_prefix(e, p, time_ns, 1);
	*q++ = (uint8_t)kind;
	q += heldby_put_u(q, back(e, seq));
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_free_seq(struct enc *e, uint64_t time_ns, uint64_t seq)
{
	int64_t d = (int64_t)(seq - e->prev_free);
	if (heldby_zigzag(d) >= back(e, seq)) {
		if (put_back(e, HELDBY_REC_FREE_SEQ, time_ns, seq))
			return -1;
	} else {
		if (!room_for_any_prefix(e, 1 + HELDBY_VARINT_MAX) &&
		    !room(e, prefix_len(e, time_ns, 1) + 1 + slen(d)))
			return -1;
		uint8_t *p = cur(e), *q = put_prefix(e, p, time_ns, 1);
		*q++ = HELDBY_REC_FREE_NEAR;
		q += heldby_put_s(q, d);
		e->len += (size_t)(q - p);
		hb_assert(e->len + e->tcap <= e->cap);
	}
	e->prev_free = seq;
	return 0;
}

int
enc_lost(struct enc *e, uint64_t seq)
{
	return put_back(e, HELDBY_REC_LOST, UINT64_MAX, seq);
}

int
enc_addr(struct enc *e, uint64_t seq, uint64_t ptr)
{
	if (!room(e, prefix_len(e, UINT64_MAX, 1) + 1 + ulen(back(e, seq)) +
			     slen((int64_t)(ptr - e->prev_ptr))))
		return -1;
	uint8_t *p = cur(e), *q = put_prefix(e, p, UINT64_MAX, 1);
	*q++ = HELDBY_REC_ADDR;
	q += heldby_put_u(q, back(e, seq));
	q += heldby_put_s(q, dptr(e, ptr));
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_free_addr(struct enc *e, uint64_t time_ns, uint64_t ptr)
{
	if (!room(e, prefix_len(e, time_ns, 0) + 1 +
			     slen((int64_t)(ptr - e->prev_ptr))))
		return -1;
	uint8_t *p = cur(e), *q = put_prefix(e, p, time_ns, 0);
	*q++ = HELDBY_REC_FREE_ADDR;
	q += heldby_put_s(q, dptr(e, ptr));
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_thread(struct enc *e, uint64_t tid, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (!room(e, 1 + ulen(tid) + ulen(n) + n))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_THREAD;
	q += heldby_put_u(q, tid);
	q += put_str(q, name ? name : "", n);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_mark(struct enc *e, uint64_t time_ns, const char *label)
{
	size_t n = label ? strlen(label) : 0;
	if (!room(e, 1 + ulen(clamp_time(e, time_ns)) + ulen(n) + n))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_MARK;
	q += heldby_put_u(q, dtime(e, time_ns));
	q += put_str(q, label ? label : "", n);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_end(struct enc *e, uint64_t time_ns, uint64_t dropped, uint64_t waits)
{
	if (!room(e, 1 + ulen(clamp_time(e, time_ns)) + ulen(dropped) +
			     ulen(waits)))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_END;
	q += heldby_put_u(q, dtime(e, time_ns));
	q += heldby_put_u(q, dropped);
	q += heldby_put_u(q, waits);
	e->len += (size_t)(q - p);
	return 0;
}

int
enc_summary(struct enc *e, const struct enc_summary *s)
{
	const uint64_t f[] = { s->peak_bytes, s->peak_blocks, s->peak_time,
			       s->end_bytes,  s->end_blocks,  s->alloc_calls,
			       s->free_calls };
	size_t need = 1;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		need += ulen(f[i]);
	if (!room(e, need))
		return -1;
	uint8_t *p = cur(e), *q = p;
	*q++ = HELDBY_REC_SUMMARY;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		q += heldby_put_u(q, f[i]);
	e->len += (size_t)(q - p);
	return 0;
}
