/* SPDX-License-Identifier: MIT */
/*
 * `heldby report A.hbt B.hbt ...` or `heldby report DIR`: the thousands of
 * small traces of a forking server, read one after another. Each trace is
 * kept only while its process's figures and its holders at the peak (by
 * their folded frames) are taken, so memory grows with the distinct call
 * sites, not with the traces; one symbolizer is lent to consecutive traces
 * of one program, so that each module is opened once, not once a trace.
 */
#include "report_many.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmdline.h"
#include "hash.h"
#include "json_str.h"
#include "units.h"

#define DEPTH 8		/* frames that name a site: the text report's */
#define CANDIDATES 1000 /* sites merged per process; the rest is counted */
#define CMD_SHOWN 40	/* command line characters in the table */
#define NAME_W 48	/* the widest name column, as the text report's */
#define MAX_DEPTH 1024	/* guards against a parent cycle in a damaged file */

/* A frame that outlives its trace: the strings are copies. */
struct mframe {
	char *function, *file, *module; /* NULL: unknown */
	unsigned line;
	int inlined;
	uint64_t offset, ip;
};

/* A call site merged across the processes, keyed by its frames. */
struct msite {
	char *key;
	struct mframe *f; /* those of the first process it was seen in */
	size_t nf;
	uint64_t bytes, max_bytes; /* sum and largest over the processes */
	size_t procs;
	uint64_t here; /* in the trace being read: 0 until it is seen there */
	struct msite *next_here;
	UT_hash_handle hh;
};

struct mproc {
	const char *path;
	size_t order; /* in the arguments */
	uint64_t pid;
	char *argv; /* reader_cmdline's, NULL: not in the trace */
	size_t argv_len;
	char *exe;
	uint64_t peak_bytes, end_bytes;
	int complete;
};

/* A module as the lent symbolizer knows it. It caches frames by the
 * trace's module id, so a trace may borrow it only while its ids name the
 * same files. */
struct known_mod {
	uint64_t id;
	char *path;
	uint8_t build_id[64];
	size_t build_id_len;
	UT_hash_handle hh;
};

/* The symbolizer lent to each next trace whose folder, program folder
 * (report_load's search folders) and module ids agree. */
struct loan {
	struct symbolizer *sym; /* NULL: none */
	char *path, *exe;	/* of the trace it was made for */
	struct known_mod *mods;
};

struct many {
	const struct report_opts *opt;
	char **paths; /* every trace to read, owned */
	size_t npaths, paths_cap;
	struct mproc *procs;
	size_t nprocs, procs_cap;
	struct msite *sites;
	struct msite *here; /* the sites of the trace being read */
	uint64_t left_out;  /* peak bytes of sites past CANDIDATES */
	uint64_t peaks;	    /* the processes' peaks, summed */
	struct loan loan;
};

static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static int
is_folder(const char *path)
{
	struct stat st;
	return strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

int
report_many_wanted(char *const *args, size_t n)
{
	return n > 1 || (n == 1 && is_folder(args[0]));
}

/* "t.123.hbt", "t.123.hbt.2" (heldby run's name when t.123.hbt existed). */
static int
trace_name(const char *name)
{
	size_t n = strlen(name);
	if (n >= 4 && !strcmp(name + n - 4, ".hbt"))
		return 1;
	const char *dot = strrchr(name, '.');
	if (!dot || dot - name < 4 || strncmp(dot - 4, ".hbt.", 5) || !dot[1])
		return 0;
	for (const char *p = dot + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
report_many_free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* Appends a copy of s to *v; 0 or -ENOMEM. */
static int
push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, c * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	if (!((*v)[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Whether dir's entry e is a regular file (a link to one too). */
static int
regular(DIR *d, const struct dirent *e)
{
	struct stat st;
	if (e->d_type == DT_REG)
		return 1;
	if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
		return 0;
	return fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

int
report_many_expand(const char *dir, char ***out, size_t *n)
{
	char **v = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t len = strlen(dir);
	const char *sep = len && dir[len - 1] == '/' ? "" : "/";
	struct dirent *e;
	while (!rc && (errno = 0, e = readdir(d))) {
		if (!trace_name(e->d_name) || !regular(d, e))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s%s%s", dir, sep,
			     e->d_name) >= (int)sizeof path)
			rc = -ENAMETOOLONG;
		else
			rc = push_str(&v, &k, &cap, path);
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (rc) {
		report_many_free_paths(v, k);
		return rc;
	}
	if (k)
		qsort(v, k, sizeof *v, cmp_str);
	*out = v;
	*n = k;
	return 0;
}

/* The traces the arguments name, in m->paths: a folder's in name order,
 * a file as given. Returns 0, or 1 when a folder could not be read or
 * had none (said on stderr). */
static int
gather(struct many *m, char *const *args, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_folder(args[i])) {
			if (push_str(&m->paths, &m->npaths, &m->paths_cap,
				     args[i])) {
				fprintf(stderr, "heldby: %s: out of memory\n",
					args[i]);
				failed = 1;
			}
			continue;
		}
		char **v;
		size_t k;
		int rc = report_many_expand(args[i], &v, &k);
		if (rc)
			fprintf(stderr, "heldby: %s: %s\n", args[i],
				strerror(-rc));
		else if (!k)
			fprintf(stderr,
				"heldby: %s: no traces in this folder (names "
				"ending .hbt or .hbt.N)\n",
				args[i]);
		for (size_t j = 0; j < k && !rc; j++)
			rc = push_str(&m->paths, &m->npaths, &m->paths_cap,
				      v[j]);
		if (rc == -ENOMEM)
			fprintf(stderr, "heldby: %s: out of memory\n", args[i]);
		failed |= rc != 0 || !k;
		report_many_free_paths(v, k);
	}
	return failed;
}

/* ---- the symbolizer lent from trace to trace ---- */

/* Up to and with the last '/': "a/" for "a/t.hbt", "" for "t.hbt". */
static size_t
folder_len(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? (size_t)(slash - path) + 1 : 0;
}

static int
same_folder(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	size_t n = folder_len(a);
	return n == folder_len(b) && !strncmp(a, b, n);
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void
loan_end(struct loan *l)
{
	if (l->sym)
		sym_save_cache(l->sym);
	sym_free(l->sym);
	free(l->path);
	free(l->exe);
	struct known_mod *k, *t;
	HASH_ITER(hh, l->mods, k, t)
	{
		HASH_DEL(l->mods, k);
		free(k->path);
		free(k);
	}
	memset(l, 0, sizeof *l);
}

/* Calls fn for each module that the stacks of v[0..n) pass through, until
 * it returns non-zero; returns that, or 0. */
static int
each_module(const struct report *rep, struct rp_site *const *v, size_t n,
	    int (*fn)(struct loan *l, const struct rd_module *m),
	    struct loan *l)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t id = v[i]->stack;
		for (int depth = 0; id && depth < MAX_DEPTH; depth++) {
			const struct rd_node *node = reader_node(rep->r, id);
			if (!node)
				break;
			const struct rd_module *m =
				node->module
					? reader_module(rep->r, node->module)
					: NULL;
			int rc = m ? fn(l, m) : 0;
			if (rc)
				return rc;
			id = node->parent;
		}
	}
	return 0;
}

/* 1 when the loan knows m's id as another file. */
static int
module_differs(struct loan *l, const struct rd_module *m)
{
	struct known_mod *k;
	HASH_FIND(hh, l->mods, &m->id, sizeof m->id, k);
	return k && (!same_str(k->path, m->path) ||
		     k->build_id_len != m->build_id_len ||
		     memcmp(k->build_id, m->build_id, k->build_id_len) != 0);
}

/* Notes m's id for the loan: 0, or -ENOMEM. */
static int
module_note(struct loan *l, const struct rd_module *m)
{
	struct known_mod *k;
	HASH_FIND(hh, l->mods, &m->id, sizeof m->id, k);
	if (k)
		return 0;
	k = calloc(1, sizeof *k);
	if (!k || (m->path && !(k->path = strdup(m->path)))) {
		free(k);
		return -ENOMEM;
	}
	k->id = m->id;
	k->build_id_len = m->build_id_len <= sizeof k->build_id
				  ? m->build_id_len
				  : sizeof k->build_id;
	if (k->build_id_len)
		memcpy(k->build_id, m->build_id, k->build_id_len);
	HASH_ADD(hh, l->mods, id, sizeof k->id, k);
	return 0;
}

/* Gives rep the lent symbolizer where it can take it (report_load's own,
 * which has opened nothing yet, is freed), or makes rep's the one lent
 * from now on. v[0..n): the sites whose stacks it will symbolise. */
static void
borrow(struct loan *l, struct report *rep, const char *path,
       struct rp_site *const *v, size_t n)
{
	const char *exe = reader_exe(rep->r);
	if (l->sym && same_folder(l->path, path) && same_folder(l->exe, exe) &&
	    !each_module(rep, v, n, module_differs, l)) {
		sym_free(rep->sym);
		rep->sym = l->sym;
	} else {
		loan_end(l);
		l->sym = rep->sym;
		l->path = strdup(path);
		l->exe = exe ? strdup(exe) : NULL;
		if (!l->path || (exe && !l->exe)) {
			free(l->path); /* never lent again */
			l->path = NULL;
		}
	}
	if (each_module(rep, v, n, module_note, l)) {
		free(l->path); /* a module it does not know: not lent again */
		l->path = NULL;
	}
}

/* ---- what each trace leaves ---- */

/* How many of the n frames from f name the site: up to depth, and up to
 * where the process or thread starts. */
static size_t
key_frames(const struct frame *f, size_t n, size_t depth)
{
	size_t k = 0;
	while (k < n && k < depth && !(k && report_is_start(&f[k])))
		k++;
	return k;
}

/* Appends s and a separator to the key being built; 0 or -ENOMEM. */
static int
key_put(char **k, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 2 > *cap) {
		size_t c = (*len + n + 2) * 2;
		char *nk = realloc(*k, c);
		if (!nk)
			return -ENOMEM;
		*k = nk;
		*cap = c;
	}
	memcpy(*k + *len, s, n);
	*len += n;
	(*k)[(*len)++] = '\x1f'; /* in no name a compiler makes */
	(*k)[*len] = 0;
	return 0;
}

/* The key that merges a site across processes: each frame's function,
 * file and line; a frame without a name by its module and offset, which
 * are the same in every process of one build. NULL: out of memory. */
static char *
frames_key(const struct frame *f, size_t n)
{
	size_t len = 0, cap = 0;
	char *k = NULL;
	int rc = key_put(&k, &len, &cap, "");
	for (size_t i = 0; i < n && !rc; i++) {
		char num[64];
		if (f[i].function) {
			snprintf(num, sizeof num, "%u%s", f[i].line,
				 f[i].inlined ? "i" : "");
			rc = key_put(&k, &len, &cap, f[i].function) ||
			     key_put(&k, &len, &cap,
				     f[i].file ? f[i].file : "") ||
			     key_put(&k, &len, &cap, num);
		} else {
			snprintf(num, sizeof num, "+%" PRIx64, f[i].offset);
			rc = key_put(&k, &len, &cap,
				     f[i].module ? f[i].module : "?") ||
			     key_put(&k, &len, &cap, num);
		}
	}
	if (rc) {
		free(k);
		return NULL;
	}
	return k;
}

static void
mframes_free(struct mframe *f, size_t n)
{
	for (size_t i = 0; i < n && f; i++) {
		free(f[i].function);
		free(f[i].file);
		free(f[i].module);
	}
	free(f);
}

/* Copies of n frames; NULL when out of memory. */
static struct mframe *
mframes_of(const struct frame *f, size_t n)
{
	struct mframe *c = calloc(n ? n : 1, sizeof *c);
	for (size_t i = 0; c && i < n; i++) {
		c[i] = (struct mframe){ .line = f[i].line,
					.inlined = f[i].inlined,
					.offset = f[i].offset,
					.ip = f[i].ip };
		if ((f[i].function &&
		     !(c[i].function = strdup(f[i].function))) ||
		    (f[i].file && !(c[i].file = strdup(f[i].file))) ||
		    (f[i].module && !(c[i].module = strdup(f[i].module)))) {
			mframes_free(c, i + 1);
			return NULL;
		}
	}
	return c;
}

/* The merged site of key, made with a copy of the frames when there is
 * none; it takes key. NULL when out of memory (key freed). */
static struct msite *
site_of(struct many *m, char *key, const struct frame *f, size_t n)
{
	struct msite *s;
	HASH_FIND_STR(m->sites, key, s);
	if (s) {
		free(key);
		return s;
	}
	s = calloc(1, sizeof *s);
	if (!s || !(s->f = mframes_of(f, n))) {
		free(s);
		free(key);
		return NULL;
	}
	s->key = key;
	s->nf = n;
	HASH_ADD_KEYPTR(hh, m->sites, s->key, strlen(s->key), s);
	return s;
}

/* Adds one site's bytes at this process's peak to its merged site. */
static int
site_add(struct many *m, struct report *rep, const struct rp_site *site)
{
	const struct report_opts *o = m->opt;
	struct frame *f;
	size_t nf = report_stack(rep, site->stack, &f);
	if (!f)
		return -ENOMEM;
	size_t fold = o->full ? 0 : report_fold(f, nf);
	size_t k = o->full ? nf - fold
			   : key_frames(f + fold, nf - fold,
					o->depth ? o->depth : DEPTH);
	char *key = frames_key(f + fold, k);
	struct msite *s = key ? site_of(m, key, f + fold, k) : NULL;
	free(f);
	if (!s)
		return -ENOMEM;
	if (!s->here) {
		s->next_here = m->here;
		m->here = s;
	}
	s->here += site->peak_bytes;
	return 0;
}

/* The sites of the trace just read count it as one process more. */
static void
sites_close(struct many *m)
{
	for (struct msite *s = m->here, *next; s; s = next) {
		next = s->next_here;
		s->bytes += s->here;
		s->max_bytes = s->here > s->max_bytes ? s->here : s->max_bytes;
		s->procs++;
		s->here = 0;
		s->next_here = NULL;
	}
	m->here = NULL;
}

/* v[0..n): rep's sites by their bytes at the peak, largest first. */
static int
sites_add(struct many *m, struct report *rep, struct rp_site *const *v,
	  size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i < CANDIDATES)
			rc = site_add(m, rep, v[i]);
		else
			m->left_out += v[i]->peak_bytes;
	}
	sites_close(m);
	return rc;
}

static int
proc_add(struct many *m, const struct report *rep, const char *path,
	 size_t order)
{
	if (m->nprocs == m->procs_cap) {
		size_t cap = m->procs_cap ? m->procs_cap * 2 : 64;
		struct mproc *np = realloc(m->procs, cap * sizeof *np);
		if (!np)
			return -ENOMEM;
		m->procs = np;
		m->procs_cap = cap;
	}
	const struct rp_summary *s = &rep->rp.sum;
	const char *exe = reader_exe(rep->r);
	size_t len;
	const char *argv = reader_cmdline(rep->r, &len);
	struct mproc p = { .path = path,
			   .order = order,
			   .pid = reader_pid(rep->r),
			   .argv_len = argv ? len : 0,
			   .peak_bytes = s->peak_bytes,
			   .end_bytes = s->end_bytes,
			   .complete = s->complete };
	if ((argv && !(p.argv = malloc(len + 1))) ||
	    (exe && !(p.exe = strdup(exe)))) {
		free(p.argv);
		return -ENOMEM;
	}
	if (argv) {
		memcpy(p.argv, argv, len);
		p.argv[len] = 0;
	}
	m->procs[m->nprocs++] = p;
	m->peaks += p.peak_bytes;
	return 0;
}

/* Reads one trace and takes what the report needs from it. Returns 0, or
 * -1 with one line on stderr. */
static int
take_trace(struct many *m, const char *path, size_t order)
{
	struct report rep;
	char err[256];
	if (report_load(&rep, path, err, sizeof err) != 0) {
		fprintf(stderr, "heldby: %s: %s\n", path, err);
		return -1;
	}
	rep.opt = *m->opt;
	size_t n;
	struct rp_site **v = report_rank(&rep, RANK_PEAK, &n);
	int rc = v ? proc_add(m, &rep, path, order) : -ENOMEM;
	if (!rc) {
		borrow(&m->loan, &rep, path, v,
		       n < CANDIDATES ? n : CANDIDATES);
		rc = sites_add(m, &rep, v, n);
	}
	free(v);
	if (rep.sym == m->loan.sym)
		rep.sym = NULL; /* the loan's, not the trace's */
	report_unload(&rep);
	if (rc)
		fprintf(stderr, "heldby: %s: out of memory\n", path);
	return rc ? -1 : 0;
}

/* ---- the views ---- */

static int
cmp_proc(const void *a, const void *b)
{
	const struct mproc *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
cmp_site(const void *a, const void *b)
{
	const struct msite *x = *(const struct msite *const *)a;
	const struct msite *y = *(const struct msite *const *)b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->procs != y->procs)
		return x->procs > y->procs ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The merged sites, largest first: a malloc'd array of *n, NULL when out
 * of memory. */
static struct msite **
sites_ranked(struct many *m, size_t *n)
{
	size_t k = 0;
	struct msite **v = malloc((HASH_COUNT(m->sites) + 1) * sizeof *v);
	if (!v)
		return NULL;
	struct msite *s, *t;
	HASH_ITER(hh, m->sites, s, t)
	v[k++] = s;
	qsort(v, k, sizeof *v, cmp_site);
	*n = k;
	return v;
}

static size_t
shown_count(const struct many *m, size_t n)
{
	return m->opt->top && n > m->opt->top ? m->opt->top : n;
}

/* A path under the current folder as the user would type it. */
static const char *
short_file(const char *file, const char *cwd)
{
	size_t n = strlen(cwd);
	if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
		return file + n + 1;
	return file;
}

static void
frame_name(const struct mframe *f, char *buf, size_t len)
{
	if (f->function)
		snprintf(buf, len, "%s", f->function);
	else if (f->module)
		snprintf(buf, len, "%s+0x%" PRIx64, report_basename(f->module),
			 f->offset);
	else
		snprintf(buf, len, "0x%" PRIx64, f->ip);
}

static void
frame_loc(const struct mframe *f, const char *cwd, char *buf, size_t len)
{
	buf[0] = 0;
	if (f->file && f->line)
		snprintf(buf, len, "%s:%u", short_file(f->file, cwd), f->line);
	else if (f->file)
		snprintf(buf, len, "%s", short_file(f->file, cwd));
}

/* A site's frames, a line each, in columns as the text report's: name,
 * file:line, and the module of a named frame. */
static void
print_frames(FILE *o, const struct msite *s, const char *cwd)
{
	char name[1024], loc[PATH_MAX + 16];
	int wn = 0, wl = 0;
	if (!s->nf)
		fputs("        (no stack recorded)\n", o);
	for (size_t i = 0; i < s->nf; i++) {
		frame_name(&s->f[i], name, sizeof name);
		frame_loc(&s->f[i], cwd, loc, sizeof loc);
		int ln = (int)strlen(name) + (s->f[i].inlined ? 10 : 0);
		int ll = (int)strlen(loc);
		wn = ln > wn && ln <= NAME_W ? ln : wn;
		wl = ll > wl && ll <= NAME_W ? ll : wl;
	}
	for (size_t i = 0; i < s->nf; i++) {
		const struct mframe *f = &s->f[i];
		frame_name(f, name, sizeof name);
		frame_loc(f, cwd, loc, sizeof loc);
		const char *mod =
			f->function ? report_basename(f->module) : NULL;
		int pad = wn - (int)strlen(name) - (f->inlined ? 10 : 0);
		fprintf(o, "        %s%s", name,
			f->inlined ? " [inlined]" : "");
		if (mod)
			fprintf(o, "%*s  %-*s  (%s)", pad > 0 ? pad : 0, "", wl,
				loc, mod);
		else if (loc[0])
			fprintf(o, "%*s  %s", pad > 0 ? pad : 0, "", loc);
		fputc('\n', o);
	}
}

static void
text_processes(const struct many *m, FILE *o)
{
	char b1[UNITS_BUF], b2[UNITS_BUF];
	fprintf(o, "Processes, by pid\n");
	fprintf(o, "  %7s  %-*s  %10s  %10s  %-10s  %s\n", "pid", CMD_SHOWN,
		"command line", "peak", "at exit", "state", "trace");
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];
		char full[1024], cmd[CMD_SHOWN + 1];
		if (p->argv)
			cmdline_join(p->argv, p->argv_len, full, sizeof full);
		else
			snprintf(full, sizeof full, "%s",
				 p->exe && *p->exe ? p->exe : "?");
		cmdline_fit(full, CMD_SHOWN, cmd);
		fprintf(o, "  %7" PRIu64 "  %-*s  %10s  %10s  %-10s  %s\n",
			p->pid, CMD_SHOWN, cmd, format_size(p->peak_bytes, b1),
			format_size(p->end_bytes, b2),
			p->complete ? "complete" : "cut short", p->path);
	}
}

static void
text_entry(const struct many *m, FILE *o, const struct msite *s, size_t rank)
{
	char b1[UNITS_BUF], b2[UNITS_BUF];
	double pct = m->peaks ? 100.0 * (double)s->bytes / (double)m->peaks : 0;
	fprintf(o, "%4zu. %s, %.1f%% of the peaks, in %zu process%s", rank,
		format_size(s->bytes, b1), pct, s->procs,
		s->procs == 1 ? "" : "es");
	if (s->procs > 1)
		fprintf(o, " (at most %s in one)",
			format_size(s->max_bytes, b2));
	fputc('\n', o);
}

static void
text_holders(const struct many *m, FILE *o, struct msite **v, size_t n)
{
	char b1[UNITS_BUF], cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		cwd[0] = 0;
	fprintf(o,
		"\nTop holders at the peaks, merged over %zu process%s (%s: "
		"the sum of their peaks)\n",
		m->nprocs, m->nprocs == 1 ? "" : "es",
		format_size(m->peaks, b1));
	size_t shown = shown_count(m, n);
	if (!n)
		fputs("    (nothing)\n", o);
	for (size_t i = 0; i < shown; i++) {
		text_entry(m, o, v[i], i + 1);
		print_frames(o, v[i], cwd);
	}
	if (n > shown)
		fprintf(o, "    ... and %zu more%s\n", n - shown,
			m->opt->brief ? "" : " (--top N shows more)");
	if (m->left_out)
		fprintf(o,
			"    (%s at the peaks is in sites past each "
			"process's %d largest, not merged)\n",
			format_size(m->left_out, b1), CANDIDATES);
}

static int
print_text(const struct many *m, FILE *o, struct msite **v, size_t n)
{
	fprintf(o, "heldby report  %zu trace%s\n\n", m->nprocs,
		plural(m->nprocs));
	text_processes(m, o);
	text_holders(m, o, v, n);
	return ferror(o) ? -EIO : 0;
}

static void
json_cmdline(FILE *o, const struct mproc *p)
{
	if (!p->argv)
		return;
	fputs(", \"cmdline\": [", o);
	for (size_t i = 0; i < p->argv_len;
	     i += strnlen(p->argv + i, p->argv_len - i) + 1) {
		if (i)
			fputs(", ", o);
		json_str(o,
			 p->argv + i); /* proc_add ends the last with a NUL */
	}
	fputc(']', o);
}

static void
json_processes(const struct many *m, FILE *o)
{
	fputs(",\n \"processes\": [", o);
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];
		fputs(i ? ",\n  {\"path\": " : "\n  {\"path\": ", o);
		json_str(o, p->path);
		fprintf(o, ", \"pid\": %" PRIu64, p->pid);
		json_cmdline(o, p);
		fprintf(o,
			", \"peak_bytes\": %" PRIu64 ", \"end_bytes\": %" PRIu64
			", \"complete\": %s}",
			p->peak_bytes, p->end_bytes,
			p->complete ? "true" : "false");
	}
	fputs(m->nprocs ? "\n ]" : "]", o);
}

/* A site's frames as the single report's "stack" (report_json.c). */
static void
json_stack(FILE *o, const struct msite *s)
{
	fputs("\"stack\": [", o);
	for (size_t i = 0; i < s->nf; i++) {
		const struct mframe *f = &s->f[i];
		fputs(i ? ",\n      {\"function\": "
			: "\n      {\"function\": ",
		      o);
		json_str(o, f->function);
		fputs(", \"file\": ", o);
		json_str(o, f->file);
		if (f->file)
			fprintf(o, ", \"line\": %u, \"module\": ", f->line);
		else
			fputs(", \"line\": null, \"module\": ", o);
		json_str(o, f->module);
		fprintf(o, ", \"inlined\": %s, \"offset\": \"0x%" PRIx64 "\"}",
			f->inlined ? "true" : "false", f->offset);
	}
	if (!s->nf) /* no stack recorded: one unknown frame keeps the shape */
		fputs("\n      {\"function\": null, \"file\": null, \"line\": null, \"module\": null}",
		      o);
	fputc(']', o);
}

static int
print_json(const struct many *m, FILE *o, struct msite **v, size_t n)
{
	fprintf(o, "{\"format\": %d", REPORT_JSON_FORMAT);
	json_processes(m, o);
	fputs(",\n \"peak_holders\": [", o);
	size_t shown = shown_count(m, n);
	for (size_t i = 0; i < shown; i++) {
		fprintf(o,
			"%s{\"bytes\": %" PRIu64 ", \"processes\": %zu"
			", \"max_bytes\": %" PRIu64 ", ",
			i ? ",\n  " : "\n  ", v[i]->bytes, v[i]->procs,
			v[i]->max_bytes);
		json_stack(o, v[i]);
		fputc('}', o);
	}
	fputs(shown ? "\n ]}\n" : "]}\n", o);
	return ferror(o) ? -EIO : 0;
}

static void
many_free(struct many *m)
{
	loan_end(&m->loan);
	struct msite *s, *t;
	HASH_ITER(hh, m->sites, s, t)
	{
		HASH_DEL(m->sites, s);
		mframes_free(s->f, s->nf);
		free(s->key);
		free(s);
	}
	for (size_t i = 0; i < m->nprocs; i++) {
		free(m->procs[i].argv);
		free(m->procs[i].exe);
	}
	free(m->procs);
	report_many_free_paths(m->paths, m->npaths);
}

/* Prints the report on what was taken; 0, or -ENOMEM or -EIO. */
static int
print_many(struct many *m, int json, FILE *out)
{
	size_t n = 0;
	struct msite **v = sites_ranked(m, &n);
	if (!v)
		return -ENOMEM;
	qsort(m->procs, m->nprocs, sizeof *m->procs, cmp_proc);
	int rc = json ? print_json(m, out, v, n) : print_text(m, out, v, n);
	free(v);
	return rc;
}

int
report_many_main(char *const *args, size_t n, const struct report_opts *opt,
		 int json, FILE *out)
{
	struct many m = { .opt = opt };
	int failed = gather(&m, args, n);
	for (size_t i = 0; i < m.npaths; i++)
		failed |= take_trace(&m, m.paths[i], i) != 0;
	loan_end(&m.loan); /* saves the symbol cache */
	int rc = m.nprocs ? print_many(&m, json, out) : 0;
	many_free(&m);
	if (fflush(out) != 0 || rc) {
		fprintf(stderr, "heldby: writing the report: %s\n",
			strerror(rc == -ENOMEM ? ENOMEM : errno));
		return 1;
	}
	return failed;
}
