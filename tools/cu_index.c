/* SPDX-License-Identifier: MIT */
/*
 * Compile units by address range, sorted, for modules whose DWARF has no
 * .debug_aranges (cu_index.h).
 */
#include "cu_index.h"

#include <stdlib.h>

struct cu_range {
	Dwarf_Addr lo, hi; /* module addresses, [lo, hi) */
	size_t unit;
};

struct cu_index {
	Dwarf_Die *units;
	size_t nunits;
	struct cu_range *ranges;
	size_t nranges;
	Dwarf_Addr bias;
};

static int
range_order(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int
add_range(struct cu_index *ix, size_t *cap, Dwarf_Addr lo, Dwarf_Addr hi,
	  size_t unit)
{
	if (ix->nranges == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		struct cu_range *r = realloc(ix->ranges, n * sizeof(*r));
		if (!r)
			return -1;
		ix->ranges = r;
		*cap = n;
	}
	ix->ranges[ix->nranges++] =
		(struct cu_range){ lo + ix->bias, hi + ix->bias, unit };
	return 0;
}

static int
add_unit(struct cu_index *ix, size_t *ucap, Dwarf_Die *cu)
{
	if (ix->nunits == *ucap) {
		size_t n = *ucap ? *ucap * 2 : 16;
		Dwarf_Die *u = realloc(ix->units, n * sizeof(*u));
		if (!u)
			return -1;
		ix->units = u;
		*ucap = n;
	}
	ix->units[ix->nunits++] = *cu;
	return 0;
}

struct cu_index *
cu_index_new(Dwfl_Module *mod)
{
	struct cu_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	size_t ucap = 0, rcap = 0;
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, &ix->bias))) {
		if (add_unit(ix, &ucap, cu) != 0)
			goto fail;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0)
			if (lo < hi &&
			    add_range(ix, &rcap, lo, hi, ix->nunits - 1) != 0)
				goto fail;
	}
	if (!ix->nranges)
		goto fail;
	qsort(ix->ranges, ix->nranges, sizeof(*ix->ranges), range_order);
	return ix;
fail:
	cu_index_free(ix);
	return NULL;
}

void
cu_index_free(struct cu_index *ix)
{
	if (!ix)
		return;
	free(ix->units);
	free(ix->ranges);
	free(ix);
}

Dwarf_Die *
cu_index_find(struct cu_index *ix, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	/* the last range that starts at or below addr */
	size_t lo = 0, hi = ix->nranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= ix->ranges[lo - 1].hi)
		return NULL;
	*bias = ix->bias;
	return &ix->units[ix->ranges[lo - 1].unit];
}
