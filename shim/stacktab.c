/* SPDX-License-Identifier: MIT */
/*
 * The writer's stack tree (stacktab.h). Nodes live in an array by id; a
 * table of u32 ids, open addressing, at most 3/4 full and never deleted
 * from, finds (parent, ip). uthash cost 80 bytes a node, 70 MB of the
 * program's RSS for a compiler's 600k distinct frames; this is ~21.
 * A cached stack is trusted on its 128-bit hash without walking its nodes
 * back: that walk was a dependent cache miss per frame, most of the
 * writer's time on python's 64-frame stacks, and two independent 64-bit
 * hashes collide about once in 2^128 pairs.
 */
#include "stacktab.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "heldby/mix.h"
#include "mapmem.h"
#include "hb_assert.h"

int
st_init(struct stacktab *t)
{
	memset(t, 0, sizeof(*t));
	t->cnodes = 4096;
	t->nodes = hb_map(t->cnodes * sizeof(*t->nodes));
	t->tab_mask = (1u << 14) - 1;
	/* looked up before it is filled (mapmem.h), and small */
	t->tab = hb_map_filled((t->tab_mask + 1) * sizeof(*t->tab));
	t->cache = hb_map(ST_CACHE_BYTES);
	if (!t->nodes || !t->tab) {
		st_destroy(t);
		return -ENOMEM;
	}
	t->nnodes = 1; /* the root */
	return t->cache ? 0 : -ENOMEM;
}

void
st_destroy(struct stacktab *t)
{
	if (t->nodes)
		munmap(t->nodes, t->cnodes * sizeof(*t->nodes));
	if (t->tab)
		munmap(t->tab, (t->tab_mask + 1) * sizeof(*t->tab));
	if (t->cache)
		munmap(t->cache, ST_CACHE_BYTES);
	memset(t, 0, sizeof(*t));
}

static size_t
home(const struct stacktab *t, uint64_t parent, uint64_t ip)
{
	uint64_t h =
		(ip ^ (parent * 0x9e3779b97f4a7c15u)) * 0xff51afd7ed558ccdu;
	return (size_t)(h ^ (h >> 29)) & t->tab_mask;
}

/* The slot of (parent, ip), or the empty slot where it would go. */
static uint32_t *
slot(const struct stacktab *t, uint64_t parent, uint64_t ip)
{
	size_t i = home(t, parent, ip);
	for (;;) {
		uint32_t id = t->tab[i];
		if (!id ||
		    (t->nodes[id].parent == parent && t->nodes[id].ip == ip))
			return &t->tab[i];
		i = (i + 1) & t->tab_mask;
	}
}

static int
grow_tab(struct stacktab *t)
{
	size_t cap = (t->tab_mask + 1) * 2;
	hb_assert((cap & (cap - 1)) == 0); /* home() masks with cap - 1 */
	uint32_t *n = hb_map_filled(cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	munmap(t->tab, (t->tab_mask + 1) * sizeof(*t->tab));
	t->tab = n;
	t->tab_mask = cap - 1;
	for (size_t id = 1; id < t->nnodes; id++)
		*slot(t, t->nodes[id].parent, t->nodes[id].ip) = (uint32_t)id;
	return 0;
}

static int
grow_nodes(struct stacktab *t)
{
	size_t old = t->cnodes * sizeof(*t->nodes);
	void *n = mremap(t->nodes, old, old * 2, MREMAP_MAYMOVE);
	if (n == MAP_FAILED)
		return -ENOMEM;
	t->nodes = n;
	t->cnodes *= 2;
	return 0;
}

uint64_t
st_node(struct stacktab *t, uint64_t parent, uint64_t ip, bool *fresh)
{
	*fresh = false;
	if (!t->tab)
		return 0;
	hb_assert(parent < t->nnodes); /* a parent is made before its child */
	uint32_t *s = slot(t, parent, ip);
	if (*s)
		return *s;
	if (t->nnodes >= UINT32_MAX)
		return 0;
	if (4 * (t->nnodes + 1) > 3 * (t->tab_mask + 1)) {
		if (grow_tab(t))
			return 0; /* stays below 3/4 full: probes always end */
		s = slot(t, parent, ip);
	}
	if (t->nnodes >= t->cnodes && grow_nodes(t))
		return 0;
	uint64_t id = t->nnodes++;
	t->nodes[id].parent = parent;
	t->nodes[id].ip = ip;
	*s = (uint32_t)id;
	/* at most 3/4 full: slot() always finds an empty slot */
	hb_assert(4 * t->nnodes <= 3 * (t->tab_mask + 1));
	*fresh = true;
	return id;
}

uint64_t
st_ip(const struct stacktab *t, uint64_t id)
{
	return id && id < t->nnodes ? t->nodes[id].ip : 0;
}

static inline uint64_t
rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* Four independent lanes in xxHash64's round shape, so that a deep stack
 * costs about a cycle per frame instead of a serial multiply chain. The
 * 256-bit state folds into two differently mixed 64-bit halves. */
struct st_hash
st_hash(const uint64_t *ips, int n)
{
	const uint64_t p1 = 0x9e3779b185ebca87u, p2 = 0xc2b2ae3d27d4eb4fu;
	uint64_t l[4] = { p1 + p2, p2, 0, (uint64_t)0 - p1 };
	int i = 0;
	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
			l[k] = rotl(l[k] + ips[i + k] * p2, 31) * p1;
	for (int k = 0; i < n; i++, k++)
		l[k] = rotl(l[k] + ips[i] * p2, 31) * p1;
	struct st_hash r;
	r.h = heldby_mix64(rotl(l[0], 1) + rotl(l[1], 7) + rotl(l[2], 12) +
			   rotl(l[3], 18) + (uint64_t)n);
	r.h2 = heldby_mix64(
		(l[0] ^ rotl(l[1], 17) ^ rotl(l[2], 31) ^ rotl(l[3], 45)) * p2 +
		(uint64_t)n);
	return r;
}

uint64_t
st_cached(const struct stacktab *t, struct st_hash h, int n)
{
	size_t i = h.h & ((1u << ST_CACHE_BITS) - 1);
	if (!t->cache ||
	    !hb_page_written(t->cache_marks, i * sizeof(*t->cache)))
		return 0;
	const struct st_cache_entry *c = &t->cache[i];
	return c->h == h.h && c->h2 == h.h2 && c->n == (uint32_t)n ? c->id : 0;
}

void
st_remember(struct stacktab *t, struct st_hash h, int n, uint64_t id)
{
	if (!t->cache)
		return;
	size_t i = h.h & ((1u << ST_CACHE_BITS) - 1);
	struct st_cache_entry *c = &t->cache[i];
	c->h = h.h;
	c->h2 = h.h2;
	c->n = (uint32_t)n;
	c->id = id;
	hb_page_mark(t->cache_marks, i * sizeof(*t->cache));
}
