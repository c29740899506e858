/* SPDX-License-Identifier: MIT */
/*
 * Live set and per-site counters. The holders at the peak come out of one
 * pass: the global peak carries an epoch that grows with every new peak;
 * a site touched for the first time since the latest peak first saves its
 * current value as its value at that peak.
 */
#include "replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "decode_ahead.h"
#include "heldby/trace.h"

void
replay_init(struct replay *rp)
{
	memset(rp, 0, sizeof *rp);
}

/* ---- the live set: an open-addressing table of blocks by identity ----
 * uthash spent most of a replay on its chains (a cache miss per link) and
 * 56 bytes of handle per block; here a block is 32 bytes in a flat array
 * kept at most three quarters full, found in about one miss. Deletion
 * shifts the following entries back instead of leaving tombstones. */

#define LT_MIN_CAP 1024u
/* Where key's probe starts. Not a plain hash of the key: blocks that are
 * renamed and freed one after another sit close together in the heap
 * (python-json: 87% of such lookups within 1 KiB of the one before), so a
 * run of 2^LT_RUN_BITS slots is given to every 256 bytes of addresses (every
 * 16 allocation numbers), hashed as a whole, and neighbours land in
 * the same cache lines. A run holds at most 16 keys (malloc aligns to 16
 * bytes), so clusters stay short. */
#define LT_RUN_BITS 4

static size_t
lt_home(const struct rp_table *t, uint64_t key)
{
	uint64_t k = key & RD_SEQ_ID(0) ? key : key >> 4;
	size_t run = (size_t)hb_hash_u64(k >> LT_RUN_BITS) << LT_RUN_BITS;
	return (run | (size_t)(k & ((1u << LT_RUN_BITS) - 1))) & t->mask;
}

/* The slot holding key, or the empty slot where it would go. */
static struct rp_block *
lt_slot(const struct rp_table *t, uint64_t key)
{
	size_t i = lt_home(t, key);
	while (t->e[i].id && t->e[i].id != key)
		i = (i + 1) & t->mask;
	return &t->e[i];
}

static int
lt_grow(struct rp_table *t)
{
	size_t cap = t->e ? (t->mask + 1) * 2 : LT_MIN_CAP;
	struct rp_table n = { calloc(cap, sizeof *n.e), cap - 1, t->n };
	if (!n.e)
		return -ENOMEM;
	for (size_t i = 0; t->e && i <= t->mask; i++)
		if (t->e[i].id)
			*lt_slot(&n, t->e[i].id) = t->e[i];
	free(t->e);
	*t = n;
	return 0;
}

static struct rp_block *
lt_find(const struct rp_table *t, uint64_t key)
{
	if (!t->e)
		return NULL;
	struct rp_block *b = lt_slot(t, key);
	return b->id ? b : NULL;
}

/* Adds block b (b->id not in the table). */
static int
lt_add(struct rp_table *t, const struct rp_block *b)
{
	if ((!t->e || 4 * (t->n + 1) > 3 * (t->mask + 1)) && lt_grow(t))
		return -ENOMEM;
	*lt_slot(t, b->id) = *b;
	t->n++;
	return 0;
}

static void
lt_del(struct rp_table *t, struct rp_block *b)
{
	size_t i = (size_t)(b - t->e), j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->e[j].id)
			break;
		size_t h = lt_home(t, t->e[j].id);
		/* j may fill hole i unless its home lies in (i, j]. */
		if (((j - h) & t->mask) >= ((j - i) & t->mask)) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].id = 0;
	t->n--;
}

void
replay_free(struct replay *rp)
{
	free(rp->live.e);
	free(rp->recent);
	for (size_t i = 0; i < rp->npages; i++)
		free(rp->pages[i]);
	free(rp->pages);
	free(rp->site_list);
	struct rp_site *s, *st;
	HASH_ITER(hh, rp->sites, s, st)
	{
		HASH_DEL(rp->sites, s);
		free(s);
	}
	for (size_t i = 0; i < rp->nmarks; i++)
		free(rp->marks[i].label);
	free(rp->marks);
	memset(rp, 0, sizeof *rp);
}

/* Saves the site's value at the latest peak if it has not been touched
 * since that peak was reached. */
static void
touch(struct replay *rp, struct rp_site *s)
{
	if (s->epoch != rp->epoch) {
		s->peak_bytes = s->cur_bytes;
		s->peak_blocks = s->cur_blocks;
		s->peak_tsum = s->cur_tsum;
		s->epoch = rp->epoch;
	}
}

static void
after_change(struct replay *rp, uint64_t t)
{
	if (rp->cur_bytes > rp->sum.peak_bytes) {
		rp->sum.peak_bytes = rp->cur_bytes;
		rp->sum.peak_blocks = rp->cur_blocks;
		rp->sum.peak_time_ns = t;
		rp->peak_event = rp->events;
		rp->epoch++;
	}
}

static void
note_time(struct replay *rp, uint64_t t)
{
	if (t > rp->last_time)
		rp->last_time = t;
}

/* A block leaves the live set: its site's and the global counters. */
static void
forget(struct replay *rp, struct rp_site *s, uint64_t size, uint64_t time)
{
	touch(rp, s);
	s->cur_bytes -= size;
	s->cur_blocks--;
	s->cur_tsum -= (double)time;
	rp->cur_bytes -= size;
	rp->cur_blocks--;
}

/* ---- numbered blocks: a ring while young, then pages by number ----
 * Most blocks die young: a numbered block lives in a ring by its number
 * (no hash) until RP_RECENT allocations later. One that outlives the ring
 * moves to a page of RP_PAGE consecutive numbers, where it is found by
 * arithmetic too. Since format 4 every free names its block by number,
 * and python-json keeps 2.2M blocks past the ring: in an address-style
 * hash table, growth, probes and backward shifts were most of its report.
 * A page goes when its last block does. Once every number of a page left
 * the ring, a page down to RP_PAGE_SPARSE live blocks moves them to the
 * table and goes too, so that memory stays within a few times the live
 * set however blocks die. */
#define RP_PAGE_SPARSE (RP_PAGE / 8)

static uint64_t
num_of(uint64_t id)
{
	return id & ~RD_SEQ_ID(0);
}

static struct rp_block *
ring_slot(const struct replay *rp, uint64_t id)
{
	if (!(id & RD_SEQ_ID(0)) || !rp->recent)
		return NULL;
	return &rp->recent[id & (RP_RECENT - 1)];
}

static struct rp_page *
page_of(const struct replay *rp, uint64_t id)
{
	if (!(id & RD_SEQ_ID(0)))
		return NULL;
	uint64_t pi = num_of(id) >> RP_PAGE_BITS;
	if (pi < rp->page_base || pi - rp->page_base >= rp->npages)
		return NULL;
	return rp->pages[pi - rp->page_base];
}

/* Block id's slot in its page, or NULL when it has no page. */
static struct rp_slot *
page_slot(const struct replay *rp, uint64_t id)
{
	struct rp_page *pg = page_of(rp, id);
	return pg ? &pg->e[num_of(id) & (RP_PAGE - 1)] : NULL;
}

/* The block in slot i of page pi (its site is not 0). */
static struct rp_block
slot_block(const struct replay *rp, uint64_t pi, size_t i,
	   const struct rp_slot *e)
{
	return (struct rp_block){ RD_SEQ_ID(pi << RP_PAGE_BITS | i), e->size,
				  e->time, rp->site_list[e->site - 1] };
}

/* The page of number n, made when missing; NULL without memory, or with
 * *far when n lies outside the numbers this trace can have used (below
 * the first page, or past twice the allocations seen: only a damaged
 * trace, whose SEQ may name any number), where the table takes it. */
static struct rp_page *
page_make(struct replay *rp, uint64_t n, bool *far)
{
	uint64_t pi = n >> RP_PAGE_BITS;
	*far = false;
	if (!rp->npages)
		rp->page_base = pi; /* a fork child's numbers start high */
	if (pi < rp->page_base ||
	    pi - rp->page_base >
		    2 * (rp->sum.alloc_calls >> RP_PAGE_BITS) + 64) {
		*far = true;
		return NULL;
	}
	uint64_t i = pi - rp->page_base;
	if (i >= rp->npages) {
		size_t cap = rp->npages ? rp->npages : 64;
		while (cap <= i)
			cap *= 2;
		struct rp_page **np = realloc(rp->pages, cap * sizeof *np);
		if (!np)
			return NULL;
		memset(np + rp->npages, 0, (cap - rp->npages) * sizeof *np);
		rp->pages = np;
		rp->npages = cap;
	}
	if (!rp->pages[i] && (rp->pages[i] = malloc(sizeof(struct rp_page))))
		/* written, not calloc'ed: calloc leaves fresh memory unwritten,
		 * and a slot read before its page is written maps the zero
		 * page, whose first write then flushes the TLB of every CPU
		 * the tool runs on (the decoder's too): 9% of the samples */
		memset(rp->pages[i], 0, sizeof(struct rp_page));
	return rp->pages[i];
}

/* Page pi, once every number in it left the ring: gone when empty, its
 * last few blocks to the table when sparse. */
static int
page_settle(struct replay *rp, uint64_t pi)
{
	struct rp_page *pg = page_of(rp, RD_SEQ_ID(pi << RP_PAGE_BITS));
	bool closed = rp->next_num >= RP_RECENT &&
		      (pi + 1) << RP_PAGE_BITS <= rp->next_num - RP_RECENT;
	if (!pg || !closed || pg->live > RP_PAGE_SPARSE)
		return 0;
	for (size_t i = 0; pg->live && i < RP_PAGE; i++) {
		if (!pg->e[i].site)
			continue;
		struct rp_block b = slot_block(rp, pi, i, &pg->e[i]);
		if (lt_add(&rp->live, &b))
			return -ENOMEM; /* the page stays: nothing lost */
		pg->e[i].site = 0;
		pg->live--;
	}
	free(pg);
	rp->pages[pi - rp->page_base] = NULL;
	return 0;
}

/* A block that outlived the ring, to its page. */
static int
page_enter(struct replay *rp, const struct rp_block *b)
{
	uint64_t n = num_of(b->id);
	if (b->size > UINT32_MAX || !b->site->index)
		return lt_add(&rp->live, b);
	bool far;
	struct rp_page *pg = page_make(rp, n, &far);
	if (!pg)
		return far ? lt_add(&rp->live, b) : -ENOMEM;
	struct rp_slot *slot = &pg->e[n & (RP_PAGE - 1)];
	if (slot->site) { /* the same number twice: only a damaged trace */
		forget(rp, rp->site_list[slot->site - 1], slot->size,
		       slot->time);
		rp->sum.reused_live++;
		pg->live--;
	}
	*slot = (struct rp_slot){ b->time, (uint32_t)b->size, b->site->index };
	pg->live++;
	return 0;
}

/* Takes block id out of the live set, into *out: true when it was live. */
static bool
take_id(struct replay *rp, uint64_t id, struct rp_block *out)
{
	struct rp_block *b = ring_slot(rp, id);
	if (b && b->id == id) {
		*out = *b;
		b->id = 0;
		return true;
	}
	struct rp_page *pg = page_of(rp, id);
	uint64_t n = num_of(id);
	struct rp_slot *e = pg ? &pg->e[n & (RP_PAGE - 1)] : NULL;
	if (e && e->site) {
		*out = slot_block(rp, n >> RP_PAGE_BITS, n & (RP_PAGE - 1), e);
		e->site = 0;
		pg->live--;
		(void)page_settle(rp, n >> RP_PAGE_BITS);
		return true;
	}
	b = lt_find(&rp->live, id);
	if (!b)
		return false;
	*out = *b;
	lt_del(&rp->live, b);
	return true;
}

/* Removes block id from the live set: true when it was live. */
static bool
release_id(struct replay *rp, uint64_t id)
{
	struct rp_block b;
	if (!take_id(rp, id, &b))
		return false;
	forget(rp, b.site, b.size, b.time);
	return true;
}

/* The ring is written at every allocation, in an order no prefetcher
 * follows: on one 2 MiB page where the kernel can give one, it costs one
 * TLB entry instead of 512 (python-json's report: about 5% less time). */
#define RING_BYTES (RP_RECENT * sizeof(struct rp_block))
#define HUGE_PAGE (2u << 20)

static struct rp_block *
ring_new(void)
{
	struct rp_block *r = aligned_alloc(HUGE_PAGE, RING_BYTES);
	if (!r)
		return NULL;
	(void)madvise(r, RING_BYTES, MADV_HUGEPAGE); /* a hint: may fail */
	memset(r, 0, RING_BYTES);
	return r;
}

/* Enters new block b: a number in the ring (its slot's block, RP_RECENT
 * numbers older, on to its page if still live), an address in the
 * table. */
static int
enter(struct replay *rp, const struct rp_block *b)
{
	if (!(b->id & RD_SEQ_ID(0)))
		return lt_add(&rp->live, b);
	if (!rp->recent && !(rp->recent = ring_new()))
		return -ENOMEM;
	uint64_t n = num_of(b->id);
	struct rp_block *r = ring_slot(rp, b->id);
	if (r->id && page_enter(rp, r))
		return -ENOMEM;
	*r = *b;
	if (n >= rp->next_num) {
		uint64_t before = rp->next_num;
		rp->next_num = n + 1;
		/* the page whose numbers were leaving the ring is closed now */
		if (before > RP_RECENT &&
		    (before - 1 - RP_RECENT) >> RP_PAGE_BITS !=
			    (n - RP_RECENT) >> RP_PAGE_BITS)
			return page_settle(rp, (before - 1 - RP_RECENT) >>
						       RP_PAGE_BITS);
	}
	return 0;
}

/* Gives s its index, by which page slots name it; without memory it has
 * none, and its blocks stay out of the pages. */
static void
site_index(struct replay *rp, struct rp_site *s)
{
	if (rp->nsites == rp->site_cap) {
		size_t cap = rp->site_cap ? rp->site_cap * 2 : 256;
		struct rp_site **l =
			cap <= UINT32_MAX
				? realloc(rp->site_list, cap * sizeof *l)
				: NULL;
		if (!l)
			return;
		rp->site_list = l;
		rp->site_cap = cap;
	}
	rp->site_list[rp->nsites++] = s;
	s->index = (uint32_t)rp->nsites;
}

static struct rp_site *
site_get(struct replay *rp, uint64_t stack)
{
	struct rp_site **c = &rp->site_cache[stack % RP_SITE_CACHE];
	if (*c && (*c)->stack == stack)
		return *c;
	struct rp_site *s;
	HASH_FIND(hh, rp->sites, &stack, sizeof stack, s);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return NULL;
		s->stack = stack;
		s->epoch = rp->epoch; /* held nothing at every earlier peak */
		site_index(rp, s);
		HASH_ADD(hh, rp->sites, stack, sizeof s->stack, s);
	}
	*c = s;
	return s;
}

int
replay_alloc(struct replay *rp, uint64_t t, uint64_t ptr, uint64_t size,
	     uint64_t stack)
{
	note_time(rp, t);
	rp->sum.alloc_calls++;
	/* A numbered allocation (RD_SEQ_ID) is new by construction: only an
	 * address can still be live, when its free went unseen. */
	if (!(ptr & RD_SEQ_ID(0)) && release_id(rp, ptr))
		rp->sum.reused_live++; /* events are in true order: anomaly */
	struct rp_site *s = site_get(rp, stack);
	if (!s)
		return -ENOMEM;
	struct rp_block nb = { ptr, size, t, s };
	if (enter(rp, &nb))
		return -ENOMEM;

	touch(rp, s);
	s->cur_bytes += size;
	s->cur_blocks++;
	s->cur_tsum += (double)t;
	s->calls++;
	s->total_bytes += size;
	rp->cur_bytes += size;
	rp->cur_blocks++;
	after_change(rp, t);
	return 0;
}

void
replay_release(struct replay *rp, uint64_t t, uint64_t ptr)
{
	note_time(rp, t);
	rp->sum.free_calls++;
	if (!release_id(rp, ptr))
		rp->sum.unknown_frees++;
}

void
replay_lost(struct replay *rp, uint64_t ptr)
{
	if (release_id(rp, ptr))
		rp->sum.reused_live++;
}

int
replay_rename(struct replay *rp, uint64_t id, uint64_t addr)
{
	struct rp_block nb;
	if (!take_id(rp, id, &nb))
		return 0;
	nb.id = addr;
	return lt_add(&rp->live, &nb);
}

/* ---- what was held at one moment (report --at) ---- */

const uint64_t rp_age_end_ns[RP_AGES - 1] = { 1000000000u, 10000000000u,
					      60000000000u };

void
replay_want_at(struct replay *rp, const struct rp_at *at)
{
	rp->at = *at;
	rp->at.taken = 0;
}

static unsigned
age_bucket(uint64_t age)
{
	unsigned b = 0;
	while (b < RP_AGES - 1 && age >= rp_age_end_ns[b])
		b++;
	return b;
}

/* One live block into the moment's ages. */
static void
at_block(struct replay *rp, struct rp_site *s, uint64_t size, uint64_t time)
{
	uint64_t age = rp->at.at_ns > time ? rp->at.at_ns - time : 0;
	unsigned b = age_bucket(age);
	s->at_age_bytes[b] += size;
	rp->at.age_bytes[b] += size;
	rp->at.age_blocks[b]++;
}

/* Every live block, wherever it lives: the ring, the pages, the table. */
static void
at_blocks(struct replay *rp)
{
	for (size_t i = 0; rp->recent && i < RP_RECENT; i++)
		if (rp->recent[i].id)
			at_block(rp, rp->recent[i].site, rp->recent[i].size,
				 rp->recent[i].time);
	for (size_t p = 0; p < rp->npages; p++) {
		struct rp_page *pg = rp->pages[p];
		for (size_t i = 0; pg && i < RP_PAGE; i++)
			if (pg->e[i].site)
				at_block(rp, rp->site_list[pg->e[i].site - 1],
					 pg->e[i].size, pg->e[i].time);
	}
	for (size_t i = 0; rp->live.e && i <= rp->live.mask; i++)
		if (rp->live.e[i].id)
			at_block(rp, rp->live.e[i].site, rp->live.e[i].size,
				 rp->live.e[i].time);
}

/* Takes what is held now as the moment at_ns: each site's counters, and
 * the ages of the blocks. */
static void
at_take(struct replay *rp, uint64_t at_ns)
{
	struct rp_at *at = &rp->at;
	at->taken = 1;
	at->at_ns = at_ns;
	at->bytes = rp->cur_bytes;
	at->blocks = rp->cur_blocks;
	at->tsum = 0;
	struct rp_site *s, *st;
	HASH_ITER(hh, rp->sites, s, st)
	{
		s->at_bytes = s->cur_bytes;
		s->at_blocks = s->cur_blocks;
		s->at_tsum = s->cur_tsum;
		at->tsum += s->cur_tsum;
		memset(s->at_age_bytes, 0, sizeof s->at_age_bytes);
	}
	at_blocks(rp);
}

/* Before an event at time t is applied: a time asked for lies before
 * it. */
static void
at_before(struct replay *rp, uint64_t t)
{
	if (rp->at.kind == RP_AT_TIME && !rp->at.taken && t > rp->at.time_ns)
		at_take(rp, rp->at.time_ns);
}

/* After an event is applied: the number of events asked for. */
static void
at_after(struct replay *rp)
{
	if (rp->at.kind == RP_AT_EVENT && !rp->at.taken &&
	    rp->events == rp->at.event)
		at_take(rp, rp->last_time);
}

static void
at_mark(struct replay *rp, uint64_t t, const char *label, size_t len)
{
	const char *want = rp->at.label;
	if (rp->at.kind == RP_AT_MARK && !rp->at.taken && want &&
	    strlen(want) == len && (!len || !memcmp(want, label, len)))
		at_take(rp, t);
}

/* At the end of the trace: the end, or a time after the last event. */
static void
at_finish(struct replay *rp)
{
	if (rp->at.taken)
		return;
	if (rp->at.kind == RP_AT_END)
		at_take(rp, rp->sum.duration_ns);
	else if (rp->at.kind == RP_AT_TIME &&
		 rp->at.time_ns <= rp->sum.duration_ns)
		at_take(rp, rp->at.time_ns);
}

uint64_t
replay_mean_age(uint64_t at_ns, double tsum, uint64_t blocks)
{
	if (!blocks)
		return 0;
	double age = (double)at_ns - tsum / (double)blocks;
	return age > 0 ? (uint64_t)(age + 0.5) : 0;
}

uint64_t
replay_at_age(const struct replay *rp, const struct rp_site *s)
{
	return replay_mean_age(rp->at.at_ns, s->at_tsum, s->at_blocks);
}

int
replay_mark(struct replay *rp, uint64_t t, const char *label, size_t len)
{
	note_time(rp, t);
	rp->sum.marks++;
	at_mark(rp, t, label, len);
	if (rp->nmarks >= RP_MARKS_MAX)
		return 0;
	if (rp->nmarks == rp->marks_cap) {
		size_t cap = rp->marks_cap ? rp->marks_cap * 2 : 16;
		struct rp_mark *m = realloc(rp->marks, cap * sizeof *m);
		if (!m)
			return -ENOMEM;
		rp->marks = m;
		rp->marks_cap = cap;
	}
	/* A label is not NUL-terminated in the trace and may hold a NUL. */
	if (len > RP_MARK_LABEL_MAX)
		len = RP_MARK_LABEL_MAX;
	char *l = strndup(label ? label : "", label ? len : 0);
	if (!l)
		return -ENOMEM;
	rp->marks[rp->nmarks++] = (struct rp_mark){
		.label = l,
		.time_ns = t,
		.bytes = rp->cur_bytes,
		.blocks = rp->cur_blocks,
	};
	return 0;
}

static int
apply_one(struct replay *rp, const struct rd_event *ev)
{
	switch (ev->kind) {
	case RD_ALLOC:
		return replay_alloc(rp, ev->time_ns, ev->ptr, ev->size,
				    ev->stack);
	case RD_FREE:
		if (ev->lost)
			replay_lost(rp, ev->ptr);
		else
			replay_release(rp, ev->time_ns, ev->ptr);
		return 0;
	case RD_ADDR: return replay_rename(rp, ev->ptr, ev->addr);
	case RD_MARK:
		return replay_mark(rp, ev->time_ns, ev->label, ev->label_len);
	case RD_END:
		note_time(rp, ev->time_ns);
		rp->sum.dropped += ev->dropped;
		rp->sum.waits += ev->waits;
		return 0;
	}
	return 0;
}

int
replay_apply(struct replay *rp, const struct rd_event *ev)
{
	if (rp->at.kind != RP_AT_NONE)
		at_before(rp, ev->time_ns);
	rp->events++;
	int rc = apply_one(rp, ev);
	if (rp->at.kind != RP_AT_NONE)
		at_after(rp);
	return rc;
}

void
replay_finish(struct replay *rp, uint64_t duration_ns, int complete)
{
	struct rp_site *s, *st;
	HASH_ITER(hh, rp->sites, s, st)
	touch(rp, s);
	rp->sum.end_bytes = rp->cur_bytes;
	rp->sum.end_blocks = rp->cur_blocks;
	rp->sum.duration_ns =
		duration_ns > rp->last_time ? duration_ns : rp->last_time;
	rp->sum.complete = complete;
	at_finish(rp);
}

/* ---- applying a reader's events, decoded ahead (decode_ahead.h) ----
 * An old block's page (or table slot) is far from any recent one: one
 * cache miss per free of an old block (in python-json, a third of them),
 * which was most of a replay's time. The slots each event will touch are
 * prefetched RP_AHEAD events before it is applied, so the misses overlap
 * instead of coming one after another. Events are still applied one by
 * one in trace order. */
#define RP_AHEAD 32

/* Where a lookup of block id will land after its ring slot: its page
 * slot, else the table. */
static const void *
old_hint(const struct replay *rp, uint64_t id)
{
	const struct rp_slot *e = page_slot(rp, id);
	if (e)
		return e;
	const struct rp_table *t = &rp->live;
	return t->e ? &t->e[lt_home(t, id)] : NULL;
}

/* Up to two places applying ev will touch. Hints only: the table may grow
 * before ev is applied. (The prefetches stay in apply_batch: GCC deletes
 * a call to a function whose only effect is a prefetch.) */
static void
event_hints(const struct replay *rp, const struct rd_event *ev,
	    const void *h[2])
{
	h[0] = h[1] = NULL;
	bool numbered = ev->ptr & RD_SEQ_ID(0);
	switch (ev->kind) {
	case RD_ALLOC:
		/* A number is new: its ring slot, and the page of the block
		 * it may push out of the ring. An address may still be live. */
		if (numbered) {
			h[0] = ring_slot(rp, ev->ptr);
			h[1] = page_slot(rp, ev->ptr - RP_RECENT);
		} else {
			h[0] = old_hint(rp, ev->ptr);
		}
		break;
	case RD_FREE: /* young in the ring, else in its page or the table */
		h[0] = ring_slot(rp, ev->ptr);
		h[1] = old_hint(rp, ev->ptr);
		break;
	case RD_ADDR: /* from the ring or a page to the table */
		h[0] = ring_slot(rp, ev->ptr);
		h[1] = old_hint(rp, ev->addr);
		break;
	default: break;
	}
}

/* Applies a batch of n events, prefetching for each event the places the
 * one RP_AHEAD behind it will touch. */
static int
apply_batch(struct replay *rp, const struct rd_event *ev, size_t n)
{
	for (size_t i = 0; i < n + RP_AHEAD; i++) {
		if (i < n) {
			const void *h[2];
			event_hints(rp, &ev[i], h);
			if (h[0])
				__builtin_prefetch(h[0], 1);
			if (h[1])
				__builtin_prefetch(h[1], 1);
		}
		if (i >= RP_AHEAD && replay_apply(rp, &ev[i - RP_AHEAD]) != 0)
			return -ENOMEM;
	}
	return 0;
}

int
replay_reader(struct replay *rp, struct reader *r)
{
	struct decode_ahead *d = da_start(r, true);
	int rc = d ? 0 : -ENOMEM;
	const struct rd_event *ev;
	size_t n;
	while (!rc && (n = da_next(d, &ev)) > 0)
		rc = apply_batch(rp, ev, n);
	if (!rc && da_failed(d))
		rc = -ENOMEM;
	da_stop(d); /* the reader is this thread's again */
	replay_finish(rp, reader_stats(r)->last_time_ns,
		      reader_stats(r)->complete);
	return rc;
}

uint64_t
replay_peak_age(const struct replay *rp, const struct rp_site *s)
{
	return replay_mean_age(rp->sum.peak_time_ns, s->peak_tsum,
			       s->peak_blocks);
}
