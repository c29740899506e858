/* SPDX-License-Identifier: MIT */
/*
 * The merge's cold half: the cursors' memory, grown as threads come and
 * kept from one drain to the next (merge.h has the walk itself). It comes
 * from the shim's own heap, never from the allocator being traced.
 */
#include <errno.h>

#include "merge.h"
#include "ownheap.h"

/* Both arrays to twice their size. On failure each keeps what it got,
 * and cap stays: the next try asks again. */
static int
merge_grow(struct merge *m)
{
	size_t n = m->cap ? m->cap * 2 : 64;
	struct merge_cur *curs = own_realloc(m->curs, n * sizeof(*curs));
	struct merge_cur **act = own_realloc(m->act, n * sizeof(*act));
	if (curs)
		m->curs = curs;
	if (act)
		m->act = act;
	if (!curs || !act)
		return -ENOMEM;
	m->cap = n;
	return 0;
}

int
merge_add(struct merge *m, struct ring *r, uint64_t pos, uint64_t tail)
{
	if (m->n == m->cap && merge_grow(m) != 0)
		return -ENOMEM;
	struct merge_cur *c = &m->curs[m->n++];
	c->r = r;
	c->pos = pos;
	c->tail = tail;
	c->since = 0;
	c->ahead = 0;
	c->qh = 0;
	return 0;
}

void
merge_free(struct merge *m)
{
	if (m->curs)
		own_free(m->curs);
	if (m->act)
		own_free(m->act);
	*m = (struct merge){ 0 };
}
