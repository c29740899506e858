/* SPDX-License-Identifier: MIT */
/*
 * Loading a trace for the views, and the pieces every view needs: stacks
 * turned into frames, sites ranked, allocator plumbing recognised.
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json_str.h"
#include "proctrace.h"
#include "units.h"

#define MAX_DEPTH 1024 /* guards against a parent cycle in a damaged file */

static char *
dirname_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (!slash)
		return strdup(".");
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Opens path, and replays it taking what was held at *at (kind
 * RP_AT_NONE: nothing). */
static int
load_with(struct report *rep, const char *path, const struct rp_at *at,
	  char *err, size_t errlen)
{
	memset(rep, 0, sizeof *rep);
	replay_init(&rep->rp);
	replay_want_at(&rep->rp, at);
	int rc = reader_open(path, &rep->r, err, errlen);
	if (rc)
		return rc;
	rep->sym = sym_new();
	if (rep->sym) {
		char *dir = dirname_of(path);
		sym_add_dir(rep->sym, dir);
		free(dir);
		dir = dirname_of(reader_exe(rep->r));
		sym_add_dir(rep->sym, dir);
		free(dir);
	}
	if (!rep->sym || replay_reader(&rep->rp, rep->r) != 0) {
		snprintf(err, errlen, "out of memory");
		report_unload(rep);
		return -ENOMEM;
	}
	rep->being_written = !rep->rp.sum.complete &&
			     !reader_stats(rep->r)->ended &&
			     proctrace_writing(path, reader_pid(rep->r));
	return 0;
}

int
report_load(struct report *rep, const char *path, char *err, size_t errlen)
{
	static const struct rp_at none = { .kind = RP_AT_NONE };
	return load_with(rep, path, &none, err, errlen);
}

/* Replays rep's trace again from its start, taking what was held after
 * the peak's event: the peak's blocks, whose ages one pass cannot know
 * without keeping every peak's. */
static int
replay_again_to_peak(struct report *rep, char *err, size_t errlen)
{
	struct reader *r;
	int rc = reader_reopen(rep->r, &r, err, errlen);
	if (rc)
		return rc;
	struct rp_at at = { .kind = RP_AT_EVENT, .event = rep->rp.peak_event };
	if (!at.event) /* nothing was ever held */
		at = (struct rp_at){ .kind = RP_AT_TIME };
	struct replay rp;
	replay_init(&rp);
	replay_want_at(&rp, &at);
	if (replay_reader(&rp, r) != 0) {
		replay_free(&rp);
		reader_close(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	replay_free(&rep->rp);
	rep->rp = rp;
	/* Stack nodes are the reader's: the views read the one that read
	 * this replay. */
	reader_close(rep->r);
	rep->r = r;
	return 0;
}

/* What WHEN names; *peak for "peak", which needs two passes. */
static struct rp_at
at_of(const char *when, int *peak)
{
	struct rp_at at = { .kind = RP_AT_MARK, .label = when };
	*peak = !strcmp(when, "peak");
	if (*peak)
		at.kind = RP_AT_NONE;
	else if (!strcmp(when, "end"))
		at.kind = RP_AT_END;
	else if (!parse_duration(when, &at.time_ns))
		at.kind = RP_AT_TIME;
	return at;
}

/* The reason WHEN was not reached, into err. */
static void
not_reached(const struct report *rep, const char *when, char *err,
	    size_t errlen)
{
	const struct replay *rp = &rep->rp;
	char b1[UNITS_BUF];
	if (rp->at.kind == RP_AT_TIME) {
		snprintf(err, errlen, "--at %s: the trace ends at %s", when,
			 format_duration(rp->sum.duration_ns, b1));
		return;
	}
	size_t o = (size_t)snprintf(err, errlen,
				    "--at %s: no mark has that label", when);
	for (size_t i = 0; i < rp->nmarks && i < 5 && o < errlen; i++)
		o += (size_t)snprintf(
			err + o, errlen - o, "%s'%s'",
			i ? ", " : " (marks: ", rp->marks[i].label);
	if (rp->nmarks && o < errlen)
		snprintf(err + o, errlen - o, "%s)",
			 rp->nmarks > 5 ? ", ..." : "");
	else if (!rp->nmarks && o < errlen)
		snprintf(err + o, errlen - o,
			 "; the trace has no marks, and a time wants its unit "
			 "(12.5s, 1500ms, 2m)");
}

int
report_load_at(struct report *rep, const char *path, const char *when,
	       char *err, size_t errlen)
{
	int peak;
	struct rp_at at = at_of(when, &peak);
	int rc = load_with(rep, path, &at, err, errlen);
	if (!rc && peak)
		rc = replay_again_to_peak(rep, err, errlen);
	if (rc) {
		if (rep->r)
			report_unload(rep);
		return rc;
	}
	rep->at_when = when;
	if (!rep->rp.at.taken) {
		not_reached(rep, when, err, errlen);
		report_unload(rep);
		return -ERANGE;
	}
	return 0;
}

void
report_unload(struct report *rep)
{
	replay_free(&rep->rp);
	if (rep->sym)
		sym_save_cache(rep->sym);
	sym_free(rep->sym);
	reader_close(rep->r);
	memset(rep, 0, sizeof *rep);
}

size_t
report_stack(struct report *rep, uint64_t stack, struct frame **out)
{
	size_t n = 0, cap = 0;
	struct frame *f = NULL;
	uint64_t id = stack;
	for (int depth = 0; id && depth < MAX_DEPTH; depth++) {
		const struct rd_node *node = reader_node(rep->r, id);
		if (!node)
			break; /* defined in a damaged block */
		const struct rd_module *m =
			node->module ? reader_module(rep->r, node->module)
				     : NULL;
		const struct sym_frame *sf;
		size_t k = sym_resolve(rep->sym, m, node->offset, 1, &sf);
		if (n + k > cap) {
			cap = (n + k) * 2;
			struct frame *nf = realloc(f, cap * sizeof *nf);
			if (!nf)
				break;
			f = nf;
		}
		for (size_t i = 0; i < k; i++) {
			f[n++] = (struct frame){
				.function = sf[i].function,
				.file = sf[i].file,
				.line = sf[i].line,
				.inlined = sf[i].inlined,
				.module = m ? m->path : NULL,
				.offset = node->offset,
				.ip = node->ip,
				.mod = m,
			};
		}
		id = node->parent;
	}
	if (!f) /* callers offset into it even when empty */
		f = calloc(1, sizeof *f);
	*out = f;
	return n;
}

static uint64_t
metric(const struct rp_site *s, enum rank_by by)
{
	switch (by) {
	case RANK_PEAK: return s->peak_bytes;
	case RANK_END: return s->cur_bytes;
	case RANK_CALLS: return s->calls;
	case RANK_AT: return s->at_bytes;
	}
	return 0;
}

static enum rank_by sort_by;

static int
cmp_site(const void *a, const void *b)
{
	const struct rp_site *x = *(const struct rp_site *const *)a;
	const struct rp_site *y = *(const struct rp_site *const *)b;
	uint64_t mx = metric(x, sort_by), my = metric(y, sort_by);
	if (mx != my)
		return mx > my ? -1 : 1;
	/* Leaks of zero-byte blocks still count; then by id for stability. */
	if (x->cur_blocks != y->cur_blocks && sort_by == RANK_END)
		return x->cur_blocks > y->cur_blocks ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

struct rp_site **
report_rank(struct report *rep, enum rank_by by, size_t *n)
{
	size_t cnt = HASH_COUNT(rep->rp.sites), k = 0;
	struct rp_site **v = malloc((cnt ? cnt : 1) * sizeof *v);
	if (!v) {
		*n = 0;
		return NULL;
	}
	struct rp_site *s, *t;
	HASH_ITER(hh, rep->rp.sites, s, t)
	{
		int keep = by == RANK_END    ? s->cur_blocks > 0
			   : by == RANK_PEAK ? s->peak_bytes > 0
			   : by == RANK_AT   ? s->at_blocks > 0
					     : s->calls > 0;
		if (keep)
			v[k++] = s;
	}
	sort_by = by;
	qsort(v, k, sizeof *v, cmp_site);
	*n = k;
	return v;
}

int
report_is_start(const struct frame *f)
{
	static const char *const names[] = {
		"_start",
		"__libc_start_main",
		"__libc_start_call_main",
		"start_thread",
		"clone",
		"clone3",
		"__clone",
		"__clone3",
		"__clone_internal",
	};
	if (!f->function)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(f->function, names[i]))
			return 1;
	return 0;
}

const char *
report_basename(const char *path)
{
	if (!path)
		return NULL;
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "python", "python3", "python3.11", "python3.11d", "python3.12-dbg". */
static int
python_name(const char *name)
{
	if (!name || strncmp(name, "python", 6))
		return 0;
	const char *p = name + 6;
	while ((*p >= '0' && *p <= '9') || *p == '.')
		p++;
	return !*p || !strcmp(p, "d") || !strcmp(p, "-dbg") ||
	       !strcmp(p, "d-dbg");
}

int
report_is_python(const struct reader *r)
{
	size_t len;
	const char *argv = reader_cmdline(r, &len);
	return python_name(report_basename(reader_exe(r))) ||
	       (argv && len && python_name(report_basename(argv)));
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The qualified name of a demangled function, without its return type:
 * "void std::vector<int>::_M_realloc_insert<int>(…)" -> "std::vector…". */
static const char *
qualified(const char *name)
{
	const char *last = name;
	int depth = 0;
	for (const char *p = name; *p && *p != '('; p++) {
		if (*p == '<')
			depth++;
		else if (*p == '>')
			depth--;
		else if (*p == ' ' && depth == 0 && p[1] && p[1] != '(' &&
			 !(p - name >= 8 && starts(p - 8, "operator")))
			last = p + 1;
	}
	return last;
}

static int
is_plumbing(const struct frame *f)
{
	const char *mod = report_basename(f->module);
	if (mod && (starts(mod, "libheldby") || starts(mod, "libstdc++") ||
		    starts(mod, "libc.so") || starts(mod, "libc-") ||
		    starts(mod, "ld-linux")))
		return 1;
	const char *fn = f->function;
	if (!fn)
		return 0;
	static const char *const exact[] = {
		"malloc", "calloc",	    "realloc",	     "reallocarray",
		"free",	  "posix_memalign", "aligned_alloc", "memalign",
		"valloc", "pvalloc",	    "strdup",	     "strndup",
	};
	for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if (!strcmp(fn, exact[i]))
			return 1;
	if (starts(fn, "operator new") || starts(fn, "operator delete") ||
	    starts(fn, "__libc_") || starts(fn, "_int_") ||
	    starts(fn, "__gnu_cxx::") || starts(fn, "std::"))
		return 1;
	const char *q = qualified(fn);
	return starts(q, "std::") || starts(q, "__gnu_cxx::") ||
	       starts(q, "__cxxabiv1::");
}

size_t
report_fold(const struct frame *f, size_t n)
{
	size_t k = 0;
	while (k < n && is_plumbing(&f[k]))
		k++;
	return k == n ? 0 : k;
}

void
report_nosyms_add(struct report *rep, struct report_nosyms *ns,
		  const struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct rd_module *m = f[i].mod;
		if (f[i].function || !m)
			continue;
		size_t k = 0;
		while (k < ns->n && ns->m[k] != m)
			k++;
		if (k < ns->n || !sym_module_stripped(rep->sym, m))
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? ns->cap * 2 : 4;
			const struct rd_module **nm =
				realloc(ns->m, cap * sizeof *nm);
			if (!nm)
				return;
			ns->m = nm;
			ns->cap = cap;
		}
		ns->m[ns->n++] = m;
	}
}

void
report_nosyms_free(struct report_nosyms *ns)
{
	free(ns->m);
	memset(ns, 0, sizeof *ns);
}

/* The build-id in hex into buf (2 * len + 1 bytes at least). */
static void
hex_of(const uint8_t *id, size_t len, char *buf)
{
	for (size_t i = 0; i < len; i++)
		sprintf(buf + 2 * i, "%02x", id[i]);
	buf[2 * len] = 0;
}

int
report_debug_path(const struct rd_module *m, char *buf, size_t len)
{
	char hex[2 * 64 + 1];
	if (len)
		buf[0] = 0;
	if (!m->build_id_len || m->build_id_len > 64)
		return -ENOENT;
	hex_of(m->build_id, m->build_id_len, hex);
	/* gdb's and elfutils' layout: the first byte names the folder. */
	snprintf(buf, len, "/usr/lib/debug/.build-id/%.2s/%s.debug", hex,
		 hex + 2);
	return 0;
}

void
report_json_nosyms(struct report *rep, FILE *o)
{
	static const enum rank_by lists[] = { RANK_PEAK, RANK_END, RANK_CALLS };
	struct report_nosyms ns = { 0 };
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		size_t n;
		struct rp_site **v = report_rank(rep, lists[l], &n);
		if (rep->opt.top && n > rep->opt.top)
			n = rep->opt.top; /* as report_json's lists */
		for (size_t i = 0; v && i < n; i++) {
			struct frame *f;
			size_t nf = report_stack(rep, v[i]->stack, &f);
			report_nosyms_add(rep, &ns, f, nf);
			free(f);
		}
		free(v);
	}
	fputs(",\n \"modules_without_symbols\": [", o);
	for (size_t i = 0; i < ns.n; i++) {
		const struct rd_module *m = ns.m[i];
		char hex[2 * 64 + 1] = "";
		if (m->build_id_len && m->build_id_len <= 64)
			hex_of(m->build_id, m->build_id_len, hex);
		fputs(i ? ",\n  {\"module\": " : "\n  {\"module\": ", o);
		json_str(o, report_basename(m->path));
		fputs(", \"path\": ", o);
		json_str(o, m->path);
		fputs(", \"build_id\": ", o);
		json_str(o, hex[0] ? hex : NULL);
		fputc('}', o);
	}
	fputs(ns.n ? "\n ]" : "]", o);
	report_nosyms_free(&ns);
}
