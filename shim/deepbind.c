/* SPDX-License-Identifier: MIT */
/*
 * RTLD_DEEPBIND: a library loaded with it looks itself and its dependencies
 * up before the global scope, so its calls to what hooks.h lists bind to the
 * function we wrap (libc's free), not to us, while libc's own calls still
 * reach us: heldby saw the malloc inside its strdup, never its free. Each
 * new module's JUMP_SLOT and GLOB_DAT slots that bind past us are pointed at
 * our functions instead; dlopen stays unwrapped (memray#212).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "deepbind.h"
#include "hooks.h"
#include "lifecycle.h"
#include "modules.h"
#include "real.h"
#include "ring.h"

/* Only the loader knows whether a module is relocated yet; glibc 2.35 made
 * that public: _dl_find_object finds a module once it is. Weak, so that
 * the shim still loads on an older glibc (where this file does nothing). */
#pragma weak _dl_find_object

/* Our own definitions of everything hooks.h lists (interpose.c, ...);
 * weak, so that a name listed before it is defined cannot keep libheldby
 * from loading. */
#define X(ret, name, args, req) extern ret name args __attribute__((weak));
HELDBY_HOOKS(X)
#undef X

enum {
#define X(ret, name, args, req) DPB_SYM_##name,
	HELDBY_HOOKS(X)
#undef X
		DPB_NSYMS
};

static const char *const sym_names[DPB_NSYMS] = {
#define X(ret, name, args, req) #name,
	HELDBY_HOOKS(X)
#undef X
};

/* Where struct real_fns keeps the function we wrap, for each symbol. */
static const size_t sym_real_off[DPB_NSYMS] = {
#define X(ret, name, args, req) offsetof(struct real_fns, name),
	HELDBY_HOOKS(X)
#undef X
};

struct dpb_hot dpb_hot __attribute__((aligned(64))) = { .flags = DPB_LOADER };

/* Symbol names by hash: each relocation of a module is looked up here. */
#define NAME_TAB 128
_Static_assert(DPB_NSYMS < NAME_TAB / 2, "the name table stays sparse");
static uint8_t name_tab[NAME_TAB]; /* symbol + 1; 0: empty */

static uintptr_t ours[DPB_NSYMS];
static bool ours_ok[DPB_NSYMS]; /* ours[k] is in libheldby: the program
				 * does not bring its own */
static uintptr_t page_size;
static uintptr_t self_bias, ldso_bias, libc_bias;
static uintptr_t self_lo, self_hi;
static int dpb_state; /* 0: not set up, 1: on, -1: off */
static bool warned;

/* A module seen by an earlier look. A module that is unloaded and loaded
 * again at the same place looks the same, so the slots it had are kept
 * and compared: a fresh copy's slots hold what the loader wrote. */
#define WATCH 16
struct dmod {
	uintptr_t bias;
	const void *phdr;
	uintptr_t probe; /* its first byte, for _dl_find_object */
	uint16_t phnum;
	uint8_t todo;	 /* to look at once it is relocated */
	uint8_t seen;	 /* in this look's walk */
	uint8_t foreign; /* defines malloc: another allocator */
	uint8_t nwatch;
	uint16_t unready; /* looks that found it not relocated */
	uintptr_t watch_at[WATCH], watch_val[WATCH];
};

/* Looks that find a module still not relocated before it is given up on
 * (one that _dl_find_object never finds would keep every hook probing). */
#define UNREADY_MAX 256

static struct dmod *mods; /* mmap'ed: no malloc in a hook */
static size_t nmods, capmods, cursor;
static bool any_foreign;

/* The first few modules waiting to be relocated: probed without the lock
 * while only DPB_WAITING is up, so a waiting hook does no system call. */
#define PROBES 4
static _Atomic uintptr_t probes[PROBES];
static _Atomic unsigned probe_count;

/* The pid of the process one of whose threads is looking, 0 when none. A
 * fork child inherits its parent's value and takes it over. */
static _Atomic int look_owner;

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int
sym_index(const char *name)
{
	uint32_t h = name_hash(name);
	for (unsigned i = 0; i < NAME_TAB; i++) {
		unsigned k = name_tab[(h + i) & (NAME_TAB - 1)];
		if (!k)
			return -1;
		if (strcmp(sym_names[k - 1], name) == 0)
			return (int)k - 1;
	}
	return -1;
}

static uintptr_t
real_of(unsigned k)
{
	uintptr_t v;
	memcpy(&v, (const char *)&real + sym_real_off[k], sizeof(v));
	return v;
}

/* What one module's dynamic section says, pointers made absolute. */
struct delf {
	uintptr_t bias;
	const ElfW(Sym) * sym;
	const char *str;
	size_t strsz;
	const ElfW(Rela) * rel[2]; /* DT_JMPREL, DT_RELA */
	size_t nrel[2];
	const uint32_t *gnu_hash, *sysv_hash;
	uintptr_t relro_lo, relro_hi; /* pages the loader made read-only */
	size_t nload;
	uintptr_t load_lo[16], load_hi[16];
	bool load_x[16];
};

static bool
delf_holds(const struct delf *e, uintptr_t a, size_t n, bool exec)
{
	for (size_t i = 0; i < e->nload; i++)
		if (a >= e->load_lo[i] &&
		    a - e->load_lo[i] + n <= e->load_hi[i] - e->load_lo[i] &&
		    (!exec || e->load_x[i]))
			return true;
	return false;
}

/* glibc relocates most d_ptr values in place, except where .dynamic is
 * read-only (the vDSO, some targets): an address below the bias is still
 * an offset. */
static uintptr_t
dyn_addr(uintptr_t bias, uintptr_t p)
{
	return p < bias ? p + bias : p;
}

static bool
delf_read(const struct dl_phdr_info *info, struct delf *e)
{
	memset(e, 0, sizeof(*e));
	e->bias = info->dlpi_addr;
	const ElfW(Dyn) *dyn = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = e->bias + ph->p_vaddr;
		if (ph->p_type == PT_DYNAMIC) {
			dyn = (const ElfW(Dyn) *)lo;
		} else if (ph->p_type == PT_GNU_RELRO) {
			/* as the loader rounds it (_dl_protect_relro) */
			e->relro_lo = lo & ~(page_size - 1);
			e->relro_hi = (lo + ph->p_memsz) & ~(page_size - 1);
		} else if (ph->p_type == PT_LOAD && e->nload < 16) {
			e->load_lo[e->nload] = lo;
			e->load_hi[e->nload] = lo + ph->p_memsz;
			e->load_x[e->nload] = (ph->p_flags & PF_X) != 0;
			e->nload++;
		}
	}
	if (!dyn)
		return false;
	uintptr_t jmprel = 0, rela = 0;
	size_t pltsz = 0, relasz = 0, relaent = sizeof(ElfW(Rela));
	ElfW(Sxword) pltrel = DT_RELA;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t p = dyn->d_un.d_ptr;
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			e->sym = (const ElfW(Sym) *)dyn_addr(e->bias, p);
			break;
		case DT_STRTAB:
			e->str = (const char *)dyn_addr(e->bias, p);
			break;
		case DT_STRSZ: e->strsz = dyn->d_un.d_val; break;
		case DT_JMPREL: jmprel = dyn_addr(e->bias, p); break;
		case DT_PLTRELSZ: pltsz = dyn->d_un.d_val; break;
		case DT_PLTREL: pltrel = (ElfW(Sxword))dyn->d_un.d_val; break;
		case DT_RELA: rela = dyn_addr(e->bias, p); break;
		case DT_RELASZ: relasz = dyn->d_un.d_val; break;
		case DT_RELAENT: relaent = dyn->d_un.d_val; break;
		case DT_GNU_HASH:
			e->gnu_hash = (const uint32_t *)dyn_addr(e->bias, p);
			break;
		case DT_HASH:
			e->sysv_hash = (const uint32_t *)dyn_addr(e->bias, p);
			break;
		default: break;
		}
	}
	/* Only tables inside the module's own segments are read: whatever
	 * its dynamic section says, the shim must not fault. */
	if (!e->sym || !e->str || relaent != sizeof(ElfW(Rela)) ||
	    !delf_holds(e, (uintptr_t)e->sym, sizeof(ElfW(Sym)), false) ||
	    !delf_holds(e, (uintptr_t)e->str, e->strsz, false))
		return false;
	if (e->gnu_hash &&
	    !delf_holds(e, (uintptr_t)e->gnu_hash, 4 * sizeof(uint32_t), false))
		e->gnu_hash = NULL;
	if (e->sysv_hash && !delf_holds(e, (uintptr_t)e->sysv_hash,
					2 * sizeof(uint32_t), false))
		e->sysv_hash = NULL;
	if (jmprel && pltrel == DT_RELA &&
	    delf_holds(e, jmprel, pltsz, false)) {
		e->rel[0] = (const ElfW(Rela) *)jmprel;
		e->nrel[0] = pltsz / sizeof(ElfW(Rela));
	}
	if (rela && delf_holds(e, rela, relasz, false)) {
		e->rel[1] = (const ElfW(Rela) *)rela;
		e->nrel[1] = relasz / sizeof(ElfW(Rela));
	}
	return e->nrel[0] || e->nrel[1];
}

static const char *
delf_name(const struct delf *e, const ElfW(Sym) * s)
{
	return s->st_name < e->strsz ? e->str + s->st_name : "";
}

/* Whether symbol i of the module is name, defined. */
static bool
delf_is(const struct delf *e, uint32_t i, const char *name)
{
	const ElfW(Sym) *s = &e->sym[i];
	return delf_holds(e, (uintptr_t)s, sizeof(*s), false) &&
	       s->st_shndx != SHN_UNDEF && strcmp(delf_name(e, s), name) == 0;
}

static bool
delf_has_u32(const struct delf *e, const uint32_t *p, size_t n)
{
	return delf_holds(e, (uintptr_t)p, n * sizeof(*p), false);
}

/* Whether the module defines name, looked up in its hash table as the
 * loader does: a module that defines malloc is an allocator of its own. */
static bool
delf_defines(const struct delf *e, const char *name)
{
	if (e->gnu_hash) {
		const uint32_t *h = e->gnu_hash;
		uint32_t nb = h[0], off = h[1], nbloom = h[2], hv = 5381;
		const uint32_t *buckets =
			(const uint32_t *)((const ElfW(Addr) *)(h + 4) +
					   nbloom);
		const uint32_t *chain = buckets + nb;
		for (const char *c = name; *c; c++)
			hv = hv * 33 + (uint8_t)*c;
		if (!nb || !delf_has_u32(e, buckets, nb))
			return false;
		for (uint32_t i = buckets[hv % nb]; i >= off; i++) {
			if (!delf_has_u32(e, &chain[i - off], 1))
				return false;
			uint32_t c = chain[i - off];
			if ((c | 1) == (hv | 1) && delf_is(e, i, name))
				return true;
			if (c & 1)
				return false;
		}
		return false;
	}
	if (e->sysv_hash) {
		const uint32_t *h = e->sysv_hash;
		uint32_t nb = h[0], nchain = h[1], hv = 0;
		const uint32_t *bucket = h + 2, *chain = bucket + nb;
		for (const char *c = name; *c; c++) {
			hv = (hv << 4) + (uint8_t)*c;
			uint32_t g = hv & 0xf0000000u;
			hv ^= g >> 24;
			hv &= ~g;
		}
		if (!nb || !delf_has_u32(e, bucket, (size_t)nb + nchain))
			return false;
		uint32_t n = 0;
		for (uint32_t i = bucket[hv % nb];
		     i && i < nchain && n < nchain; i = chain[i], n++)
			if (delf_is(e, i, name))
				return true;
	}
	return false;
}

/* One slot of a module for one of our symbols: k, its address, whether a
 * lazy binding may still point it into the module's PLT. */
struct dslot {
	unsigned k;
	uintptr_t at;
	bool jump;
};

/* Calls fn for each JUMP_SLOT and GLOB_DAT slot of the module that binds
 * one of hooks.h's names, defined elsewhere (a module that defines malloc
 * itself and binds to it keeps that). */
static void
delf_slots(const struct delf *e, void (*fn)(const struct dslot *, void *),
	   void *ctx)
{
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < e->nrel[t]; i++) {
			const ElfW(Rela) *r = &e->rel[t][i];
			unsigned type = ELF64_R_TYPE(r->r_info);
			if (type != R_X86_64_JUMP_SLOT &&
			    type != R_X86_64_GLOB_DAT)
				continue;
			size_t si = ELF64_R_SYM(r->r_info);
			const ElfW(Sym) *s = &e->sym[si];
			if (!si || r->r_addend != 0 ||
			    !delf_holds(e, (uintptr_t)s, sizeof(*s), false))
				continue;
			if (s->st_shndx != SHN_UNDEF)
				continue;
			int k = sym_index(delf_name(e, s));
			if (k < 0 || !ours_ok[k])
				continue;
			struct dslot sl = { (unsigned)k, e->bias + r->r_offset,
					    type == R_X86_64_JUMP_SLOT };
			if (sl.at % sizeof(uintptr_t) == 0 &&
			    delf_holds(e, sl.at, sizeof(uintptr_t), false))
				fn(&sl, ctx);
		}
}

static uintptr_t
slot_get(uintptr_t at)
{
	return __atomic_load_n((const uintptr_t *)at, __ATOMIC_RELAXED);
}

enum { SLOT_OURS, SLOT_REAL, SLOT_LAZY, SLOT_OTHER };

struct classify {
	const struct delf *e;
	size_t n[4];
};

static int
slot_class(const struct delf *e, const struct dslot *sl)
{
	uintptr_t v = slot_get(sl->at), r = real_of(sl->k);
	if (v == ours[sl->k])
		return SLOT_OURS;
	if (v && v == r)
		return SLOT_REAL;
	/* a JUMP_SLOT not resolved yet points at its PLT entry */
	if (sl->jump && delf_holds(e, v, 1, true))
		return SLOT_LAZY;
	return SLOT_OTHER;
}

static void
count_cb(const struct dslot *sl, void *ctx)
{
	struct classify *c = ctx;
	c->n[slot_class(c->e, sl)]++;
}

/* Makes the slot point at v; RELRO pages are writable just for the store. */
static bool
slot_set(const struct delf *e, uintptr_t at, uintptr_t v)
{
	bool ro = at >= e->relro_lo && at < e->relro_hi;
	void *pg = (void *)(at & ~(page_size - 1));
	if (ro && mprotect(pg, page_size, PROT_READ | PROT_WRITE) != 0)
		return false;
	__atomic_store_n((uintptr_t *)at, v, __ATOMIC_RELAXED);
	if (ro)
		(void)mprotect(pg, page_size, PROT_READ);
	return true;
}

struct fix {
	const struct delf *e;
	struct dmod *m;
	bool bypass;
};

static void
fix_cb(const struct dslot *sl, void *ctx)
{
	struct fix *f = ctx;
	if (f->bypass) {
		int c = slot_class(f->e, sl);
		if ((c == SLOT_REAL || c == SLOT_LAZY) &&
		    !slot_set(f->e, sl->at, ours[sl->k]) && !warned) {
			warned = true;
			hb_warn("heldby: cannot point the calls of an "
				"RTLD_DEEPBIND library at the shim (mprotect "
				"failed): its frees may go unseen\n");
		}
	}
	struct dmod *m = f->m;
	if (m->nwatch < WATCH) {
		m->watch_at[m->nwatch] = sl->at;
		m->watch_val[m->nwatch] = slot_get(sl->at);
		m->nwatch++;
	}
}

static bool
relocated(uintptr_t probe)
{
	struct dl_find_object dfo;
	return _dl_find_object((void *)probe, &dfo) == 0;
}

/* Looks at one module: if it binds any of our symbols past us, to the
 * function we wrap, it was loaded with RTLD_DEEPBIND (or its lookups
 * otherwise skip the global scope): those slots, and its lazy slots not
 * resolved yet, are pointed at us. A module whose slots already hold ours
 * is left as it is, and so is one bound to another allocator. */
static void
examine(struct dmod *m, const struct dl_phdr_info *info)
{
	m->todo = 0;
	m->nwatch = 0;
	if (m->bias == self_bias || (ldso_bias && m->bias == ldso_bias))
		return;
	struct delf e;
	if (!delf_read(info, &e))
		return;
	if (!relocated(m->probe)) {
		/* its slots do not hold what the loader will write yet */
		m->todo = ++m->unready < UNREADY_MAX;
		return;
	}
	struct classify c = { .e = &e };
	delf_slots(&e, count_cb, &c);
	/* Only unresolved slots: a module loaded in the usual way would bind
	 * them to us as well, unless the libraries it looks in first bring
	 * an allocator of their own, which we cannot tell. */
	bool bypass = c.n[SLOT_REAL] > 0 ||
		      (!c.n[SLOT_OURS] && c.n[SLOT_LAZY] && !any_foreign);
	struct fix f = { &e, m, bypass };
	delf_slots(&e, fix_cb, &f);
}

static struct dmod *
mod_find(const struct dl_phdr_info *info)
{
	for (size_t n = 0; n < nmods; n++) {
		size_t i = (cursor + n) % nmods;
		struct dmod *m = &mods[i];
		if (m->bias == info->dlpi_addr && m->phdr == info->dlpi_phdr &&
		    m->phnum == info->dlpi_phnum) {
			cursor = i + 1;
			return m;
		}
	}
	return NULL;
}

static struct dmod *
mod_add(const struct dl_phdr_info *info)
{
	if (nmods == capmods) {
		size_t cap = capmods ? capmods * 2 : 64;
		void *p =
			mmap(NULL, cap * sizeof(*mods), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (mods) {
			memcpy(p, mods, nmods * sizeof(*mods));
			munmap(mods, capmods * sizeof(*mods));
		}
		mods = p;
		capmods = cap;
	}
	struct dmod *m = &mods[nmods++];
	memset(m, 0, sizeof(*m));
	m->bias = info->dlpi_addr;
	m->phdr = info->dlpi_phdr;
	m->phnum = info->dlpi_phnum;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD) {
			m->probe = m->bias + info->dlpi_phdr[i].p_vaddr;
			break;
		}
	m->todo = 1;
	if (m->bias != self_bias && (!ldso_bias || m->bias != ldso_bias) &&
	    m->bias != libc_bias) {
		struct delf e;
		(void)delf_read(info, &e);
		m->foreign = e.sym && e.str && delf_defines(&e, "malloc");
	}
	cursor = nmods;
	return m;
}

static bool
watch_holds(const struct dmod *m)
{
	for (unsigned i = 0; i < m->nwatch; i++)
		if (slot_get(m->watch_at[i]) != m->watch_val[i])
			return false;
	return true;
}

/* First walk: which modules are new, or were loaded again where an old one
 * was. Everything it reads is under the loader's lock. */
static int
walk_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	size_t *ntodo = arg;
	struct dmod *m = mod_find(info);
	if (!m) {
		m = mod_add(info);
		if (!m)
			return 1;
	} else if (!m->todo && !watch_holds(m)) {
		m->todo = 1;
		m->unready = 0;
	}
	m->seen = 1;
	*ntodo += m->todo;
	return 0;
}

static int
fix_walk_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	struct dmod *m = mod_find(info);
	if (m && m->todo)
		examine(m, info);
	return 0;
}

/* Returns whether a module still waits to be relocated. */
static bool
look(void)
{
	for (size_t i = 0; i < nmods; i++)
		mods[i].seen = 0;
	size_t ntodo = 0;
	cursor = 0;
	mod_iterate(walk_cb, &ntodo);
	size_t j = 0;
	any_foreign = false;
	for (size_t i = 0; i < nmods; i++)
		if (mods[i].seen) {
			any_foreign |= mods[i].foreign;
			mods[j++] = mods[i];
		}
	nmods = j;
	if (ntodo) {
		cursor = 0;
		mod_iterate(fix_walk_cb, NULL);
	}
	size_t np = 0;
	bool waiting = false;
	for (size_t i = 0; i < nmods; i++)
		if (mods[i].todo) {
			waiting = true;
			if (np < PROBES)
				atomic_store_explicit(&probes[np++],
						      mods[i].probe,
						      memory_order_relaxed);
		}
	while (np < PROBES)
		atomic_store_explicit(&probes[np++], 0, memory_order_relaxed);
	return waiting;
}

static int
setup_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	uintptr_t lo, hi;
	mod_span(info, &lo, &hi);
	uintptr_t self = (uintptr_t)&dpb_settle;
	uintptr_t libc = (uintptr_t)real.malloc;
	if (self >= lo && self < hi) {
		self_bias = info->dlpi_addr;
		self_lo = lo;
		self_hi = hi;
	}
	if (libc >= lo && libc < hi)
		libc_bias = info->dlpi_addr;
	if (ldso_bias && info->dlpi_addr == ldso_bias && lo < hi) {
		atomic_store(&dpb_hot.ldso_lo, lo); /* then the length */
		atomic_store(&dpb_hot.ldso_len, hi - lo);
	}
	return 0;
}

static bool
setup(void)
{
	if (dpb_state)
		return dpb_state > 0;
	dpb_state = -1;
#if !defined(__x86_64__)
	return false; /* the relocation types are x86-64's */
#endif
	if (!_dl_find_object || !real.malloc)
		return false;
	page_size = getauxval(AT_PAGESZ);
	if (!page_size)
		page_size = 4096;
	ldso_bias = getauxval(AT_BASE);
	for (unsigned k = 0; k < DPB_NSYMS; k++) {
		uint32_t h = name_hash(sym_names[k]);
		unsigned i = 0;
		while (name_tab[(h + i) & (NAME_TAB - 1)])
			i++;
		name_tab[(h + i) & (NAME_TAB - 1)] = (uint8_t)(k + 1);
	}
#define X(ret, name, args, req) ours[DPB_SYM_##name] = (uintptr_t)&name;
	HELDBY_HOOKS(X)
#undef X
	dl_iterate_phdr(setup_cb, NULL);
	for (unsigned k = 0; k < DPB_NSYMS; k++)
		ours_ok[k] = ours[k] >= self_lo && ours[k] < self_hi;
	dpb_state = 1;
	return true;
}

static bool
look_lock(void)
{
	int me = getpid(), cur = 0;
	if (atomic_compare_exchange_strong(&look_owner, &cur, me))
		return true;
	/* held by a thread of the parent we were forked from */
	return cur != me &&
	       atomic_compare_exchange_strong(&look_owner, &cur, me);
}

/* The look, once another thread's is over. That one may have begun before
 * the module this call is for was relocated, and patched nothing of it;
 * returning at once let this thread's next call (the plugin's first free,
 * through a lazy slot) bind past us (test_deepbind's lazy case, under
 * load). Bounded (20 ms): a look takes microseconds, and one that waits
 * for a lock this thread holds (the loader's) is given up on. */
static bool
look_lock_wait(void)
{
	for (int i = 0; i < 400; i++) {
		if (look_lock())
			return true;
		ring_nap(50000);
	}
	return false;
}

/* Whether a module that waits to be relocated is now, probed without the
 * lock; or, every 64th time, whether to look anyway (one that went away
 * while waiting is dropped by a look). */
static bool
probe_ready(void)
{
	for (unsigned i = 0; i < PROBES; i++) {
		uintptr_t a =
			atomic_load_explicit(&probes[i], memory_order_relaxed);
		if (a && relocated(a))
			return true;
	}
	return atomic_fetch_add_explicit(&probe_count, 1,
					 memory_order_relaxed) %
		       64 ==
	       63;
}

void
dpb_settle(void)
{
	int saved = errno;
	int f = atomic_load_explicit(&dpb_hot.flags, memory_order_relaxed);
	if (!(f & DPB_LOADER) && !probe_ready())
		goto out; /* waiting only, and still */
	/* Not while the loader maps or unmaps modules: a free it makes on
	 * this thread, inside dlclose, would walk a module already unmapped
	 * (other threads' walks wait for it on dl_iterate_phdr's lock). */
	if (*(volatile int *)&_r_debug.r_state != RT_CONSISTENT)
		goto out;
	if (!look_lock_wait())
		goto out; /* another thread is looking, still */
	/* Down before the look: a load that comes during it raises it again. */
	atomic_fetch_and(&dpb_hot.flags, ~(DPB_LOADER | DPB_WAITING));
	if (setup() && look())
		atomic_fetch_or(&dpb_hot.flags, DPB_WAITING);
	atomic_store(&look_owner, 0);
out:
	errno = saved;
}
