/* SPDX-License-Identifier: MIT */
/*
 * `heldby report`: the view users read first. A summary, then who held the
 * bytes at the peak, what was still held at exit, and who called the
 * allocator most. Allocator plumbing is folded so that the first frame
 * shown is the user's code; sites whose folded stacks agree are merged.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "units.h"

#define SHOW_FRAMES 8  /* frames of a stack shown after folding */
#define NAME_MAX_W 90  /* longer C++ names lose their parameter list */
#define CANDIDATES 200 /* sites looked at per list before merging */

struct group {
	char *key;
	struct frame *frames; /* full stack of the first site merged */
	size_t nframes, folded;
	uint64_t peak_bytes, peak_blocks;
	double peak_tsum;
	uint64_t end_bytes, end_blocks;
	uint64_t calls, total_bytes;
	size_t sites;
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

		struct frame *f;
		size_t nf = report_stack(rep, s->stack, &f);
		size_t fold = report_fold(f, nf);
		char *key = frames_key(f + fold, nf - fold);
		if (!key) {
			free(f);
			continue;
		}
		struct group *g;
		HASH_FIND_STR(*groups, key, g);
		if (g) {
			free(key);
			free(f);
		} else {
			g = calloc(1, sizeof *g);
			if (!g) {
				free(key);
				free(f);
				continue;
			}
			g->key = key;
			g->frames = f;
			g->nframes = nf;
			g->folded = fold;
			HASH_ADD_KEYPTR(hh, *groups, g->key, strlen(g->key), g);
		}
		g->sites++;
		g->peak_bytes += s->peak_bytes;
		g->peak_blocks += s->peak_blocks;
		g->peak_tsum += s->peak_tsum;
		g->end_bytes += s->cur_bytes;
		g->end_blocks += s->cur_blocks;
		g->calls += s->calls;
		g->total_bytes += s->total_bytes;
	}
	free(v);
}

static enum rank_by gsort_by;

static uint64_t
gmetric(const struct group *g)
{
	return gsort_by == RANK_PEAK  ? g->peak_bytes
	       : gsort_by == RANK_END ? g->end_bytes
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

/* The name as shown: long C++ names lose their parameter list. */
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
	const char *paren = strchr(fn, '(');
	if (strlen(fn) > NAME_MAX_W && paren && paren != fn) {
		const char *close = strrchr(fn, ')');
		snprintf(buf, len, "%.*s(...)%s", (int)(paren - fn), fn,
			 close && close > paren ? close + 1 : "");
	} else {
		snprintf(buf, len, "%s", fn);
	}
}

/* Where a process or a thread starts: nothing above these is the user's. */
static int
is_entry(const struct frame *f)
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
	return is_entry(f);
}

static void
print_stack(FILE *o, const struct group *g, const struct style *st)
{
	const struct frame *f = g->frames + g->folded;
	size_t n = g->nframes - g->folded;
	/* main's and the threads' start-up frames say nothing. */
	for (size_t i = 1; i < n; i++) {
		if (is_entry(&f[i])) {
			n = i;
			break;
		}
	}
	while (n > 1 && is_runtime(&f[n - 1]))
		n--;
	size_t show = n > SHOW_FRAMES ? SHOW_FRAMES : n;
	if (!n) {
		fprintf(o, "        %s(no stack recorded)%s\n", st->d, st->r);
		return;
	}
	char name[SHOW_FRAMES][NAME_MAX_W + 64],
		loc[SHOW_FRAMES][PATH_MAX + 16];
	int wn = 0, wl = 0;
	for (size_t i = 0; i < show; i++) {
		show_name(&f[i], name[i], sizeof name[i]);
		loc[i][0] = 0;
		if (f[i].file && f[i].line)
			snprintf(loc[i], sizeof loc[i], "%s:%u",
				 short_file(f[i].file), f[i].line);
		else if (f[i].file)
			snprintf(loc[i], sizeof loc[i], "%s",
				 short_file(f[i].file));
		int ln = (int)strlen(name[i]) + (f[i].inlined ? 10 : 0);
		int ll = (int)strlen(loc[i]);
		if (ln > wn && ln <= 48)
			wn = ln;
		if (ll > wl && ll <= 48)
			wl = ll;
	}
	for (size_t i = 0; i < show; i++) {
		int pad = wn - (int)strlen(name[i]) - (f[i].inlined ? 10 : 0);
		fprintf(o, "        %s", name[i]);
		if (f[i].inlined)
			fprintf(o, " %s[inlined]%s", st->d, st->r);
		const char *mod =
			f[i].function ? report_basename(f[i].module) : NULL;
		if (!loc[i][0] && !mod) {
			fputc('\n', o);
			continue;
		}
		fprintf(o, "%*s  %-*s", pad > 0 ? pad : 0, "", mod ? wl : 0,
			loc[i]);
		if (mod)
			fprintf(o, "  %s(%s)%s", st->d, mod, st->r);
		fputc('\n', o);
	}
	if (show < n)
		fprintf(o, "        %s... %zu more frame%s%s\n", st->d,
			n - show, n - show == 1 ? "" : "s", st->r);
	if (g->folded)
		fprintf(o, "        %s(%zu allocator frame%s folded%s)%s\n",
			st->d, g->folded, g->folded == 1 ? "" : "s",
			g->sites > 1 ? "; like stacks merged" : "", st->r);
	else if (g->sites > 1)
		fprintf(o, "        %s(%zu call sites merged)%s\n", st->d,
			g->sites, st->r);
}

static void
section(struct report *rep, FILE *o, struct group **all, size_t nall,
	enum rank_by by, const struct style *st)
{
	const struct rp_summary *s = &rep->rp.sum;
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];
	gsort_by = by;
	qsort(all, nall, sizeof *all, cmp_group);
	size_t n = 0;
	while (n < nall &&
	       (by == RANK_END ? all[n]->end_blocks > 0 : gmetric(all[n]) > 0))
		n++;
	size_t total = n;
	if (rep->opt.top && n > rep->opt.top)
		n = rep->opt.top;

	switch (by) {
	case RANK_PEAK:
		fprintf(o, "\n%sTop holders at peak%s (%s at %s)\n", st->b,
			st->r, format_size(s->peak_bytes, b1),
			format_duration(s->peak_time_ns, b2));
		break;
	case RANK_END:
		fprintf(o, "\n%s%s%s (%s in %s block%s)\n", st->b,
			reader_stats(rep->r)->ended
				? "Held at exit"
				: "Held when the trace was cut",
			st->r, format_size(s->end_bytes, b1),
			format_count(s->end_blocks, b2),
			s->end_blocks == 1 ? "" : "s");
		break;
	case RANK_CALLS:
		fprintf(o, "\n%sMost allocation calls%s (%s in all)\n", st->b,
			st->r, format_count(s->alloc_calls, b1));
		break;
	}
	if (!n) {
		fprintf(o, "    %s(nothing)%s\n", st->d, st->r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct group *g = all[i];
		fprintf(o, "%s%4zu.%s ", st->b, i + 1, st->r);
		switch (by) {
		case RANK_PEAK: {
			double pct = s->peak_bytes
					     ? 100.0 * (double)g->peak_bytes /
						       (double)s->peak_bytes
					     : 0;
			uint64_t age = 0;
			if (g->peak_blocks) {
				double a =
					(double)s->peak_time_ns -
					g->peak_tsum / (double)g->peak_blocks;
				age = a > 0 ? (uint64_t)a : 0;
			}
			fprintf(o,
				"%s%s%s in %s block%s, %.1f%% of peak, held for %s on average\n",
				st->b, format_size(g->peak_bytes, b1), st->r,
				format_count(g->peak_blocks, b2),
				g->peak_blocks == 1 ? "" : "s", pct,
				format_duration(age, b3));
			break;
		}
		case RANK_END:
			fprintf(o, "%s%s%s in %s block%s\n", st->b,
				format_size(g->end_bytes, b1), st->r,
				format_count(g->end_blocks, b2),
				g->end_blocks == 1 ? "" : "s");
			break;
		case RANK_CALLS:
			fprintf(o,
				"%s%s%s call%s, %s in all, %s held at exit\n",
				st->b, format_count(g->calls, b1), st->r,
				g->calls == 1 ? "" : "s",
				format_size(g->total_bytes, b2),
				format_size(g->end_bytes, b3));
			break;
		}
		print_stack(o, g, st);
	}
	if (total > n)
		fprintf(o, "    %s... and %zu more%s%s\n", st->d, total - n,
			rep->opt.brief ? "" : " (--top N shows more)", st->r);
}

/* Groups the candidates of the given rankings (like folded stacks merged)
 * into a flat array; *groups owns them. Returns NULL when out of memory. */
static struct group **
group_sites(struct report *rep, const enum rank_by *by, size_t nby,
	    struct group **groups, size_t *nall)
{
	struct rp_site *site, *tmp;
	HASH_ITER(hh, rep->rp.sites, site, tmp)
	site->mark = 0;
	for (size_t i = 0; i < nby; i++)
		collect(rep, by[i], groups);
	size_t k = 0;
	*nall = HASH_COUNT(*groups);
	struct group **all = malloc((*nall ? *nall : 1) * sizeof *all);
	if (!all)
		return NULL;
	struct group *g, *t;
	HASH_ITER(hh, *groups, g, t)
	all[k++] = g;
	return all;
}

static void
free_groups(struct group **groups, struct group **all)
{
	struct group *g, *t;
	HASH_ITER(hh, *groups, g, t)
	{
		HASH_DEL(*groups, g);
		free(g->key);
		free(g->frames);
		free(g);
	}
	free(all);
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
		format_duration(rp->sum.peak_time_ns, b2));
	size_t n = rp->nmarks;
	if (rep->opt.top && n > rep->opt.top)
		n = rep->opt.top;
	for (size_t i = 0; i < n; i++) {
		const struct rp_mark *m = &rp->marks[i];
		char blocks[UNITS_BUF + 16];
		snprintf(blocks, sizeof blocks, "%s block%s",
			 format_count(m->blocks, b3),
			 m->blocks == 1 ? "" : "s");
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
	struct group **all = group_sites(rep, &by, 1, &groups, &nall);
	if (!all) {
		free_groups(&groups, all);
		return -ENOMEM;
	}
	section(rep, o, all, nall, by, &plain);
	free_groups(&groups, all);
	return ferror(o) ? -EIO : 0;
}

int
report_text(struct report *rep, FILE *o)
{
	static const struct style plain = { "", "", "" };
	static const struct style color = { "\033[1m", "\033[2m", "\033[0m" };
	const struct style *st = rep->opt.color ? &color : &plain;
	const struct rp_summary *s = &rep->rp.sum;
	const struct reader_stats *rs = reader_stats(rep->r);
	char b1[UNITS_BUF], b2[UNITS_BUF], b3[UNITS_BUF];

	set_cwd();
	const char *exe = reader_exe(rep->r);
	fprintf(o, "%sheldby report%s  %s  (%s, pid %" PRIu64 ")\n\n", st->b,
		st->r, reader_path(rep->r), exe && *exe ? exe : "?",
		reader_pid(rep->r));
	fprintf(o, "  Peak       %s%s%s in %s block%s at %s\n", st->b,
		format_size(s->peak_bytes, b1), st->r,
		format_count(s->peak_blocks, b2),
		s->peak_blocks == 1 ? "" : "s",
		format_duration(s->peak_time_ns, b3));
	fprintf(o, "  %s%s%s%s in %s block%s\n",
		rs->ended ? "At exit    " : "At the cut ", st->b,
		format_size(s->end_bytes, b1), st->r,
		format_count(s->end_blocks, b2), s->end_blocks == 1 ? "" : "s");
	fprintf(o, "  Calls      %s allocations, ",
		format_count(s->alloc_calls, b1));
	fprintf(o, "%s frees\n", format_count(s->free_calls, b1));
	fprintf(o, "  Duration   %s\n", format_duration(s->duration_ns, b1));
	if (s->complete)
		fprintf(o, "  Trace      complete\n");
	else if (rs->ended)
		fprintf(o,
			"  Trace      %sincomplete: the program ended, but data is missing%s\n",
			st->b, st->r);
	else
		fprintf(o,
			"  Trace      %scut short after %s (%" PRIu64
			" block%s, %s read); "
			"reporting what was recorded%s\n",
			st->b, format_duration(rs->last_time_ns, b1),
			rs->blocks_read, rs->blocks_read == 1 ? "" : "s",
			format_size(rs->bytes_read, b2), st->r);
	if (rs->blocks_damaged)
		fprintf(o,
			"  Damaged    %" PRIu64
			" block%s skipped (damaged or missing); "
			"the events in %s are not counted\n",
			rs->blocks_damaged, rs->blocks_damaged == 1 ? "" : "s",
			rs->blocks_damaged == 1 ? "it" : "them");
	if (s->dropped || s->waits)
		fprintf(o,
			"  Recording  %" PRIu64 " events dropped, %" PRIu64
			" ring waits\n",
			s->dropped, s->waits);
	marks_section(rep, o, st);

	struct group *groups = NULL;
	static const enum rank_by lists[] = { RANK_PEAK, RANK_END, RANK_CALLS };
	size_t nall;
	struct group **all = group_sites(rep, lists, 3, &groups, &nall);
	if (!all) {
		free_groups(&groups, all);
		return -ENOMEM;
	}
	section(rep, o, all, nall, RANK_PEAK, st);
	section(rep, o, all, nall, RANK_END, st);
	section(rep, o, all, nall, RANK_CALLS, st);
	free_groups(&groups, all);
	return ferror(o) ? -EIO : 0;
}
