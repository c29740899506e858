/* SPDX-License-Identifier: MIT */
/*
 * `heldby report`: the view users read first. A summary, then who held the
 * bytes at the peak, what was still held at exit, and who called the
 * allocator most. Allocator plumbing is folded so that the first frame
 * shown is the user's code; sites whose shown frames agree are merged into
 * one entry, which lists what it merged (--json lists every site apart,
 * --full does too).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "units.h"

#define SHOW_FRAMES 8  /* frames of a stack shown after folding (--depth) */
#define NAME_W 48      /* the name column; longer names are shortened */
#define NAME_BUF 1024  /* a shown name, shortened or cut */
#define CANDIDATES 200 /* sites looked at per list before merging */
#define PARTS_SHOWN 6  /* the merged sites listed under an entry */
/* About what one ring wait costs the program (a few yields, then 50 us
 * naps: shim/ring.c); waits are mentioned when they may have cost it 1%. */
#define WAIT_COST_NS 20000u

/* One site of a group, with the frames the view works on. */
struct member {
	struct rp_site *s;
	struct frame *f;
	size_t nf;
	size_t fold;  /* leading frames folded away */
	size_t nuser; /* frames from f[fold] on, start-up frames cut */
	size_t show;  /* of those, shown */
	char *label;  /* what tells it from the group's other sites */
};

enum differ {
	DIFF_FOLDED = 1, /* in the allocator frames folded away */
	DIFF_HIDDEN = 2, /* in frames past the ones shown */
	DIFF_ADDR = 4,	 /* only in return addresses */
};

struct group {
	char *key;
	struct member *m; /* m[0]'s frames are shown */
	size_t nm, cap;
	unsigned differ;
	const char *runtime; /* the runtime's own: what it is; NULL: not */
	uint64_t peak_bytes, peak_blocks;
	double peak_tsum;
	uint64_t end_bytes, end_blocks;
	uint64_t calls, total_bytes;
	uint64_t at_bytes, at_blocks; /* at the --at moment */
	double at_tsum;
	uint64_t at_age_bytes[RP_AGES];
	UT_hash_handle hh;
};

struct style {
	const char *b, *d, *r; /* bold, dim, reset */
};

static char cwd[PATH_MAX];

static const char *
short_file(const char *file)
{
	size_t n = strlen(cwd);
	if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
		return file + n + 1;
	return file;
}

static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static size_t
depth_of(const struct report *rep)
{
	return rep->opt.depth ? rep->opt.depth : SHOW_FRAMES;
}

static char *
frames_key(const struct frame *f, size_t n)
{
	size_t cap = 64, len = 0;
	char *k = malloc(cap);
	if (!k)
		return NULL;
	k[0] = 0;
	for (size_t i = 0; i < n; i++) {
		char one[64];
		int w = snprintf(one, sizeof one, "|%u|%d|", f[i].line,
				 f[i].inlined);
		const char *fn = f[i].function ? f[i].function : "?";
		const char *fl = f[i].file ? f[i].file : "?";
		char addr[40] = "";
		if (!f[i].function)
			snprintf(addr, sizeof addr, "%" PRIx64, f[i].ip);
		size_t need = len + strlen(fn) + strlen(fl) + (size_t)w +
			      strlen(addr) + 1;
		if (need > cap) {
			cap = need * 2;
			char *nk = realloc(k, cap);
			if (!nk) {
				free(k);
				return NULL;
			}
			k = nk;
		}
		len += (size_t)sprintf(k + len, "%s%s%s%s", fn, one, fl, addr);
	}
	return k;
}

/* Outer frames that only call into the user's code: the loader, libc, and
 * libstdc++'s (unnamed) thread trampoline. */
static int
is_runtime(const struct frame *f)
{
	const char *mod = report_basename(f->module);
	if (mod &&
	    (!strncmp(mod, "libc.so", 7) || !strncmp(mod, "ld-linux", 8)))
		return 1;
	if (!f->function)
		return mod && !strncmp(mod, "libstdc++", 9);
	return report_is_start(f);
}

/* Of the n frames from f on, those that are the user's: main's and the
 * threads' start-up frames say nothing. */
static size_t
user_frames(const struct frame *f, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (report_is_start(&f[i])) {
			n = i;
			break;
		}
	}
	while (n > 1 && is_runtime(&f[n - 1]))
		n--;
	return n;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A library every program of its language runs on. */
static int
runtime_module(const char *path)
{
	const char *mod = report_basename(path);
	return mod && (starts(mod, "libc.so") || starts(mod, "libc-") ||
		       starts(mod, "ld-linux") || starts(mod, "libstdc++") ||
		       starts(mod, "libgcc_s") || starts(mod, "libm.so") ||
		       starts(mod, "libheldby"));
}

/* What a stack made by the runtime alone, with no frame of the program's,
 * is; NULL when the program's code is in it. libstdc++ makes its emergency
 * exception pool (eh_alloc.cc, 71 KiB in GCC 12) as it starts and never
 * frees it: every C++ program holds it at exit. */
static const char *
runtime_what(const struct frame *f, size_t n)
{
	int cxx = 0, startup = 0, pool = 0;
	if (!n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!runtime_module(f[i].module))
			return NULL;
		const char *mod = report_basename(f[i].module);
		cxx |= starts(mod, "libstdc++");
		const char *fn = f[i].function ? f[i].function : "";
		startup |= !strcmp(fn, "_dl_init") ||
			   !strcmp(fn, "call_init") ||
			   !strcmp(fn, "_dl_start_user") ||
			   starts(fn, "_GLOBAL__sub_I") ||
			   starts(fn, "__static_initialization");
		pool |= (f[i].file && strstr(f[i].file, "eh_alloc.cc")) ||
			strstr(fn, "pool::pool");
	}
	if (pool || (cxx && startup))
		return "the C++ runtime's own: libstdc++'s emergency "
		       "exception pool, made as it starts";
	if (cxx)
		return "the C++ runtime's own: made by libstdc++, not by the "
		       "program's code";
	if (startup)
		return "the runtime's own: made as the program was loaded";
	return "the runtime's own: made by the C library, not by the "
	       "program's code";
}

/* Which frames of a site's stack the view shows. Allocator plumbing is
 * folded only when a named frame remains in sight: where the program's own
 * frames have no names (a stripped binary), the innermost named frame of
 * the plumbing stays (nginx's initgroups, not "22 frames folded"). */
static void
member_view(const struct report *rep, struct member *m)
{
	if (rep->opt.full) {
		m->fold = 0;
		m->nuser = m->show = m->nf;
		return;
	}
	size_t depth = depth_of(rep);
	size_t fold = report_fold(m->f, m->nf);
	size_t n = user_frames(m->f + fold, m->nf - fold);
	int named = 0;
	for (size_t i = 0; i < n && i < depth && !named; i++)
		named = m->f[fold + i].function != NULL;
	if (fold && !named) {
		size_t j = fold;
		while (j > 0 && !m->f[j - 1].function)
			j--;
		if (j > 0) {
			fold = j - 1;
			n = user_frames(m->f + fold, m->nf - fold);
		}
	}
	m->fold = fold;
	m->nuser = n;
	m->show = n < depth ? n : depth;
}

/* The key that merges sites: their shown frames, or under --full the
 * stack itself (no two sites merge). NULL when out of memory. */
static char *
member_key(const struct report *rep, const struct member *m)
{
	if (!rep->opt.full)
		return frames_key(m->f + m->fold, m->show);
	char *key = malloc(24);
	if (key)
		snprintf(key, 24, "#%020" PRIu64, m->s->stack);
	return key;
}

/* The group of key, made when there is none; it takes key. NULL when out
 * of memory (key freed). */
static struct group *
group_of(struct group **groups, char *key)
{
	struct group *g;
	HASH_FIND_STR(*groups, key, g);
	if (g) {
		free(key);
		return g;
	}
	g = calloc(1, sizeof *g);
	if (!g) {
		free(key);
		return NULL;
	}
	g->key = key;
	HASH_ADD_KEYPTR(hh, *groups, g->key, strlen(g->key), g);
	return g;
}

/* Adds m, which g then owns, and its site's counts to g. Returns 0, or -1
 * out of memory (nothing added). */
static int
group_add(struct group *g, const struct member *m)
{
	if (g->nm == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 2;
		struct member *nm = realloc(g->m, cap * sizeof *nm);
		if (!nm)
			return -1;
		g->m = nm;
		g->cap = cap;
	}
	const struct rp_site *s = m->s;
	g->m[g->nm++] = *m;
	g->peak_bytes += s->peak_bytes;
	g->peak_blocks += s->peak_blocks;
	g->peak_tsum += s->peak_tsum;
	g->end_bytes += s->cur_bytes;
	g->end_blocks += s->cur_blocks;
	g->calls += s->calls;
	g->total_bytes += s->total_bytes;
	g->at_bytes += s->at_bytes;
	g->at_blocks += s->at_blocks;
	g->at_tsum += s->at_tsum;
	for (unsigned b = 0; b < RP_AGES; b++)
		g->at_age_bytes[b] += s->at_age_bytes[b];
	return 0;
}

/* Adds the top candidates of one ranking to the groups. */
static void
collect(struct report *rep, enum rank_by by, struct group **groups)
{
	size_t n;
	struct rp_site **v = report_rank(rep, by, &n);
	if (n > CANDIDATES && rep->opt.top <= CANDIDATES / 4)
		n = CANDIDATES;
	for (size_t i = 0; i < n; i++) {
		struct rp_site *s = v[i];
		if (s->mark)
			continue; /* already in a group */
		s->mark = 1;

		struct member m = { .s = s };
		m.nf = report_stack(rep, s->stack, &m.f);
		member_view(rep, &m);
		char *key = member_key(rep, &m);
		struct group *g = key ? group_of(groups, key) : NULL;
		if (!g || group_add(g, &m) != 0)
			free(m.f);
	}
	free(v);
}

static enum rank_by gsort_by;

static uint64_t
gmetric(const struct group *g)
{
	return gsort_by == RANK_PEAK  ? g->peak_bytes
	       : gsort_by == RANK_END ? g->end_bytes
	       : gsort_by == RANK_AT  ? g->at_bytes
				      : g->calls;
}

static int
cmp_group(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a;
	const struct group *y = *(const struct group *const *)b;
	uint64_t mx = gmetric(x), my = gmetric(y);
	if (mx != my)
		return mx > my ? -1 : 1;
	if (gsort_by == RANK_END && x->end_blocks != y->end_blocks)
		return x->end_blocks > y->end_blocks ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Appends one byte to a bounded buffer, always terminated. */
static void
put(char *buf, size_t len, size_t *o, char c)
{
	if (*o + 1 < len)
		buf[(*o)++] = c;
	buf[*o < len ? *o : len - 1] = 0;
}

/* Appends the n bytes at s, as put does. */
static void
put_n(char *buf, size_t len, size_t *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(buf, len, o, s[i]);
}

/* The operator a name spells at p ("<<=", "->", "()", "<"), or 0. */
static size_t
operator_len(const char *p)
{
	static const char *const ops[] = {
		"<=>", "<<=", ">>=", "->*", "<<", ">>", "<=", ">=", "->", "==",
		"!=",  "&&",  "||",  "++",  "--", "+=", "-=", "*=", "/=", "%=",
		"&=",  "|=",  "^=",  "()",  "[]", "<",	">",  "+",  "-",  "*",
		"/",   "%",   "^",   "&",   "|",  "~",	"!",  "=",  ",",
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (starts(p, ops[i]))
			return strlen(ops[i]);
	return 0;
}

static int
ident_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Template arguments as "<...>", as heaptrack's "shorten templates" does:
 * std::vector<std::__cxx11::basic_string<char, …> >::_M_realloc_insert
 * becomes std::vector<...>::_M_realloc_insert. operator<, operator<<,
 * operator-> and their kin are names, not brackets. */
static void
shorten_templates(const char *fn, char *buf, size_t len)
{
	size_t o = 0;
	int depth = 0;
	buf[0] = 0;
	for (const char *p = fn; *p; p++) {
		if (starts(p, "operator") && (p == fn || !ident_char(p[-1])) &&
		    !ident_char(p[8])) {
			const char *q = p + 8;
			q += operator_len(q);
			if (!depth)
				put_n(buf, len, &o, p, (size_t)(q - p));
			p = q - 1;
			continue;
		}
		if (*p == '<') {
			if (!depth++)
				put_n(buf, len, &o, "<...", 4);
			continue;
		}
		if (*p == '>' && depth) {
			if (!--depth)
				put(buf, len, &o, '>');
			continue;
		}
		if (!depth)
			put(buf, len, &o, *p);
	}
}

/* The name without its return type ("std::string& std::vector<...>::
 * emplace_back<...>(...)" -> "std::vector<...>::emplace_back<...>(...)"):
 * after the last space outside brackets before the parameter list. */
static const char *
drop_return_type(const char *fn)
{
	const char *start = fn;
	int depth = 0;
	for (const char *p = fn; *p; p++) {
		if (starts(p, "operator") && (p == fn || !ident_char(p[-1])) &&
		    !ident_char(p[8])) {
			size_t n = operator_len(p + 8);
			p += 8 + n;
			if (!n) /* operator new, operator delete, operator int
				 */
				while (*p == ' ' || ident_char(*p))
					p++;
			p--;
			continue;
		}
		if (*p == '<' || *p == '[')
			depth++;
		else if ((*p == '>' || *p == ']') && depth)
			depth--;
		else if (*p == '(' && !depth &&
			 !starts(p, "(anonymous namespace)"))
			break;
		else if (*p == ' ' && !depth && p[1] && p[1] != '(')
			start = p + 1;
	}
	return start;
}

/* Parameter lists as "(...)"; "()" and "(anonymous namespace)" stay. */
static void
shorten_params(const char *fn, char *buf, size_t len)
{
	size_t o = 0;
	int depth = 0;
	buf[0] = 0;
	for (const char *p = fn; *p; p++) {
		if (!depth && *p == '(' &&
		    (p[1] == ')' || starts(p, "(anonymous namespace)"))) {
			const char *close = strchr(p, ')');
			put_n(buf, len, &o, p, (size_t)(close - p) + 1);
			p = close;
			continue;
		}
		if (*p == '(') {
			if (!depth++)
				put_n(buf, len, &o, "(...", 4);
			continue;
		}
		if (*p == ')' && depth) {
			if (!--depth)
				put(buf, len, &o, ')');
			continue;
		}
		if (!depth)
			put(buf, len, &o, *p);
	}
}

/* The name as shown: a long C++ name loses its template arguments, then
 * its parameter lists; --json keeps it whole. */
static void
show_name(const struct frame *f, char *buf, size_t len)
{
	const char *fn = f->function;
	if (!fn) {
		if (f->module)
			snprintf(buf, len, "%s+0x%" PRIx64,
				 report_basename(f->module), f->offset);
		else
			snprintf(buf, len, "0x%" PRIx64, f->ip);
		return;
	}
	if (strlen(fn) <= NAME_W) {
		snprintf(buf, len, "%s", fn);
		return;
	}
	char tmp[NAME_BUF];
	shorten_templates(fn, tmp, sizeof tmp);
	memmove(tmp, drop_return_type(tmp), strlen(drop_return_type(tmp)) + 1);
	if (strlen(tmp) <= NAME_W)
		snprintf(buf, len, "%s", tmp);
	else
		shorten_params(tmp, buf, len);
}

/* A frame's file:line as shown, or "". */
static void
show_loc(const struct frame *f, char *buf, size_t len)
{
	buf[0] = 0;
	if (f->file && f->line)
		snprintf(buf, len, "%s:%u", short_file(f->file), f->line);
	else if (f->file)
		snprintf(buf, len, "%s", short_file(f->file));
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Whether two frames read the same (both absent: the same too). */
static int
same_frame(const struct frame *a, const struct frame *b)
{
	if (!a || !b)
		return a == b;
	if (a->function || b->function)
		return same_str(a->function, b->function) &&
		       same_str(a->file, b->file) && a->line == b->line &&
		       a->inlined == b->inlined;
	return same_str(a->module, b->module) && a->offset == b->offset;
}

static const struct frame *
folded_at(const struct member *m, size_t j) /* j = 0: next to the user's */
{
	return j < m->fold ? &m->f[m->fold - 1 - j] : NULL;
}

static const struct frame *
hidden_at(const struct member *m, size_t k) /* k >= show */
{
	return k < m->nuser ? &m->f[m->fold + k] : NULL;
}

static const struct frame *
raw_at(const struct member *m, size_t i)
{
	return i < m->nf ? &m->f[i] : NULL;
}

static int
same_addr(const struct frame *a, const struct frame *b)
{
	if (!a || !b)
		return a == b;
	return same_str(a->module, b->module) && a->offset == b->offset;
}

/* The first position where the group's members disagree, or SIZE_MAX. */
static size_t
first_split(const struct group *g, size_t from, size_t to,
	    const struct frame *(*at)(const struct member *, size_t),
	    int (*same)(const struct frame *, const struct frame *))
{
	for (size_t j = from; j < to; j++)
		for (size_t i = 1; i < g->nm; i++)
			if (!same(at(&g->m[0], j), at(&g->m[i], j)))
				return j;
	return SIZE_MAX;
}

/* What tells m from its group's other sites, given where they part: jf
 * in the folded frames, kh in those past the ones shown, ia in the return
 * addresses (each SIZE_MAX: not there). malloc'd; NULL out of memory. */
static char *
member_label(const struct member *m, size_t jf, size_t kh, size_t ia)
{
	char label[2 * NAME_BUF + PATH_MAX + 64], name[NAME_BUF],
		loc[PATH_MAX + 16];
	size_t o = 0;
	label[0] = 0;
	if (jf != SIZE_MAX) {
		const struct frame *f = folded_at(m, jf);
		loc[0] = 0;
		if (f) {
			show_name(f, name, sizeof name);
			show_loc(f, loc, sizeof loc);
		}
		o += (size_t)snprintf(label + o, sizeof label - o, "%s%s%s%s",
				      f ? "via " : "",
				      f ? name : "a direct allocator call",
				      loc[0] ? "  " : "", loc);
	}
	if (kh != SIZE_MAX && o < sizeof label) {
		const struct frame *f = hidden_at(m, kh);
		if (f) {
			show_name(f, name, sizeof name);
			show_loc(f, loc, sizeof loc);
		}
		o += (size_t)snprintf(label + o, sizeof label - o, "%s%s%s%s%s",
				      o ? ", " : "", f ? "from " : "",
				      f ? name : "its stack ends there",
				      f && loc[0] ? "  " : "", f ? loc : "");
	}
	if (jf == SIZE_MAX && kh == SIZE_MAX) {
		const struct frame *f = ia != SIZE_MAX ? raw_at(m, ia) : NULL;
		if (f && f->module)
			snprintf(label, sizeof label, "at %s+0x%" PRIx64,
				 report_basename(f->module), f->offset);
		else if (f)
			snprintf(label, sizeof label, "at 0x%" PRIx64, f->ip);
		else
			snprintf(label, sizeof label,
				 "a stack that ends sooner");
	}
	return strdup(label);
}

/* Each member's label: the frame where it parts from the others, in the
 * allocator frames folded away (via …), in the frames past those shown
 * (from …), or, when they read the same, its return address (at …). */
static void
label_members(struct group *g)
{
	if (g->nm < 2)
		return;
	size_t maxfold = 0, maxuser = 0, maxnf = 0;
	for (size_t i = 0; i < g->nm; i++) {
		if (g->m[i].fold > maxfold)
			maxfold = g->m[i].fold;
		if (g->m[i].nuser > maxuser)
			maxuser = g->m[i].nuser;
		if (g->m[i].nf > maxnf)
			maxnf = g->m[i].nf;
	}
	size_t jf = first_split(g, 0, maxfold, folded_at, same_frame);
	size_t kh =
		first_split(g, g->m[0].show, maxuser, hidden_at, same_frame);
	size_t ia = SIZE_MAX;
	if (jf == SIZE_MAX && kh == SIZE_MAX)
		ia = first_split(g, 0, maxnf, raw_at, same_addr);
	g->differ = (jf != SIZE_MAX ? DIFF_FOLDED : 0) |
		    (kh != SIZE_MAX ? DIFF_HIDDEN : 0) |
		    (ia != SIZE_MAX || (jf == SIZE_MAX && kh == SIZE_MAX)
			     ? DIFF_ADDR
			     : 0);
	for (size_t i = 0; i < g->nm; i++)
		g->m[i].label = member_label(&g->m[i], jf, kh, ia);
}

static uint64_t
mmetric(const struct rp_site *s, enum rank_by by)
{
	return by == RANK_PEAK	? s->peak_bytes
	       : by == RANK_END ? s->cur_bytes
	       : by == RANK_AT	? s->at_bytes
				: s->calls;
}

static int
contributes(const struct rp_site *s, enum rank_by by)
{
	return by == RANK_END ? s->cur_blocks > 0 : mmetric(s, by) > 0;
}

struct part {
	const char *label;
	uint64_t metric, blocks, bytes;
	size_t sites;
};

static int
cmp_part(const void *a, const void *b)
{
	const struct part *x = a, *y = b;
	if (x->metric != y->metric)
		return x->metric > y->metric ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks > y->blocks ? -1 : 1;
	return strcmp(x->label, y->label);
}

/* The c sites of g with something in the list, one part per label, the
 * largest first, into p (c of them); returns how many parts. */
static size_t
merged_parts(const struct group *g, enum rank_by by, struct part *p)
{
	size_t np = 0;
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];
		if (!contributes(m->s, by))
			continue;
		const char *label = m->label ? m->label : "?";
		size_t k = 0;
		while (k < np && strcmp(p[k].label, label))
			k++;
		if (k == np)
			p[np++].label = label;
		p[k].metric += mmetric(m->s, by);
		p[k].blocks += by == RANK_PEAK	? m->s->peak_blocks
			       : by == RANK_END ? m->s->cur_blocks
			       : by == RANK_AT	? m->s->at_blocks
						: m->s->calls;
		p[k].bytes += m->s->total_bytes;
		p[k].sites++;
	}
	qsort(p, np, sizeof *p, cmp_part);
	return np;
}

/* Where the merged sites differ, for the line that introduces them. */
static const char *
differ_what(unsigned differ)
{
	if ((differ & (DIFF_FOLDED | DIFF_HIDDEN)) ==
	    (DIFF_FOLDED | DIFF_HIDDEN))
		return "in allocator frames and in frames not shown";
	if (differ & DIFF_FOLDED)
		return "in the allocator frames folded";
	if (differ & DIFF_HIDDEN)
		return "in frames not shown";
	return "only in return addresses";
}

static void
print_part(FILE *o, const struct part *p, enum rank_by by,
	   const struct style *st)
{
	char b1[UNITS_BUF], b2[UNITS_BUF], col[2 * UNITS_BUF + 32];
	if (by == RANK_CALLS)
		snprintf(col, sizeof col, "%s call%s, %s",
			 format_count(p->metric, b1), plural(p->metric),
			 format_size(p->bytes, b2));
	else
		snprintf(col, sizeof col, "%s in %s block%s",
			 format_size(p->metric, b1),
			 format_count(p->blocks, b2), plural(p->blocks));
	fprintf(o, "          %-26s  %s", col, p->label);
	if (p->sites > 1)
		fprintf(o, " %s(%zu sites)%s", st->d, p->sites, st->r);
	fputc('\n', o);
}

/* What an entry merged, for the list it is in: the sites with something
 * in that list, by the frame that tells them apart. */
static void
print_merged(FILE *o, const struct report *rep, const struct group *g,
	     enum rank_by by, const struct style *st)
{
	size_t c = 0;
	for (size_t i = 0; i < g->nm; i++)
		c += contributes(g->m[i].s, by);
	if (c < 2)
		return;
	struct part *p = calloc(c, sizeof *p);
	if (!p)
		return;
	size_t np = merged_parts(g, by, p);
	fprintf(o, "        %smerges %zu call sites that differ %s%s:%s\n",
		st->d, c, differ_what(g->differ),
		rep->opt.brief ? "" : " (--full lists them apart)", st->r);
	size_t shown = np > PARTS_SHOWN ? PARTS_SHOWN - 1 : np;
	for (size_t k = 0; k < shown; k++)
		print_part(o, &p[k], by, st);
	if (np > shown) {
		char b1[UNITS_BUF];
		uint64_t rest = 0;
		for (size_t k = shown; k < np; k++)
			rest += p[k].metric;
		fprintf(o, "          %s... and %zu more (%s%s)%s\n", st->d,
			np - shown,
			by == RANK_CALLS ? format_count(rest, b1)
					 : format_size(rest, b1),
			by == RANK_CALLS ? " calls" : "", st->r);
	}
	free(p);
}

/* The width of the name column and of the file:line column: the widest
 * that fits NAME_W, so that one long name does not push every line out. */
static void
column_widths(const struct frame *f, size_t n, char (*name)[NAME_BUF],
	      char (*loc)[PATH_MAX + 16], int *wn, int *wl)
{
	*wn = *wl = 0;
	for (size_t i = 0; i < n; i++) {
		int ln = (int)strlen(name[i]) + (f[i].inlined ? 10 : 0);
		int ll = (int)strlen(loc[i]);
		if (ln > *wn && ln <= NAME_W)
			*wn = ln;
		if (ll > *wl && ll <= NAME_W)
			*wl = ll;
	}
}

/* One frame's line: name, [inlined], file:line and the module of a named
 * frame, in columns wn and wl wide. */
static void
print_frame(FILE *o, const struct frame *f, const char *name, const char *loc,
	    int wn, int wl, const struct style *st)
{
	int pad = wn - (int)strlen(name) - (f->inlined ? 10 : 0);
	fprintf(o, "        %s", name);
	if (f->inlined)
		fprintf(o, " %s[inlined]%s", st->d, st->r);
	const char *mod = f->function ? report_basename(f->module) : NULL;
	if (!loc[0] && !mod) {
		fputc('\n', o);
		return;
	}
	fprintf(o, "%*s  %-*s", pad > 0 ? pad : 0, "", mod ? wl : 0, loc);
	if (mod)
		fprintf(o, "  %s(%s)%s", st->d, mod, st->r);
	fputc('\n', o);
}

/* The n frames from f, a line each. Returns 0, or -ENOMEM with nothing
 * printed. */
static int
print_frames(FILE *o, const struct frame *f, size_t n, const struct style *st)
{
	char(*name)[NAME_BUF] = malloc(n * sizeof *name);
	char(*loc)[PATH_MAX + 16] = malloc(n * sizeof *loc);
	if (!name || !loc) {
		free(name);
		free(loc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		show_name(&f[i], name[i], sizeof name[i]);
		show_loc(&f[i], loc[i], sizeof loc[i]);
	}
	int wn, wl;
	column_widths(f, n, name, loc, &wn, &wl);
	for (size_t i = 0; i < n; i++)
		print_frame(o, &f[i], name[i], loc[i], wn, wl, st);
	free(name);
	free(loc);
	return 0;
}

/* The least and the most of some count over an entry's sites. */
struct span {
	size_t lo, hi;
};

static void
span_add(struct span *s, size_t v)
{
	s->lo = v < s->lo ? v : s->lo;
	s->hi = v > s->hi ? v : s->hi;
}

/* "N " or "LO to HI " for a line that counts frames: "" when all agree. */
static void
span_from(const struct span *s, char *buf, size_t len)
{
	buf[0] = 0;
	if (s->lo != s->hi)
		snprintf(buf, len, "%zu to ", s->lo);
}

/* What the entry leaves out, over the sites in this list: the frames past
 * those shown (*more) and the allocator frames folded (*fold). */
static void
left_out(const struct group *g, enum rank_by by, struct span *more,
	 struct span *fold)
{
	*more = *fold = (struct span){ SIZE_MAX, 0 };
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];
		if (g->nm > 1 && !contributes(m->s, by))
			continue;
		span_add(more, m->nuser - m->show);
		span_add(fold, m->fold);
	}
}

/* An entry's stack: the frames shown (m[0]'s), then what it leaves out and
 * what it merged. */
static void
print_stack(FILE *o, const struct report *rep, const struct group *g,
	    enum rank_by by, const struct style *st)
{
	const struct member *m0 = &g->m[0];
	if (!m0->nuser) {
		fprintf(o, "        %s(no stack recorded)%s\n", st->d, st->r);
		return;
	}
	if (print_frames(o, m0->f + m0->fold, m0->show, st))
		return;
	struct span more, fold;
	char range[64];
	left_out(g, by, &more, &fold);
	if (more.hi) {
		span_from(&more, range, sizeof range);
		fprintf(o, "        %s... %s%zu more frame%s%s%s\n", st->d,
			range, more.hi, plural(more.hi),
			rep->opt.brief ? ""
				       : " (--depth N or --full shows them)",
			st->r);
	}
	print_merged(o, rep, g, by, st);
	if (fold.hi) {
		span_from(&fold, range, sizeof range);
		fprintf(o, "        %s(%s%zu allocator frame%s folded)%s\n",
			st->d, range, fold.hi, plural(fold.hi), st->r);
	}
}

/* The runtime's own bytes held at the end, among the groups. */
static uint64_t
runtime_end_bytes(struct group **all, size_t nall)
{
	uint64_t n = 0;
	for (size_t i = 0; i < nall; i++)
		if (all[i]->runtime)
			n += all[i]->end_bytes;
	return n;
}

/* Sorts all for one list; returns how many entries it shows (--top), with
 * how many have anything in *total. */
static size_t
rank_groups(const struct report *rep, struct group **all, size_t nall,
	    enum rank_by by, size_t *total)
{
	gsort_by = by;
	qsort(all, nall, sizeof *all, cmp_group);
	size_t n = 0;
	while (n < nall &&
	       (by == RANK_END ? all[n]->end_blocks > 0 : gmetric(all[n]) > 0))
		n++;
	*total = n;
	return rep->opt.top && n > rep->opt.top ? rep->opt.top : n;
}

/* The heading's figures of the peak list: "(506 MiB at 2.42 s)". */
static void
peak_totals(const struct report *rep, struct group **all, size_t total,
	    char *buf, size_t len)
{
	const struct rp_summary *s = &rep->rp.sum;
	char b1[UNITS_BUF], b2[UNITS_BUF];
	(void)all;
	(void)total;
	snprintf(buf, len, "%s at %s", format_size(s->peak_bytes, b1),
		 format_duration_step(s->peak_time_ns,
				      reader_time_step_ns(rep->r), b2));
}

static void
end_totals(const struct report *rep, struct group **all, size_t total,
	   char *buf, size_t len)
{
	const struct rp_summary *s = &rep->rp.sum;
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	uint64_t own = runtime_end_bytes(all, total);
	char tail[UNITS_BUF + 40] = "";
	if (own)
		snprintf(tail, sizeof tail, "; %s of it the runtime's own",
			 format_size(own, b3));
	snprintf(buf, len, "%s in %s block%s%s", format_size(s->end_bytes, b1),
		 format_count(s->end_blocks, b2), plural(s->end_blocks), tail);
}

static void
calls_totals(const struct report *rep, struct group **all, size_t total,
	     char *buf, size_t len)
{
	char b1[UNITS_BUF];
	(void)all;
	(void)total;
	snprintf(buf, len, "%s in all",
		 format_count(rep->rp.sum.alloc_calls, b1));
}

/* An entry's figures in the peak list: its bytes, its share of the peak
 * and how long its blocks had been held then. */
static void
peak_entry(FILE *o, const struct report *rep, const struct group *g,
	   const struct style *st)
{
	const struct rp_summary *s = &rep->rp.sum;
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	double pct = s->peak_bytes ? 100.0 * (double)g->peak_bytes /
					     (double)s->peak_bytes
				   : 0;
	uint64_t age = 0;
	if (g->peak_blocks) {
		double a = (double)s->peak_time_ns -
			   g->peak_tsum / (double)g->peak_blocks;
		age = a > 0 ? (uint64_t)a : 0;
	}
	fprintf(o,
		"%s%s%s in %s block%s, %.1f%% of peak, age at peak %s on average",
		st->b, format_size(g->peak_bytes, b1), st->r,
		format_count(g->peak_blocks, b2), plural(g->peak_blocks), pct,
		format_duration_step(age, reader_time_step_ns(rep->r), b3));
}

static void
end_entry(FILE *o, const struct report *rep, const struct group *g,
	  const struct style *st)
{
	char b1[UNITS_BUF], b2[UNITS_BUF];
	(void)rep;
	fprintf(o, "%s%s%s in %s block%s", st->b, format_size(g->end_bytes, b1),
		st->r, format_count(g->end_blocks, b2), plural(g->end_blocks));
}

static void
calls_entry(FILE *o, const struct report *rep, const struct group *g,
	    const struct style *st)
{
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	fprintf(o, "%s%s%s call%s, %s in all, %s held at %s", st->b,
		format_count(g->calls, b1), st->r, plural(g->calls),
		format_size(g->total_bytes, b2), format_size(g->end_bytes, b3),
		reader_stats(rep->r)->ended ? "exit"
		: rep->being_written	    ? "present"
					    : "the cut");
}

/* The --at moment in words: "mark 'swollen' at 2.41 s", "12.5 s",
 * "the peak, at 2.41 s", "the exit, at 5.00 s". */
static void
at_moment(const struct report *rep, char *buf, size_t len)
{
	const struct rp_at *at = &rep->rp.at;
	char b1[UNITS_BUF];
	format_duration_step(at->at_ns, reader_time_step_ns(rep->r), b1);
	switch (at->kind) {
	case RP_AT_MARK:
		snprintf(buf, len, "mark '%s' at %s", rep->at_when, b1);
		break;
	case RP_AT_TIME: snprintf(buf, len, "%s", b1); break;
	case RP_AT_END:
		snprintf(buf, len, "the %s, at %s",
			 reader_stats(rep->r)->ended ? "exit" : "cut", b1);
		break;
	default: snprintf(buf, len, "the peak, at %s", b1);
	}
}

static const char *const age_names[RP_AGES] = { "< 1 s", "1-10 s", "10-60 s",
						"older" };

static void
at_totals(const struct report *rep, struct group **all, size_t total, char *buf,
	  size_t len)
{
	const struct rp_at *at = &rep->rp.at;
	char moment[RP_MARK_LABEL_MAX + 64], b1[UNITS_BUF], b2[UNITS_BUF];
	(void)all;
	(void)total;
	at_moment(rep, moment, sizeof moment);
	snprintf(buf, len, "%s (%s in %s block%s)", moment,
		 format_size(at->bytes, b1), format_count(at->blocks, b2),
		 plural(at->blocks));
}

/* An entry's figures at the --at moment: bytes, share, mean age, and
 * its bytes by age where they are not all of one. */
static void
at_entry(FILE *o, const struct report *rep, const struct group *g,
	 const struct style *st)
{
	const struct rp_at *at = &rep->rp.at;
	uint64_t step = reader_time_step_ns(rep->r);
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	double pct =
		at->bytes ? 100.0 * (double)g->at_bytes / (double)at->bytes : 0;
	fprintf(o, "%s%s%s in %s block%s, %.1f%% of it, held %s on average",
		st->b, format_size(g->at_bytes, b1), st->r,
		format_count(g->at_blocks, b2), plural(g->at_blocks), pct,
		format_duration_step(
			replay_mean_age(at->at_ns, g->at_tsum, g->at_blocks),
			step, b3));
	unsigned nz = 0;
	for (unsigned b = 0; b < RP_AGES; b++)
		nz += g->at_age_bytes[b] != 0;
	for (unsigned b = 0, k = 0; nz > 1 && b < RP_AGES; b++) {
		if (!g->at_age_bytes[b])
			continue;
		fprintf(o, "%s%s %s", k ? ", " : " (", age_names[b],
			format_size(g->at_age_bytes[b], b1));
		if (++k == nz)
			fputc(')', o);
	}
}

/* One list of the text report. A new list (or a view's own choice of
 * them) is one more row of lists[]. */
struct list {
	enum rank_by by; /* what ranks it, and which sites it holds */
	const char *title;
	const char *title_cut; /* the title when the trace was cut; NULL:
				* title */
	int bare; /* the heading's figures follow the title unbracketed */
	/* The figures in the heading's parentheses, over the total groups
	 * of all that have anything in the list. */
	void (*totals)(const struct report *rep, struct group **all,
		       size_t total, char *buf, size_t len);
	/* An entry's figures, after its rank. */
	void (*entry)(FILE *o, const struct report *rep, const struct group *g,
		      const struct style *st);
};

static const struct list lists[] = {
	{ RANK_PEAK, "Top holders at peak", NULL, 0, peak_totals, peak_entry },
	{ RANK_END, "Held at exit", "Held when the trace was cut", 0,
	  end_totals, end_entry },
	{ RANK_CALLS, "Most allocation calls", NULL, 0, calls_totals,
	  calls_entry },
};

#define NLISTS (sizeof lists / sizeof lists[0])

/* The one list of report --at. */
static const struct list at_list = { RANK_AT, "Top holders at", NULL,
				     1,	      at_totals,	at_entry };

static const struct list *
list_of(enum rank_by by)
{
	for (size_t i = 0; i < NLISTS; i++)
		if (lists[i].by == by)
			return &lists[i];
	return by == RANK_AT ? &at_list : NULL;
}

/* One list: its heading, its first opt.top entries with their stacks, and
 * how many more there are. */
static void
section(struct report *rep, FILE *o, struct group **all, size_t nall,
	const struct list *l, const struct style *st)
{
	int ended = reader_stats(rep->r)->ended;
	size_t total;
	size_t n = rank_groups(rep, all, nall, l->by, &total);
	char totals[4 * UNITS_BUF + 64];
	l->totals(rep, all, total, totals, sizeof totals);
	const char *title = ended || !l->title_cut ? l->title
			    : rep->being_written   ? "Held now"
						   : l->title_cut;
	fprintf(o, l->bare ? "\n%s%s%s %s\n" : "\n%s%s%s (%s)\n", st->b, title,
		st->r, totals);
	if (!n) {
		fprintf(o, "    %s(nothing)%s\n", st->d, st->r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct group *g = all[i];
		fprintf(o, "%s%4zu.%s ", st->b, i + 1, st->r);
		l->entry(o, rep, g, st);
		if (g->runtime)
			fprintf(o, "  %s(%s)%s", st->d, g->runtime, st->r);
		fputc('\n', o);
		print_stack(o, rep, g, l->by, st);
	}
	if (total > n)
		fprintf(o, "    %s... and %zu more%s%s\n", st->d, total - n,
			rep->opt.brief ? "" : " (--top N shows more)", st->r);
}

static void
free_groups(struct group **groups, struct group **all)
{
	struct group *g, *t;
	HASH_ITER(hh, *groups, g, t)
	{
		HASH_DEL(*groups, g);
		for (size_t i = 0; i < g->nm; i++) {
			free(g->m[i].f);
			free(g->m[i].label);
		}
		free(g->m);
		free(g->key);
		free(g);
	}
	free(all);
}

/* Groups the candidates of the given rankings (sites whose shown frames
 * agree merged) into a flat array; *groups owns them. Returns NULL when
 * out of memory. */
static struct group **
group_sites(struct report *rep, const struct list *l, size_t nl,
	    struct group **groups, size_t *nall)
{
	struct rp_site *site, *tmp;
	HASH_ITER(hh, rep->rp.sites, site, tmp)
	site->mark = 0;
	for (size_t i = 0; i < nl; i++)
		collect(rep, l[i].by, groups);
	size_t k = 0;
	struct group **all = malloc((HASH_COUNT(*groups) + 1) * sizeof *all);
	if (!all)
		return NULL;
	struct group *g, *t;
	HASH_ITER(hh, *groups, g, t)
	{
		if (!g->nm)
			continue;
		label_members(g);
		g->runtime = runtime_what(g->m[0].f, g->m[0].nf);
		for (size_t i = 1; i < g->nm && g->runtime; i++)
			if (!runtime_what(g->m[i].f, g->m[i].nf))
				g->runtime = NULL;
		all[k++] = g;
	}
	*nall = k;
	return all;
}

/* The label as one printable line: control bytes become '?'. */
static void
print_label(FILE *o, const char *label)
{
	for (const unsigned char *p = (const unsigned char *)label; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, o);
}

/* The marks (heldby_mark) in time order with the bytes held at each, so a
 * phase of the run can be told by its memory. */
static void
marks_section(struct report *rep, FILE *o, const struct style *st)
{
	const struct replay *rp = &rep->rp;
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	if (!rp->nmarks)
		return;
	fprintf(o, "\n%sMarks%s (%s; the peak was at %s)\n", st->b, st->r,
		format_count(rp->sum.marks, b1),
		format_duration_step(rp->sum.peak_time_ns,
				     reader_time_step_ns(rep->r), b2));
	size_t n = rp->nmarks;
	if (rep->opt.top && n > rep->opt.top)
		n = rep->opt.top;
	for (size_t i = 0; i < n; i++) {
		const struct rp_mark *m = &rp->marks[i];
		char blocks[UNITS_BUF + 16];
		snprintf(blocks, sizeof blocks, "%s block%s",
			 format_count(m->blocks, b3), plural(m->blocks));
		/* a mark has its own time, in ns */
		fprintf(o, "    at %-9s %s%10s%s held in %-10s  ",
			format_duration(m->time_ns, b1), st->b,
			format_size(m->bytes, b2), st->r, blocks);
		print_label(o, m->label);
		fputc('\n', o);
	}
	if (rp->nmarks > n)
		fprintf(o, "    %s... and %zu more%s%s\n", st->d,
			rp->nmarks - n,
			rep->opt.brief ? "" : " (--top N shows more)", st->r);
	if (rp->sum.marks > rp->nmarks)
		fprintf(o,
			"    %s(only the first %zu marks are kept; %s in the trace)%s\n",
			st->d, rp->nmarks, format_count(rp->sum.marks, b1),
			st->r);
}

static void
set_cwd(void)
{
	if (!getcwd(cwd, sizeof cwd))
		cwd[0] = 0;
}

int
report_text_holders(struct report *rep, FILE *o, enum rank_by by)
{
	static const struct style plain = { "", "", "" };
	set_cwd();
	struct group *groups = NULL;
	size_t nall;
	const struct list *l = list_of(by);
	struct group **all = group_sites(rep, l, 1, &groups, &nall);
	if (!all) {
		free_groups(&groups, all);
		return -ENOMEM;
	}
	section(rep, o, all, nall, l, &plain);
	free_groups(&groups, all);
	return ferror(o) ? -EIO : 0;
}

/* What the summary says about recording: dropped events always (they are
 * missing), ring waits only when the program may have lost 1% of its time
 * to them (nothing is missing then; its times ran slow). */
static void
recording_lines(FILE *o, const struct rp_summary *s, const struct style *st)
{
	char b1[UNITS_BUF];
	if (s->dropped)
		fprintf(o,
			"  Dropped    %s%s event%s could not be recorded%s; "
			"the counts here leave them out\n",
			st->b, format_count(s->dropped, b1), plural(s->dropped),
			st->r);
	if (s->waits && s->waits >= 100 &&
	    (double)s->waits * WAIT_COST_NS >= (double)s->duration_ns / 100)
		fprintf(o,
			"  Waits      the program waited %s time%s for heldby's "
			"writer to empty its event buffer:\n"
			"             nothing is missing, but it ran slower, "
			"and the times here are stretched\n",
			format_count(s->waits, b1), plural(s->waits));
}

/* Names once, at the end, the modules whose frames were shown as
 * module+0x... for want of symbols, and where their symbols are: on
 * Debian the PKG-dbgsym package of the debian-debug archive, elsewhere a
 * debug file found by build-id. The frames are those section() shows: the
 * first opt.top groups of each list, m[0]'s frames from fold on. */
static void
nosyms_note(struct report *rep, FILE *o, struct group **all, size_t nall,
	    const struct list *l, size_t nl, const struct style *st)
{
	struct report_nosyms ns = { 0 };
	for (size_t k = 0; k < nl; k++) {
		size_t total;
		size_t n = rank_groups(rep, all, nall, l[k].by, &total);
		for (size_t i = 0; i < n; i++) {
			const struct member *m = &all[i]->m[0];
			report_nosyms_add(rep, &ns, m->f + m->fold, m->show);
		}
	}
	if (!ns.n)
		return;
	/* Indented less than a frame (8) so that no reader takes these
	 * lines for frames of the list above. */
	fprintf(o,
		"\n%sModules without symbols%s (their frames read "
		"module+0x...)\n",
		st->b, st->r);
	for (size_t i = 0; i < ns.n; i++) {
		char debug[192]; /* a 64-byte build-id needs 161 */
		fprintf(o, "    %s  %s\n", report_basename(ns.m[i]->path),
			ns.m[i]->path);
		if (!report_debug_path(ns.m[i], debug, sizeof debug))
			fprintf(o, "      %sdebug file by build-id:%s %s\n",
				st->d, st->r, debug);
	}
	fprintf(o, "    Debian: `dpkg -S PATH` names a module's package PKG, "
		   "and `apt-get install\n"
		   "    PKG-dbgsym` installs its symbols once the debian-debug "
		   "archive is enabled;\n"
		   "    elsewhere, put the debug file at its build-id path.\n");
	report_nosyms_free(&ns);
}

/* The summary's figures: the peak, what was held at the end, the calls,
 * the duration. */
static void
summary_lines(struct report *rep, FILE *o, struct group **all, size_t nall,
	      const struct style *st)
{
	const struct rp_summary *s = &rep->rp.sum;
	int ended = reader_stats(rep->r)->ended;
	uint64_t step = reader_time_step_ns(rep->r);
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	fprintf(o, "  Peak       %s%s%s in %s block%s at %s\n", st->b,
		format_size(s->peak_bytes, b1), st->r,
		format_count(s->peak_blocks, b2), plural(s->peak_blocks),
		format_duration_step(s->peak_time_ns, step, b3));
	uint64_t own = runtime_end_bytes(all, nall);
	fprintf(o, "  %s%s%s%s in %s block%s",
		ended		     ? "At exit    "
		: rep->being_written ? "Now        "
				     : "At the cut ",
		st->b, format_size(s->end_bytes, b1), st->r,
		format_count(s->end_blocks, b2), plural(s->end_blocks));
	if (own)
		fprintf(o, " (%s of it the runtime's own)",
			format_size(own, b1));
	fputc('\n', o);
	fprintf(o, "  Calls      %s allocation%s, ",
		format_count(s->alloc_calls, b1), plural(s->alloc_calls));
	fprintf(o, "%s free%s\n", format_count(s->free_calls, b1),
		plural(s->free_calls));
	fprintf(o, "  Duration   %s\n",
		format_duration_step(s->duration_ns, step, b1));
}

/* Whether the trace is whole: complete, incomplete, cut short; damaged. */
static void
trace_lines(struct report *rep, FILE *o, const struct style *st)
{
	const struct reader_stats *rs = reader_stats(rep->r);
	uint64_t step = reader_time_step_ns(rep->r);
	char b1[UNITS_BUF], b2[UNITS_BUF];
	if (rep->rp.sum.complete)
		fprintf(o, "  Trace      complete\n");
	else if (rep->being_written)
		fprintf(o,
			"  Trace      %sstill being written%s by pid %" PRIu64
			" (running); %s recorded so far, on disk within one "
			"flush period\n",
			st->b, st->r, reader_pid(rep->r),
			format_duration_step(rs->last_time_ns, step, b1));
	else if (rs->ended)
		fprintf(o,
			"  Trace      %sincomplete: the program ended, but data is missing%s\n",
			st->b, st->r);
	else
		fprintf(o,
			"  Trace      %scut short after %s (%" PRIu64
			" block%s, %s read); "
			"reporting what was recorded%s\n",
			st->b, format_duration_step(rs->last_time_ns, step, b1),
			rs->blocks_read, plural(rs->blocks_read),
			format_size(rs->bytes_read, b2), st->r);
	if (rs->blocks_damaged)
		fprintf(o,
			"  Damaged    %" PRIu64
			" block%s skipped (damaged or missing); "
			"the events in %s are not counted\n",
			rs->blocks_damaged, plural(rs->blocks_damaged),
			rs->blocks_damaged == 1 ? "it" : "them");
}

static void
python_lines(struct report *rep, FILE *o, const struct style *st)
{
	if (!report_is_python(rep->r))
		return;
	fprintf(o,
		"  Python     %sa CPython interpreter: unless it ran "
		"with PYTHONMALLOC=malloc, its%s\n"
		"             objects of up to 512 bytes came from "
		"pymalloc's arenas, which\n"
		"             heldby does not see; and the stacks are the "
		"interpreter's C frames,\n"
		"             not Python lines (README: \"Python "
		"programs\")\n",
		st->b, st->r);
}

/* The --at moment's lines of the summary: what was held then, and how
 * long it had been held. */
static void
at_lines(struct report *rep, FILE *o, const struct style *st)
{
	const struct rp_at *at = &rep->rp.at;
	uint64_t step = reader_time_step_ns(rep->r);
	char moment[RP_MARK_LABEL_MAX + 64], b1[UNITS_BUF], b2[UNITS_BUF];
	at_moment(rep, moment, sizeof moment);
	fprintf(o, "  At         %s: %s%s%s in %s block%s\n", moment, st->b,
		format_size(at->bytes, b1), st->r, format_count(at->blocks, b2),
		plural(at->blocks));
	fprintf(o, "  Held for   ");
	for (unsigned b = 0; b < RP_AGES; b++)
		fprintf(o, "%s%s %s", b ? ", " : "", age_names[b],
			format_size(at->age_bytes[b], b1));
	fprintf(o, "; %s on average\n",
		format_duration_step(
			replay_mean_age(at->at_ns, at->tsum, at->blocks), step,
			b1));
}

int
report_text(struct report *rep, FILE *o)
{
	static const struct style plain = { "", "", "" };
	static const struct style color = { "\033[1m", "\033[2m", "\033[0m" };
	const struct style *st = rep->opt.color ? &color : &plain;
	const struct reader_stats *rs = reader_stats(rep->r);

	set_cwd();
	struct group *groups = NULL;
	size_t nall;
	/* report --at shows the one moment */
	const struct list *ls = rep->at_when ? &at_list : lists;
	size_t nls = rep->at_when ? 1 : NLISTS;
	struct group **all = group_sites(rep, ls, nls, &groups, &nall);
	if (!all) {
		free_groups(&groups, all);
		return -ENOMEM;
	}

	const char *exe = reader_exe(rep->r);
	fprintf(o, "%sheldby report%s  %s  (%s, pid %" PRIu64 ")\n\n", st->b,
		st->r, reader_path(rep->r), exe && *exe ? exe : "?",
		reader_pid(rep->r));
	if (!rs->blocks_read && !rs->ended) {
		fprintf(o,
			"  Trace      %sno events recorded%s: it was cut inside "
			"its first block, before\n"
			"             heldby's first flush (HELDBY_FLUSH_MS, "
			"200 ms by default)\n",
			st->b, st->r);
		free_groups(&groups, all);
		return ferror(o) ? -EIO : 0;
	}
	summary_lines(rep, o, all, nall, st);
	trace_lines(rep, o, st);
	recording_lines(o, &rep->rp.sum, st);
	python_lines(rep, o, st);
	if (rep->at_when)
		at_lines(rep, o, st);
	else
		marks_section(rep, o, st);
	for (size_t i = 0; i < nls; i++)
		section(rep, o, all, nall, &ls[i], st);
	nosyms_note(rep, o, all, nall, ls, nls, st);
	free_groups(&groups, all);
	return ferror(o) ? -EIO : 0;
}
