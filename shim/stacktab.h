/* SPDX-License-Identifier: MIT */
/*
 * Stack interning for the writer: a tree of (parent, ip) nodes numbered
 * from 1, and a cache of recently seen whole stacks by a 128-bit hash of
 * their frames. Memory from mmap (no malloc: usable inside the shim and
 * from tests alike). Not thread-safe: the writer thread only.
 */
#ifndef HELDBY_STACKTAB_H
#define HELDBY_STACKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapmem.h"

struct st_node {
	uint64_t parent, ip;
};

struct st_cache_entry {
	uint64_t h, h2, id;
	uint32_t n;
};

#define ST_CACHE_BITS 16
#define ST_CACHE_BYTES (sizeof(struct st_cache_entry) << ST_CACHE_BITS)

struct stacktab {
	struct st_node *nodes; /* by id; nodes[0] is the root (ip 0) */
	size_t nnodes, cnodes; /* bytes mapped: cnodes * sizeof(*nodes) */
	uint32_t *tab;	       /* (parent, ip) -> id, open addressing */
	size_t tab_mask;
	struct st_cache_entry *cache; /* NULL: no cache */
	/* the cache's pages that were written (mapmem.h) */
	_Atomic uint64_t cache_marks[HB_MARK_WORDS(ST_CACHE_BYTES)];
};

struct st_hash {
	uint64_t h, h2;
};

/* Returns 0 or -ENOMEM (then the table works without its cache, or not
 * at all: st_node returns 0). */
int st_init(struct stacktab *t);
void st_destroy(struct stacktab *t);
/* The id of node (parent, ip), created when new (*fresh set then); 0 when
 * out of memory or ids. parent is 0 or an id returned earlier. */
uint64_t st_node(struct stacktab *t, uint64_t parent, uint64_t ip, bool *fresh);
/* ip of node id (0 for the root). */
uint64_t st_ip(const struct stacktab *t, uint64_t id);
struct st_hash st_hash(const uint64_t *ips, int n);
/* The innermost node of a stack with this hash and depth interned lately,
 * or 0. */
uint64_t st_cached(const struct stacktab *t, struct st_hash h, int n);
void st_remember(struct stacktab *t, struct st_hash h, int n, uint64_t id);

#endif
