/* SPDX-License-Identifier: MIT */
/*
 * Which compile unit covers an address, for modules without
 * .debug_aranges: clang emits none, and libdw's dwfl_module_addrdie finds
 * no unit there (a clang -g program's frames lost their file and line).
 * Built once per module from each unit's own ranges.
 */
#ifndef HELDBY_CU_INDEX_H
#define HELDBY_CU_INDEX_H

#include <elfutils/libdwfl.h>

struct cu_index;

/* The index of mod's units (NULL when out of memory or there are none).
 * Not thread-safe; the module must outlive it. */
struct cu_index *cu_index_new(Dwfl_Module *mod);
void cu_index_free(struct cu_index *ix);
/* The unit covering addr (a module address, as dwfl_module_addrdie
 * takes), and its bias; NULL when none does. */
Dwarf_Die *cu_index_find(struct cu_index *ix, Dwarf_Addr addr,
			 Dwarf_Addr *bias);

#endif
