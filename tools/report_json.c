/* SPDX-License-Identifier: MIT */
/*
 * `heldby report --json`: the stable contract other tools parse, described
 * in docs/report-json.md. Fields may be added, never removed or renamed.
 * Stacks are full (not folded), innermost frame first, inlined frames as
 * their own entries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_str.h"
#include "report.h"

static void
jstack(struct report *rep, FILE *o, uint64_t stack)
{
	struct frame *f;
	size_t n = report_stack(rep, stack, &f);
	fputs("\"stack\": [", o);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n      {\"function\": "
			: "\n      {\"function\": ",
		      o);
		json_str(o, f[i].function);
		fputs(", \"file\": ", o);
		json_str(o, f[i].file);
		/* no file, no line: null, not a line 0 a script would print */
		if (f[i].file)
			fprintf(o, ", \"line\": %u, \"module\": ", f[i].line);
		else
			fputs(", \"line\": null, \"module\": ", o);
		json_str(o, f[i].module);
		fprintf(o, ", \"inlined\": %s, \"offset\": \"0x%" PRIx64 "\"}",
			f[i].inlined ? "true" : "false", f[i].offset);
	}
	if (!n) /* no stack recorded: one unknown frame keeps the shape */
		fputs("\n      {\"function\": null, \"file\": null, \"line\": null, \"module\": null}",
		      o);
	fputs("]", o);
	free(f);
}

/* start_real_ns is above 2^53, where jq and JavaScript round a number:
 * the same moment in forms that survive them, microseconds (below 2^53
 * until the year 2255) and an RFC 3339 UTC time to the nanosecond. */
static void
jstart_real(FILE *o, uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char when[32] = "";
	if (gmtime_r(&sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(o,
		", \"start_real_us\": %" PRIu64
		", \"start_real\": \"%s.%09" PRIu64 "Z\"",
		ns / 1000u, when, ns % 1000000000u);
}

/* "cmdline": the program's argv as it was given, where the trace has it. */
static void
jcmdline(const struct reader *r, FILE *o)
{
	size_t len;
	const char *argv = reader_cmdline(r, &len);
	if (!argv)
		return;
	fputs(", \"cmdline\": [", o);
	for (size_t i = 0; i < len; i += strnlen(argv + i, len - i) + 1) {
		if (i)
			fputs(", ", o);
		json_str(o, argv + i);
	}
	fputc(']', o);
}

/* "ages": the bytes (and blocks, where counted) held at the --at moment
 * by age, below_ns the end of each bucket (null: no end). */
static void
jages(FILE *o, const uint64_t *bytes, const uint64_t *blocks)
{
	fputs("\"ages\": [", o);
	for (unsigned b = 0; b < RP_AGES; b++) {
		fputs(b ? ", {\"below_ns\": " : "{\"below_ns\": ", o);
		if (b < RP_AGES - 1)
			fprintf(o, "%" PRIu64, rp_age_end_ns[b]);
		else
			fputs("null", o);
		fprintf(o, ", \"bytes\": %" PRIu64, bytes[b]);
		if (blocks)
			fprintf(o, ", \"blocks\": %" PRIu64, blocks[b]);
		fputc('}', o);
	}
	fputc(']', o);
}

static void
jlist(struct report *rep, FILE *o, const char *name, enum rank_by by)
{
	size_t n;
	struct rp_site **v = report_rank(rep, by, &n);
	if (rep->opt.top && n > rep->opt.top)
		n = rep->opt.top;
	fprintf(o, by == RANK_AT ? ", \"%s\": [" : ",\n \"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		const struct rp_site *s = v[i];
		fputs(i ? ",\n  {" : "\n  {", o);
		switch (by) {
		case RANK_PEAK:
			fprintf(o,
				"\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64
				", \"age_ns\": %" PRIu64 ", ",
				s->peak_bytes, s->peak_blocks,
				replay_peak_age(&rep->rp, s));
			break;
		case RANK_END:
			fprintf(o,
				"\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64
				", ",
				s->cur_bytes, s->cur_blocks);
			break;
		case RANK_AT:
			fprintf(o,
				"\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64
				", \"age_ns\": %" PRIu64 ", ",
				s->at_bytes, s->at_blocks,
				replay_at_age(&rep->rp, s));
			jages(o, s->at_age_bytes, NULL);
			fputs(", ", o);
			break;
		case RANK_CALLS:
			fprintf(o,
				"\"calls\": %" PRIu64 ", \"bytes\": %" PRIu64
				", \"end_bytes\": %" PRIu64
				", \"end_blocks\": %" PRIu64 ", ",
				s->calls, s->total_bytes, s->cur_bytes,
				s->cur_blocks);
			break;
		}
		jstack(rep, o, s->stack);
		fputs("}", o);
	}
	fputs(n ? "\n ]" : "]", o);
	free(v);
}

/* What kind of moment --at named. */
static const char *
at_kind(enum rp_at_kind k, const char *when)
{
	switch (k) {
	case RP_AT_TIME: return "time";
	case RP_AT_MARK: return "mark";
	case RP_AT_END: return "end";
	default: return !strcmp(when, "peak") ? "peak" : "event";
	}
}

/* "at": what was held at the moment report --at named, its holders in
 * the shape of peak_holders. */
static void
jat(struct report *rep, FILE *o)
{
	const struct rp_at *at = &rep->rp.at;
	if (!rep->at_when || !at->taken)
		return;
	uint64_t age = replay_mean_age(at->at_ns, at->tsum, at->blocks);
	fputs(",\n \"at\": {\"label\": ", o);
	json_str(o, rep->at_when);
	fprintf(o,
		", \"kind\": \"%s\", \"time_ns\": %" PRIu64
		", \"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64
		", \"age_ns\": %" PRIu64 ", ",
		at_kind(at->kind, rep->at_when), at->at_ns, at->bytes,
		at->blocks, age);
	jages(o, at->age_bytes, at->age_blocks);
	jlist(rep, o, "holders", RANK_AT);
	fputc('}', o);
}

/* Every mark kept (the first RP_MARKS_MAX; summary.marks counts all), in
 * time order, with the bytes held at that moment. */
static void
jmarks(struct report *rep, FILE *o)
{
	const struct replay *rp = &rep->rp;
	fputs(",\n \"marks\": [", o);
	for (size_t i = 0; i < rp->nmarks; i++) {
		const struct rp_mark *m = &rp->marks[i];
		fputs(i ? ",\n  {\"label\": " : "\n  {\"label\": ", o);
		json_str(o, m->label);
		fprintf(o,
			", \"time_ns\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"blocks\": %" PRIu64 "}",
			m->time_ns, m->bytes, m->blocks);
	}
	fputs(rp->nmarks ? "\n ]" : "]", o);
}

int
report_json(struct report *rep, FILE *o)
{
	const struct rp_summary *s = &rep->rp.sum;
	const struct reader_stats *st = reader_stats(rep->r);
	fprintf(o,
		"{\"format\": %d,\n \"summary\": {\"peak_bytes\": %" PRIu64
		", \"peak_time_ns\": %" PRIu64 ", \"peak_blocks\": %" PRIu64
		", \"end_bytes\": %" PRIu64 ", \"end_blocks\": %" PRIu64
		", \"alloc_calls\": %" PRIu64 ", \"free_calls\": %" PRIu64
		", \"duration_ns\": %" PRIu64
		", \"complete\": %s, \"unknown_frees\": %" PRIu64
		", \"events_dropped\": %" PRIu64 ", \"ring_waits\": %" PRIu64
		", \"marks\": %" PRIu64 ", \"marks_recorded\": %" PRIu64 "},\n",
		REPORT_JSON_FORMAT, s->peak_bytes, s->peak_time_ns,
		s->peak_blocks, s->end_bytes, s->end_blocks, s->alloc_calls,
		s->free_calls, s->duration_ns, s->complete ? "true" : "false",
		s->unknown_frees, s->dropped, s->waits, s->marks, s->marks);
	fputs(" \"trace\": {\"path\": ", o);
	json_str(o, reader_path(rep->r));
	fputs(", \"exe\": ", o);
	json_str(o, reader_exe(rep->r));
	jcmdline(rep->r, o);
	fprintf(o,
		", \"pid\": %" PRIu64 ", \"start_real_ns\": %" PRIu64
		", \"blocks_read\": %" PRIu64 ", \"blocks_damaged\": %" PRIu64
		", \"truncated\": %s, \"ended\": %s, \"being_written\": %s",
		reader_pid(rep->r), reader_start_real_ns(rep->r),
		st->blocks_read, st->blocks_damaged,
		st->truncated ? "true" : "false", st->ended ? "true" : "false",
		rep->being_written ? "true" : "false");
	jstart_real(o, reader_start_real_ns(rep->r));
	fputc('}', o);
	jlist(rep, o, "peak_holders", RANK_PEAK);
	jlist(rep, o, "leaks", RANK_END);
	jlist(rep, o, "most_calls", RANK_CALLS);
	jmarks(rep, o);
	jat(rep, o);
	report_json_nosyms(rep, o);
	fputs("}\n", o);
	return ferror(o) ? -EIO : 0;
}
