/* SPDX-License-Identifier: MIT */
/*
 * Replay of a trace's events: the live set (block -> size, stack, time) and
 * per-site counters keyed by stack id, including each site's bytes at the
 * global peak, found in one pass with a peak epoch.
 */
#ifndef HELDBY_TOOLS_REPLAY_H
#define HELDBY_TOOLS_REPLAY_H

#include <stdint.h>

#include "hash.h"

#include "reader.h"

struct rp_site {
	uint64_t stack; /* key: stack id, 0 = no stack */
	uint64_t cur_bytes, cur_blocks;
	double cur_tsum; /* sum of the allocation times of the held blocks */
	uint64_t peak_bytes, peak_blocks; /* at the global peak */
	double peak_tsum;
	uint64_t epoch; /* global epoch when peak_* were last brought up to date
			 */
	uint64_t calls, total_bytes;
	/* At the moment report --at asked for (struct rp_at), once taken. */
	uint64_t at_bytes, at_blocks;
	double at_tsum;
	uint64_t at_age_bytes[4]; /* by RP_AGE_* bucket */
	uint32_t index; /* 1 + its place in replay.site_list; 0: none */
	unsigned mark;	/* scratch for the views */
	UT_hash_handle hh;
};

/* A live block: identity (address or RD_SEQ_ID), size, time, site. */
struct rp_block {
	uint64_t id; /* 0: empty slot */
	uint64_t size, time;
	struct rp_site *site;
};

/* Open addressing by id, at most 3/4 full (replay.c). */
struct rp_table {
	struct rp_block *e;
	size_t mask, n;
};

/* A MARK record (heldby_mark): when, and what was held then. */
struct rp_mark {
	char *label; /* NUL-terminated; at most RP_MARK_LABEL_MAX bytes kept */
	uint64_t time_ns;
	uint64_t bytes, blocks; /* held right after the events before it */
};

/* Marks are few (phases of a run); a program that marks every request
 * keeps the first RP_MARKS_MAX, so the replay's memory stays bounded.
 * sum.marks still counts them all. */
#define RP_MARKS_MAX 1000
#define RP_MARK_LABEL_MAX 200

struct rp_summary {
	uint64_t peak_bytes, peak_time_ns, peak_blocks;
	uint64_t end_bytes, end_blocks;
	uint64_t alloc_calls, free_calls;
	uint64_t duration_ns;
	uint64_t unknown_frees;	 /* FREE of a pointer we do not hold */
	uint64_t reused_live;	 /* ALLOC of an address still live (anomaly) */
	uint64_t marks;		 /* all MARK records, kept or not */
	uint64_t dropped, waits; /* from END */
	int complete;
};

/* The moment `report --at` asks about, and what was held then: the
 * holders are each site's at_* counters. Ages are bucketed like GC
 * generations. */
enum rp_at_kind { RP_AT_NONE, RP_AT_TIME, RP_AT_EVENT, RP_AT_MARK, RP_AT_END };
enum { RP_AGE_1S, RP_AGE_10S, RP_AGE_60S, RP_AGE_OLDER, RP_AGES };
struct rp_at {
	enum rp_at_kind kind;
	uint64_t time_ns;  /* RP_AT_TIME: after every event up to it */
	uint64_t event;	   /* RP_AT_EVENT: after this many events */
	const char *label; /* RP_AT_MARK: the first mark so labelled */
	/* Filled when the moment is reached. */
	int taken;
	uint64_t at_ns; /* the moment */
	uint64_t bytes, blocks;
	double tsum; /* of the held blocks' allocation times */
	uint64_t age_bytes[RP_AGES], age_blocks[RP_AGES];
};

/* Where each age bucket ends, in ns (the last has no end). */
extern const uint64_t rp_age_end_ns[RP_AGES - 1];

#define RP_SITE_CACHE 1024
#define RP_RECENT (1u << 16)

/* Numbered blocks by allocation number, RP_PAGE numbers a page (replay.c).
 * A page slot is half a struct rp_block: its number is the slot's, its
 * site an index. */
#define RP_PAGE_BITS 12
#define RP_PAGE (1u << RP_PAGE_BITS)
struct rp_slot {
	uint64_t time;
	uint32_t size; /* a block of 4 GiB or more goes to the table */
	uint32_t site; /* rp_site.index; 0: empty */
};
struct rp_page {
	uint32_t live;
	struct rp_slot e[RP_PAGE];
};

struct replay {
	struct rp_table live;
	struct rp_site *sites;
	struct rp_site **site_list; /* by index - 1 */
	size_t nsites, site_cap;
	/* Last site seen per stack id modulo the size: most allocations come
	 * from a few sites, and this skips their hash lookup. */
	struct rp_site *site_cache[RP_SITE_CACHE];
	/* Numbered blocks live in a ring by allocation number while young
	 * (most die young), then in pages by number: found by arithmetic, no
	 * hash. The table above holds blocks known by address and the last
	 * few of a page that is mostly gone. next_num: one past the highest
	 * number allocated. */
	struct rp_block *recent;
	struct rp_page **pages; /* pages[i]: page page_base + i */
	size_t npages;
	uint64_t page_base;
	uint64_t next_num;
	uint64_t cur_bytes, cur_blocks;
	uint64_t epoch;
	uint64_t last_time;
	struct rp_summary sum;
	uint64_t events;     /* applied so far */
	uint64_t peak_event; /* events applied when the peak was reached */
	struct rp_at at;
	struct rp_mark *marks; /* in trace order, at most RP_MARKS_MAX */
	size_t nmarks, marks_cap;
};

/* Not thread-safe; one replay per thread. */
void replay_init(struct replay *rp);
void replay_free(struct replay *rp);
/* Out-of-memory makes these return -ENOMEM; the replay is then incomplete. */
int replay_alloc(struct replay *rp, uint64_t time_ns, uint64_t ptr,
		 uint64_t size, uint64_t stack);
void replay_release(struct replay *rp, uint64_t time_ns, uint64_t ptr);
/* The block was released unseen (its address was handed out again): an
 * anomaly, counted as reused_live, not as a free call. */
void replay_lost(struct replay *rp, uint64_t ptr);
/* Block id (live or not) is named by addr from now on (RD_ADDR). No check
 * for another live block at addr: the writer names an address only while
 * its block is live. Returns 0 or -ENOMEM. */
int replay_rename(struct replay *rp, uint64_t id, uint64_t addr);
int replay_apply(struct replay *rp, const struct rd_event *ev);
/* Records a mark with the bytes held now; label need not be NUL-terminated.
 * Returns 0 or -ENOMEM. */
int replay_mark(struct replay *rp, uint64_t time_ns, const char *label,
		size_t len);
/* Brings every site's peak values up to date; call once after the last
 * event. duration_ns is the END time or the last event's time. */
void replay_finish(struct replay *rp, uint64_t duration_ns, int complete);

/* Asks the replay to take what is held at a moment (before any event is
 * applied); rp->at says afterwards whether it was reached. */
void replay_want_at(struct replay *rp, const struct rp_at *at);
/* How long, at at_ns, blocks allocated at times summing to tsum had been
 * held on average (0 for no blocks), rounded to the ns. */
uint64_t replay_mean_age(uint64_t at_ns, double tsum, uint64_t blocks);
/* Mean age of the blocks a site held at the --at moment. */
uint64_t replay_at_age(const struct replay *rp, const struct rp_site *s);

/* Reads every event of r into rp and finishes it. Returns 0 or -ENOMEM. */
int replay_reader(struct replay *rp, struct reader *r);

/* Mean age, at the peak, of a site's blocks held at the peak. */
uint64_t replay_peak_age(const struct replay *rp, const struct rp_site *s);

#endif
