/* SPDX-License-Identifier: MIT */
/*
 * One Dwfl per traced module, reported at bias 0 so that addresses are the
 * module's own virtual addresses (ip - load bias): modules unloaded and
 * replaced at the same addresses then never overlap. Inlined frames are
 * recovered as eu-addr2line -i does: dwarf_getscopes on the CU DIE, each
 * DW_TAG_inlined_subroutine giving its caller's DW_AT_call_file/call_line.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

#include "cu_index.h"
#include "demangle.h"
#include "symcache.h"

struct sym_entry;

struct sym_mod {
	uint64_t id;
	Dwfl *dwfl;
	Dwfl_Module *mod; /* NULL: file missing or build-id differs */
	char *file;	  /* the module file opened */
	uint8_t build_id[64];
	size_t build_id_len; /* 0: none, or too long: not cached on disk */
	struct sym_entry *entries; /* this module's, when cached on disk */
	int dirty;		   /* entries the disk cache lacks */
	int names;		/* 0: not asked; 1: names; -1: .dynsym only */
	struct cu_index *units; /* where there are no .debug_aranges */
	int units_tried;
	UT_hash_handle hh;
};

struct sym_key {
	uint64_t module, addr;
};

struct sym_entry {
	struct sym_key key;
	size_t n;
	struct sym_frame *frames;
	struct sym_entry *next_in_mod;
	UT_hash_handle hh;
};

struct symbolizer {
	char *dirs[4]; /* where to look for a module recorded by a relative path
			*/
	size_t ndirs;
	struct sym_mod *mods;
	struct sym_entry *cache;
	struct sym_frame unknown;
};

static char *debuginfo_path;

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct symbolizer *
sym_new(void)
{
	return calloc(1, sizeof(struct symbolizer));
}

void
sym_frames_free(struct sym_frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)f[i].function);
		free((char *)f[i].file);
	}
	free(f);
}

void
sym_add_dir(struct symbolizer *s, const char *dir)
{
	if (s->ndirs < sizeof s->dirs / sizeof s->dirs[0] && dir && *dir)
		if ((s->dirs[s->ndirs] = strdup(dir)))
			s->ndirs++;
}

void
sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndirs; i++)
		free(s->dirs[i]);
	struct sym_mod *m, *mt;
	HASH_ITER(hh, s->mods, m, mt)
	{
		HASH_DEL(s->mods, m);
		cu_index_free(m->units);
		if (m->dwfl)
			dwfl_end(m->dwfl);
		free(m->file);
		free(m);
	}
	struct sym_entry *e, *et;
	HASH_ITER(hh, s->cache, e, et)
	{
		HASH_DEL(s->cache, e);
		sym_frames_free(e->frames, e->n);
		free(e);
	}
	free(s);
}

/* Adds an entry for address addr of module m (frames owned by it from
 * now on); 0 or -1 when out of memory (frames then still the caller's). */
static int
add_entry(struct symbolizer *s, struct sym_mod *m, uint64_t mod_id,
	  uint64_t addr, struct sym_frame *frames, size_t n)
{
	struct sym_entry *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->key = (struct sym_key){ mod_id, addr };
	e->n = n;
	e->frames = frames;
	HASH_ADD(hh, s->cache, key, sizeof e->key, e);
	if (m) {
		e->next_in_mod = m->entries;
		m->entries = e;
	}
	return 0;
}

struct load_ctx {
	struct symbolizer *s;
	struct sym_mod *m;
};

static int
load_one(void *ctx, uint64_t addr, struct sym_frame *frames, size_t n)
{
	struct load_ctx *lc = ctx;
	struct sym_entry *e;
	struct sym_key key = { lc->m->id, addr };
	HASH_FIND(hh, lc->s->cache, &key, sizeof key, e);
	/* A damaged file may name an address twice. */
	if (e || add_entry(lc->s, lc->m, lc->m->id, addr, frames, n)) {
		sym_frames_free(frames, n);
		return -1;
	}
	return 0;
}

/* Another build of the same path must not name our frames. */
static int
build_id_matches(Dwfl_Module *dm, const struct rd_module *rm)
{
	if (!rm->build_id_len)
		return 1;
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(dm, &bits, &vaddr);
	return len == (int)rm->build_id_len &&
	       memcmp(bits, rm->build_id, (size_t)len) == 0;
}

static struct sym_mod *
get_mod(struct symbolizer *s, const struct rd_module *rm)
{
	struct sym_mod *m;
	HASH_FIND(hh, s->mods, &rm->id, sizeof rm->id, m);
	if (m)
		return m;
	m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->id = rm->id;
	HASH_ADD(hh, s->mods, id, sizeof m->id, m);
	if (!rm->path || !rm->path[0] || rm->path[0] == '[' ||
	    !strncmp(rm->path, "linux-vdso", 10))
		return m; /* [vdso], or no path: nothing to open */
	/* dlopen("./libx.so") is recorded as given: try it from here, then
	 * from the directories the caller named (the trace's, the exe's). */
	char *cand[1 + sizeof s->dirs / sizeof s->dirs[0]];
	size_t ncand = 0;
	cand[ncand++] = strdup(rm->path);
	if (rm->path[0] != '/')
		for (size_t i = 0; i < s->ndirs; i++)
			if (asprintf(&cand[ncand], "%s/%s", s->dirs[i],
				     rm->path) >= 0)
				ncand++;
	Dwfl_Module *dm = NULL;
	size_t i;
	for (i = 0; i < ncand && !dm; i++) {
		if (!cand[i] || access(cand[i], R_OK) != 0)
			continue;
		if (m->dwfl)
			dwfl_end(m->dwfl);
		m->dwfl = dwfl_begin(&callbacks);
		if (!m->dwfl)
			break;
		dwfl_report_begin(m->dwfl);
		dm = dwfl_report_elf(m->dwfl, rm->path, cand[i], -1, 0, false);
		dwfl_report_end(m->dwfl, NULL, NULL);
		if (dm && !build_id_matches(dm, rm))
			dm = NULL;
		if (dm) {
			m->file = cand[i];
			cand[i] = NULL;
		}
	}
	for (i = 0; i < ncand; i++)
		free(cand[i]);
	if (!dm)
		return m;
	m->mod = dm;
	if (m->file && rm->build_id_len &&
	    rm->build_id_len <= sizeof m->build_id) {
		memcpy(m->build_id, rm->build_id, rm->build_id_len);
		m->build_id_len = rm->build_id_len;
		struct load_ctx lc = { s, m };
		(void)symcache_load(m->build_id, m->build_id_len, m->file,
				    load_one, &lc);
	}
	return m;
}

int
sym_module_usable(struct symbolizer *s, const struct rd_module *m)
{
	struct sym_mod *sm = m ? get_mod(s, m) : NULL;
	return sm && sm->mod;
}

/* The entries of the ELF's section of type type (SHT_DYNSYM), or 0. */
static size_t
section_entries(Elf *elf, GElf_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 1;
	return 0;
}

/* libdw reads .symtab, or else .dynsym merged with the MiniDebugInfo of
 * .gnu_debugdata (elfutils find_aux_sym, with liblzma): more symbols than
 * .dynsym holds means one of those. A debug file found, or DWARF in the
 * file itself, names functions too. */
static int
has_names(Dwfl_Module *dm)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(dm, &bias);
	if (!elf || section_entries(elf, SHT_SYMTAB))
		return 1; /* unreadable: no hint we could stand by */
	int nsym = dwfl_module_getsymtab(dm); /* looks for the debug file */
	if (nsym > 0 && (size_t)nsym > section_entries(elf, SHT_DYNSYM))
		return 1;
	const char *debugfile = NULL;
	dwfl_module_info(dm, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
	return debugfile || dwfl_module_getdwarf(dm, &bias);
}

int
sym_module_stripped(struct symbolizer *s, const struct rd_module *m)
{
	struct sym_mod *sm = m ? get_mod(s, m) : NULL;
	if (!sm || !sm->mod)
		return 0;
	if (!sm->names)
		sm->names = has_names(sm->mod) ? 1 : -1;
	return sm->names < 0;
}

static char *
nice_name(const char *raw)
{
	if (!raw)
		return NULL;
	/* Versioned ELF symbols: "__libc_start_main@@GLIBC_2.34". */
	const char *at = strchr(raw, '@');
	char *plain = at ? strndup(raw, (size_t)(at - raw)) : strdup(raw);
	if (!plain)
		return NULL;
	char *d = tools_demangle(plain);
	if (d) {
		free(plain);
		return d;
	}
	return plain;
}

static const char *
die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		n = dwarf_formstring(&a);
	if (!n && dwarf_attr_integrate(die, DW_AT_name, &a))
		n = dwarf_formstring(&a);
	return n;
}

struct fbuf {
	struct sym_frame *f;
	size_t n, cap;
};

/* file joined to the compilation directory when relative, with "." and
 * ".." removed lexically: "../examples/x.c" in /src/build -> /src/examples/x.c.
 * Returns a malloc'd string. */
static char *
full_path(const char *dir, const char *file)
{
	char *joined;
	if (file[0] == '/' || !dir || !*dir)
		joined = strdup(file);
	else if (asprintf(&joined, "%s/%s", dir, file) < 0)
		joined = NULL;
	if (!joined || joined[0] != '/')
		return joined;
	/* Normalise in place: a component stack over the same buffer. */
	char *out = joined, *w = joined, *p = joined;
	while (*p) {
		while (*p == '/')
			p++;
		char *e = p;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (w > out && *--w != '/')
				;
		} else {
			*w++ = '/';
			memmove(w, p, n);
			w += n;
		}
		p = e;
	}
	if (w == out)
		*w++ = '/';
	*w = 0;
	return out;
}

static int
push(struct fbuf *b, const char *fn_raw, const char *file, unsigned line,
     int inlined, const char *dir)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct sym_frame *f = realloc(b->f, cap * sizeof *f);
		if (!f)
			return -1;
		b->f = f;
		b->cap = cap;
	}
	struct sym_frame *f = &b->f[b->n++];
	f->function = nice_name(fn_raw);
	f->file = file ? full_path(dir, file) : NULL;
	f->line = line;
	f->inlined = inlined;
	return 0;
}

static const char *
call_file(Dwarf_Die *cu, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t nfiles;
	if (!dwarf_attr(die, DW_AT_call_file, &a) ||
	    dwarf_formudata(&a, &idx) != 0)
		return NULL;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static unsigned
call_line(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	if (!dwarf_attr(die, DW_AT_call_line, &a) ||
	    dwarf_formudata(&a, &w) != 0)
		return 0;
	return (unsigned)w;
}

/* The compile unit of addr: from .debug_aranges, else (clang emits none)
 * from the units' own ranges. */
static Dwarf_Die *
unit_of(struct sym_mod *sm, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	Dwarf_Die *cu = dwfl_module_addrdie(sm->mod, addr, bias);
	if (cu)
		return cu;
	if (!sm->units_tried) {
		sm->units_tried = 1;
		sm->units = cu_index_new(sm->mod);
	}
	return sm->units ? cu_index_find(sm->units, addr, bias) : NULL;
}

static void
resolve(struct sym_mod *sm, Dwarf_Addr addr, struct fbuf *b)
{
	Dwfl_Module *mod = sm->mod;
	const char *file = NULL;
	int line = 0;
	Dwfl_Line *ln = dwfl_module_getsrc(mod, addr);
	if (ln)
		file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);

	GElf_Off off;
	GElf_Sym sym;
	const char *symname =
		dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);

	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = unit_of(sm, addr, &bias);
	Dwarf_Line *dl = !ln && cu ? dwarf_getsrc_die(cu, addr - bias) : NULL;
	if (dl) { /* no .debug_aranges: the unit's line table */
		file = dwarf_linesrc(dl, NULL, NULL);
		if (dwarf_lineno(dl, &line) != 0)
			line = 0;
	}
	if (line < 0)
		line = 0;
	const char *dir = ln ? dwfl_line_comp_dir(ln) : NULL;
	if (!dir && cu) {
		Dwarf_Attribute a;
		dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
	}
	Dwarf_Die *scopes = NULL;
	int n = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
	if (n > 0) {
		/* dwarf_getscopes follows an inlined subroutine into its
		 * abstract origin; the concrete nesting (inlined call inside
		 * inlined call inside the function) comes from the innermost
		 * DIE's own parents, as eu-addr2line -i does. */
		Dwarf_Die inner = scopes[0];
		free(scopes);
		scopes = NULL;
		n = dwarf_getscopes_die(&inner, &scopes);
	}
	int done = 0;
	for (int i = 0; i < n && !done; i++) {
		Dwarf_Die *d = &scopes[i];
		int tag = dwarf_tag(d);
		if (tag == DW_TAG_inlined_subroutine) {
			if (push(b, die_name(d), file, (unsigned)line, 1, dir))
				break;
			file = call_file(cu, d);
			line = (int)call_line(d);
		} else if (tag == DW_TAG_subprogram) {
			/* The ELF symbol names the out-of-line function
			 * exactly (mangled, so fully qualified). */
			const char *nm = symname ? symname : die_name(d);
			push(b, nm, file, (unsigned)line, 0, dir);
			done = 1;
		}
	}
	free(scopes);
	if (!done && b->n == 0 && n <= 0) {
		/* No function DIE covers addr (start-up code, assembly): a
		 * line found now belongs to a neighbour; do not show it. */
		push(b, symname, NULL, 0, 0, NULL);
	} else if (!done) {
		push(b, symname, file, (unsigned)line, 0, dir);
	}
}

size_t
sym_resolve(struct symbolizer *s, const struct rd_module *m, uint64_t offset,
	    int is_return, const struct sym_frame **frames)
{
	uint64_t addr = is_return && offset ? offset - 1 : offset;
	struct sym_key key = { m ? m->id : 0, addr };
	struct sym_entry *e;
	HASH_FIND(hh, s->cache, &key, sizeof key, e);
	if (e) {
		*frames = e->frames;
		return e->n;
	}
	struct sym_mod *sm = m ? get_mod(s, m) : NULL;
	if (sm && sm->entries) { /* the disk cache may just have come in */
		HASH_FIND(hh, s->cache, &key, sizeof key, e);
		if (e) {
			*frames = e->frames;
			return e->n;
		}
	}
	struct fbuf b = { 0 };
	if (sm && sm->mod)
		resolve(sm, addr, &b);
	if (!b.n && push(&b, NULL, NULL, 0, 0, NULL)) {
		*frames = &s->unknown;
		return 1;
	}
	int cached = sm && sm->build_id_len; /* only set for a usable module */
	if (add_entry(s, cached ? sm : NULL, key.module, addr, b.f, b.n)) {
		sym_frames_free(b.f, b.n);
		*frames = &s->unknown;
		return 1;
	}
	if (cached)
		sm->dirty = 1;
	*frames = b.f;
	return b.n;
}

static int
save_next(void *ctx, uint64_t *addr, const struct sym_frame **frames, size_t *n)
{
	struct sym_entry **it = ctx;
	if (!*it)
		return 0;
	*addr = (*it)->key.addr;
	*frames = (*it)->frames;
	*n = (*it)->n;
	*it = (*it)->next_in_mod;
	return 1;
}

void
sym_save_cache(struct symbolizer *s)
{
	struct sym_mod *m, *mt;
	HASH_ITER(hh, s->mods, m, mt)
	{
		if (!m->dirty)
			continue;
		const char *debugfile = NULL;
		dwfl_module_info(m->mod, NULL, NULL, NULL, NULL, NULL, NULL,
				 &debugfile);
		struct sym_entry *it = m->entries;
		(void)symcache_save(m->build_id, m->build_id_len, m->file,
				    debugfile, save_next, &it);
		m->dirty = 0;
	}
}
