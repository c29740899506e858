/* SPDX-License-Identifier: MIT */
/*
 * Unwind rules from .eh_frame through libdw (cfi.h says which shapes). A
 * module's ELF file is opened once, on the first lookup of an address in
 * it, and mapped read-only by libelf; the loaded image lacks the section
 * headers libdw needs to find .eh_frame.
 */
#include "cfi.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "modules.h"

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16
#define MAX_MODULES 1024

struct module {
	uintptr_t lo, hi; /* the span of its PT_LOAD segments */
	uintptr_t bias;
	char path[256];
	bool tried;		  /* opened, or failed to */
	uint8_t bid[MOD_BID_MAX]; /* of the loaded image */
	size_t bidlen;
	Elf *elf;
	Dwarf_CFI *cfi;
};

static struct module mods[MAX_MODULES];
static size_t nmods;
static pthread_mutex_t cfi_lock = PTHREAD_MUTEX_INITIALIZER;

static int
add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (nmods == MAX_MODULES)
		return 1;
	uintptr_t lo, hi;
	if (!mod_span(info, &lo, &hi))
		return 0;
	struct module *m = &mods[nmods++];
	memset(m, 0, sizeof(*m));
	m->lo = lo;
	m->hi = hi;
	m->bias = info->dlpi_addr;
	m->bidlen = mod_build_id(info, m->bid);
	const char *name = info->dlpi_name;
	if (!name || !*name)
		name = nmods == 1 ? "/proc/self/exe" : "";
	size_t n = strlen(name);
	if (n < sizeof(m->path))
		memcpy(m->path, name, n + 1);
	return 0;
}

static void
drop_modules(void)
{
	for (size_t i = 0; i < nmods; i++) {
		if (mods[i].cfi)
			dwarf_cfi_end(mods[i].cfi);
		if (mods[i].elf)
			elf_end(mods[i].elf);
	}
	nmods = 0;
}

static struct module *
find_module(uintptr_t pc)
{
	for (size_t i = 0; i < nmods; i++)
		if (pc >= mods[i].lo && pc < mods[i].hi)
			return &mods[i];
	return NULL;
}

static int
read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
			    sizeof(info->dlpi_subs)) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1;
}

/* The module list is rebuilt from the loader when pc is in none of them
 * and the loader's counters moved (a library loaded since): code outside
 * every module (generated at run time) does not cost a scan each time. */
static struct module *
module_of(uintptr_t pc)
{
	static unsigned long long seen[2];
	static bool scanned;
	struct module *m = find_module(pc);
	if (m)
		return m;
	unsigned long long c[2] = { 0, 0 };
	mod_iterate(read_counters, c);
	if (scanned && c[0] == seen[0] && c[1] == seen[1] && c[0] != 0)
		return NULL;
	drop_modules();
	mod_iterate(add_module, NULL);
	seen[0] = c[0];
	seen[1] = c[1];
	scanned = true;
	return find_module(pc);
}

/* Whether the file on disk is the one that was loaded: a service upgraded
 * in place has new files under the old names, whose rules would walk the
 * old code wrongly. Without a build-id in memory there is nothing to
 * compare; the file is trusted. */
static bool
same_build(struct module *m)
{
	if (!m->bidlen)
		return true;
	const void *bid;
	ssize_t n = dwelf_elf_gnu_build_id(m->elf, &bid);
	return n > 0 && (size_t)n >= m->bidlen &&
	       memcmp(bid, m->bid, m->bidlen) == 0;
}

static Dwarf_CFI *
module_cfi(struct module *m)
{
	if (m->tried)
		return m->cfi;
	m->tried = true;
	if (!m->path[0])
		return NULL; /* the vdso: nothing on disk */
	static bool elf_ready;
	if (!elf_ready) {
		if (elf_version(EV_CURRENT) == EV_NONE)
			return NULL;
		elf_ready = true;
	}
	/* The descriptor is closed at once: the file stays mapped, and a
	 * program that closes descriptors it does not know (daemons do) could
	 * otherwise have its own closed by ours later. */
	/* Among the shim's numbers while libelf reads it: a program that
	 * dup2s its own file onto a low number meanwhile (a shell's 3>file)
	 * must not have it closed by ours. */
	int fd = fds_open(m->path, O_RDONLY, 0);
	if (fd < 0)
		return NULL;
	m->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (m->elf && elf_cntl(m->elf, ELF_C_FDDONE) == 0 && same_build(m))
		m->cfi = dwarf_getcfi_elf(m->elf);
	close(fd);
	return m->cfi;
}

/* A register's location as "CFA + off": true and *off, or false. */
static bool
cfa_offset(const Dwarf_Op *ops, size_t nops, int32_t *off)
{
	if (nops < 1 || nops > 2 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	int64_t v = 0;
	if (nops == 2) {
		if (ops[1].atom != DW_OP_plus_uconst)
			return false;
		v = (int64_t)ops[1].number;
	}
	if (v < INT32_MIN || v > INT32_MAX)
		return false;
	*off = (int32_t)v;
	return true;
}

static struct cfi_rule
rule_of(Dwarf_Frame *f)
{
	struct cfi_rule r = { .kind = CFI_COMPLEX };
	Dwarf_Addr start, end;
	bool signal = false;
	if (dwarf_frame_info(f, &start, &end, &signal) < 0 || signal)
		return r;

	Dwarf_Op mem[3], *ops;
	size_t nops;
	if (dwarf_frame_register(f, REG_RA, mem, &ops, &nops) != 0)
		return r;
	if (nops == 0 && ops == mem) {
		r.kind = CFI_OUTERMOST;
		return r;
	}
	int32_t ra_off;
	if (!cfa_offset(ops, nops, &ra_off) || ra_off != -8)
		return r;

	if (dwarf_frame_cfa(f, &ops, &nops) != 0 || nops != 1 ||
	    ops[0].atom != DW_OP_bregx ||
	    (ops[0].number != REG_RSP && ops[0].number != REG_RBP))
		return r;
	int64_t off = (int64_t)ops[0].number2;
	if (off < INT32_MIN || off > INT32_MAX)
		return r;
	r.cfa_rbp = ops[0].number == REG_RBP;
	r.cfa_off = (int32_t)off;

	if (dwarf_frame_register(f, REG_RBP, mem, &ops, &nops) != 0)
		return r;
	if (nops == 0 && ops == mem)
		return r; /* undefined: a caller may still need it */
	if (nops != 0) {
		if (!cfa_offset(ops, nops, &r.rbp_off))
			return r;
		r.rbp_saved = 1;
	}
	r.kind = CFI_SIMPLE;
	return r;
}

struct cfi_rule
cfi_lookup(uint64_t pc)
{
	struct cfi_rule r = { .kind = CFI_MISSING };
	if (pthread_mutex_trylock(&cfi_lock) != 0)
		return r;
	struct module *m = module_of((uintptr_t)pc);
	Dwarf_CFI *cfi = m ? module_cfi(m) : NULL;
	Dwarf_Frame *f = NULL;
	r.kind = CFI_COMPLEX;
	if (cfi && dwarf_cfi_addrframe(cfi, pc - m->bias, &f) == 0) {
		r = rule_of(f);
		free(f);
	}
	pthread_mutex_unlock(&cfi_lock);
	return r;
}

void
cfi_forget(void)
{
	pthread_mutex_lock(&cfi_lock);
	drop_modules();
	pthread_mutex_unlock(&cfi_lock);
}
