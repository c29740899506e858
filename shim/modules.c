/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of the loaded modules (dl_iterate_phdr): path, load bias, the
 * ranges of their executable PT_LOAD segments and GNU build-id, so the
 * tools can symbolise offline and a library that is dlclose'd later still
 * resolves. Changes are detected with the
 * loader's dlpi_adds/dlpi_subs counters instead of wrapping dlopen, which
 * would break the caller's RUNPATH (memray#212). Writer thread only.
 *
 * A module goes into the trace when the first stack that runs through it
 * does (mod_need), or when it is unloaded. Most of a process's modules
 * never hold a frame of an allocating stack (the shim's own libraries, a
 * program's plugins that do not allocate), and each record costs a path
 * and a build-id: xz's trace was half module records.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deepbind.h"
#include "fds.h"
#include "heldby/trace.h"
#include "maps.h"
#include "modules.h"
#include "ownheap.h"
#include "sigmask.h"

#define MOD_RANGES 16
#define MOD_BID MOD_BID_MAX

struct mod {
	uint64_t id;
	uint64_t bias;
	uint64_t first; /* its first PT_LOAD: with bias and path, who it is */
	size_t nranges;
	uint64_t starts[MOD_RANGES], lens[MOD_RANGES];
	uint8_t bid[MOD_BID];
	size_t bidlen;
	int seen;
	bool announced; /* its MODULE record is in the trace */
	struct mod *next;
	char path[];
};

static struct mod *mods;
static struct mod *last_needed; /* where the last mod_need found its ip */
static uint64_t mod_next_id = 1;
static unsigned long long last_adds, last_subs;
static int have_snapshot;
static char exe_path[4096];
static char cmdline[HELDBY_CMDLINE_MAX];
static size_t cmdline_len;

/* /proc/self/cmdline: argv as the program was given it, NUL after each. */
static void
read_cmdline(void)
{
	cmdline_len = 0;
	int fd = fds_open("/proc/self/cmdline", O_RDONLY, 0);
	if (fd < 0)
		return;
	ssize_t n;
	while (cmdline_len < sizeof(cmdline) &&
	       (n = read(fd, cmdline + cmdline_len,
			 sizeof(cmdline) - cmdline_len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		cmdline_len += (size_t)n;
	}
	close(fd);
}

bool
mod_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < *lo)
			*lo = a;
		if (a + ph->p_memsz > *hi)
			*hi = a + ph->p_memsz;
	}
	return *lo < *hi;
}

int
mod_iterate(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
	/* dl_iterate_phdr holds the loader's lock while it calls back: a
	 * handler that siglongjmps out of a hook meanwhile would leave it
	 * taken for good, and the writer waiting on it. */
	sigset_t old;
	sig_block_async(&old);
	int r = dl_iterate_phdr(cb, arg);
	sig_unblock(&old);
	return r;
}

void
mod_init(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path[n > 0 ? n : 0] = 0;
	read_cmdline();
}

const char *
mod_cmdline(size_t *len)
{
	*len = cmdline_len;
	return cmdline;
}

const char *
mod_exe_path(void)
{
	return exe_path;
}

static int
counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;
	if (size <
	    offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		return 1;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;
}

size_t
mod_build_id(const struct dl_phdr_info *info, uint8_t *out)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		size_t al = ph->p_align == 8 ? 8 : 4;
		const uint8_t *p =
			(const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			ElfW(Nhdr) nh;
			memcpy(&nh, p, sizeof(nh));
			const uint8_t *name = p + sizeof(nh);
			const uint8_t *desc =
				name + ((nh.n_namesz + al - 1) & ~(al - 1));
			const uint8_t *next =
				desc + ((nh.n_descsz + al - 1) & ~(al - 1));
			if (next > end || next <= p)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				size_t n = nh.n_descsz;
				if (n > MOD_BID)
					n = MOD_BID;
				memcpy(out, desc, n);
				return n;
			}
			p = next;
		}
	}
	return 0;
}

/*
 * The kernel's absolute path of the file mapped at ADDR. dlopen("./x.so")
 * leaves a relative dlpi_name that means nothing once the cwd changes or the
 * tools run elsewhere.
 */
static bool
mapped_path(uint64_t addr, char *out, size_t cap)
{
	char buf[8192];
	uintptr_t lo, hi;
	const char *line =
		maps_line_of((uintptr_t)addr, buf, sizeof(buf), &lo, &hi);
	const char *path = line ? strchr(line, '/') : NULL;
	if (!path || strlen(path) >= cap)
		return false;
	strcpy(out, path);
	return true;
}

static int
collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	const char *path = info->dlpi_name;
	if (!path || !*path)
		path = exe_path;
	uint64_t first = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD) {
			first = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			break;
		}
	char abs_path[4096];
	if (path[0] != '/' && first &&
	    mapped_path(first, abs_path, sizeof(abs_path)))
		path = abs_path;
	/* The same file at the same place is the same module, even across a
	 * dlclose and dlopen between two snapshots; a rebuilt file is not. */
	uint8_t bid[MOD_BID];
	size_t bidlen = mod_build_id(info, bid);
	for (struct mod *m = mods; m; m = m->next)
		if (m->seen != 1 && m->bias == info->dlpi_addr &&
		    strcmp(m->path, path) == 0 && m->first == first &&
		    m->bidlen == bidlen && memcmp(m->bid, bid, bidlen) == 0) {
			m->seen = m->seen == 2 ? 2 : 1;
			return 0;
		}
	size_t plen = strlen(path);
	struct mod *m = own_malloc(sizeof(*m) + plen + 1);
	if (!m)
		return 0;
	memset(m, 0, sizeof(*m));
	memcpy(m->path, path, plen + 1);
	m->bias = info->dlpi_addr;
	m->first = first;
	/* Only the code: a frame's address lies in an executable segment,
	 * and each range costs the trace two addresses. */
	for (int i = 0; i < info->dlpi_phnum && m->nranges < MOD_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		m->starts[m->nranges] = info->dlpi_addr + ph->p_vaddr;
		m->lens[m->nranges] = ph->p_memsz;
		m->nranges++;
	}
	memcpy(m->bid, bid, bidlen);
	m->bidlen = bidlen;
	m->seen = 2; /* new in this snapshot (mod_need announces it) */
	struct mod **pp = &mods; /* keep load order: the executable first */
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
	return 0;
}

void
mod_forget(void)
{
	/* Dropped, not freed: a fork child's copy may have been mid-change in
	 * the writer thread; untouched it stays shared with the parent. */
	mods = NULL;
	last_needed = NULL;
	mod_next_id = 1;
	have_snapshot = 0;
	last_adds = last_subs = 0;
}

static int
announce(struct mod *m, mod_emit_fn emit, void *ctx)
{
	m->id = mod_next_id++;
	m->announced = true;
	return emit(ctx, 0, m->id, m->bias, m->nranges, m->starts, m->lens,
		    m->path, m->bid, m->bidlen);
}

void
mod_refresh(mod_emit_fn emit, void *ctx, bool force)
{
	/* A load no hook has looked at since: point an RTLD_DEEPBIND
	 * library at us before it is called (deepbind.h). */
	dpb_poll();
	unsigned long long c[2] = { 0, 0 };
	dl_iterate_phdr(counts_cb, c);
	if (have_snapshot && !force && c[0] == last_adds && c[1] == last_subs)
		return;
	for (struct mod *m = mods; m; m = m->next)
		m->seen = 0;
	/* Collect under the loader's lock, announce outside it. */
	dl_iterate_phdr(collect_cb, NULL);
	last_adds = c[0];
	last_subs = c[1];
	have_snapshot = 1;
	struct mod **pp = &mods;
	while (*pp) {
		struct mod *m = *pp;
		if (m->seen == 0) {
			/* Stacks taken before the unload may still be in the
			 * rings: they find it in the trace. */
			if (!m->announced)
				(void)announce(m, emit, ctx);
			emit(ctx, 1, m->id, 0, 0, NULL, NULL, NULL, NULL, 0);
			*pp = m->next;
			if (last_needed == m)
				last_needed = NULL;
			own_free(m);
			continue;
		}
		pp = &m->next;
	}
}

static bool
holds(const struct mod *m, uint64_t ip)
{
	/* a return address may sit just past the end of its code */
	for (size_t i = 0; i < m->nranges; i++)
		if (ip - m->starts[i] <= m->lens[i])
			return true;
	return false;
}

int
mod_need(uint64_t ip, mod_emit_fn emit, void *ctx)
{
	struct mod *m = last_needed;
	if (!m || !holds(m, ip)) {
		for (m = mods; m && !holds(m, ip); m = m->next)
			;
		if (!m)
			return 0; /* no module: generated code */
		last_needed = m;
	}
	return m->announced ? 0 : announce(m, emit, ctx);
}
