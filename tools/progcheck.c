/* SPDX-License-Identifier: MIT */
/*
 * Before `heldby run` starts a program: can LD_PRELOAD see its allocations
 * at all? A static binary never loads the shim, and a program that defines
 * malloc itself (a statically linked tcmalloc or jemalloc, its own arena)
 * resolves malloc before the shim. Either way the trace would be empty or
 * misleading, so heldby says so instead (docs/architecture.md, "Traps
 * the shim is built around").
 */
#include "progcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* What execvp would run: argv0 itself when it has a slash, else the first
 * executable regular file of that name on PATH. Returns 0 or -ENOENT. */
int
prog_resolve(const char *argv0, char *out, size_t outlen)
{
	struct stat sb;
	if (strchr(argv0, '/')) {
		if (strlen(argv0) >= outlen)
			return -ENAMETOOLONG;
		strcpy(out, argv0);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin"; /* execvp's default */
	for (const char *p = path;; p++) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		int n = snprintf(out, outlen, "%.*s%s%s", (int)dl, p,
				 dl ? "/" : "", argv0);
		if (n > 0 && (size_t)n < outlen && stat(out, &sb) == 0 &&
		    S_ISREG(sb.st_mode) && access(out, X_OK) == 0)
			return 0;
		if (!colon)
			break;
		p = colon;
	}
	return -ENOENT;
}

static const char *const alloc_syms[] = { "malloc", "calloc", "realloc",
					  "free" };

/* 1 if sym is a defined function of the allocator family. */
static int
defines_alloc(Elf *e, GElf_Shdr *sh, Elf_Data *d, size_t i)
{
	GElf_Sym s;
	if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
	    GELF_ST_TYPE(s.st_info) != STT_FUNC)
		return 0;
	const char *name = elf_strptr(e, sh->sh_link, s.st_name);
	if (!name)
		return 0;
	for (size_t k = 0; k < sizeof alloc_syms / sizeof alloc_syms[0]; k++)
		if (!strcmp(name, alloc_syms[k]))
			return 1;
	return 0;
}

/* 1 if the executable's dynamic or full symbol table defines malloc & co. */
static int
own_allocator(Elf *e)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 1; i < n; i++)
			if (defines_alloc(e, &sh, d, i))
				return 1;
	}
	return 0;
}

/* Running it changes our ids, so ld.so enters secure-execution mode and
 * ignores LD_PRELOAD (ld.so(8)); on a nosuid mount the bits do nothing. */
static int
changes_ids(int fd, const struct stat *sb)
{
	struct statvfs vfs;
	if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return 0;
	return ((sb->st_mode & S_ISUID) && sb->st_uid != geteuid()) ||
	       ((sb->st_mode & S_ISGID) && sb->st_gid != getegid());
}

enum prog_kind
prog_check(const char *path)
{
	enum prog_kind kind = PROG_UNKNOWN;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PROG_UNKNOWN;
	struct stat sb;
	if (fstat(fd, &sb) == 0 && changes_ids(fd, &sb)) {
		close(fd);
		return PROG_SETID;
	}
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	size_t nph;
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
	    elf_getphdrnum(e, &nph) != 0)
		goto out; /* a script, or not a program we understand */
	int interp = 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
			interp = 1;
	}
	/* No program interpreter: nothing will ever load a preloaded library.
	 * (A shared library has none either, but nobody runs one.) */
	kind = !interp		  ? PROG_STATIC
	       : own_allocator(e) ? PROG_OWN_MALLOC
				  : PROG_DYNAMIC;
out:
	if (e)
		elf_end(e);
	close(fd);
	return kind;
}
