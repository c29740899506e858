/* SPDX-License-Identifier: MIT */
/*
 * The fast unwinder (x86-64): walks the stack with the rules of .eh_frame
 * (cfi.c), cached by code address in one table that all threads share. A
 * frame costs one table load, bounds checks and one or two stack loads;
 * libunwind's unw_backtrace costs ~6 ns a frame plus ~45 ns a call on the
 * bench VM, which was the largest part of recording a deep-stacked program
 * such as python. Debian builds without frame pointers, so a frame-pointer
 * walk is not an option there.
 *
 * Consecutive stacks of a thread mostly share their outer part. Each walk
 * is remembered (a memo per thread, kept with its ring); when the walk
 * reaches a state (ip, rsp, rbp) the previous walk was in, and every stack
 * word the previous walk read from there on (return addresses, saved rbp)
 * still holds the same value, the rest of the walk would read and compute
 * exactly what it did before: the remembered frames are copied. That
 * replaces a rule lookup per outer frame with one compare of a stack word
 * that is hot in the cache.
 *
 * It gives up (returns -1, and the caller asks libunwind for the whole
 * stack) rather than guess: on a rule that is not a simple one (signal
 * frames, DWARF expressions, realigned stacks), on a rule it cannot look up
 * now, when the stack pointer is outside the thread's stack (sigaltstack,
 * coroutines) and when a frame would read outside it. So where it answers,
 * it answers what libunwind would; HELDBY_UNWIND=check compares the two on
 * every stack.
 */
#include "unwind.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "attrs.h"
#include "backtrace.h"
#include "cfi.h"
#include "config.h"
#include "mapmem.h"
#include "maps.h"
#include "ring.h"

#if defined(__x86_64__)

#define CACHE_BITS 16
#define CACHE_SIZE (1u << CACHE_BITS)

/* One cached rule. Two threads may fill a slot at once: the key is the
 * address mixed with the rule, so a torn pair fails the check and reads
 * as a miss. */
struct slot {
	_Atomic uint64_t key;
	_Atomic uint64_t rule;
};

static struct slot *cache;
/* Its pages that hold a rule (mapmem.h): the program's threads read the
 * table and the writer fills it. */
static _Atomic uint64_t
	cache_marks[HB_MARK_WORDS(CACHE_SIZE * sizeof(struct slot))];
/* Moves on when the cache is flushed: remembered walks made with the old
 * rules are stale. */
static _Atomic uint64_t rules_gen = 1;

struct stack_bounds {
	uintptr_t lo, hi;
	int state; /* 0 not asked yet, 1 known, -1 unknown */
};
static HB_TLS struct stack_bounds tls_bounds;

static inline uint64_t
mix(uint64_t rule)
{
	return (rule + 1) * UINT64_C(0x9E3779B97F4A7C15);
}

static inline size_t
slot_of(uint64_t pc)
{
	return (size_t)((pc * UINT64_C(0x9E3779B97F4A7C15)) >>
			(64 - CACHE_BITS));
}

/* kind 2 bits, cfa_rbp 1, rbp_saved 1, rbp_off 16 (signed), cfa_off 32
 * (signed). */
static bool
pack(struct cfi_rule r, uint64_t *out)
{
	if (r.rbp_off < INT16_MIN || r.rbp_off > INT16_MAX)
		return false;
	*out = (uint64_t)r.kind | (uint64_t)r.cfa_rbp << 2 |
	       (uint64_t)r.rbp_saved << 3 |
	       (uint64_t)(uint16_t)(int16_t)r.rbp_off << 4 |
	       (uint64_t)(uint32_t)r.cfa_off << 20;
	return true;
}

static inline struct cfi_rule
unpack(uint64_t v)
{
	struct cfi_rule r;
	r.kind = (uint8_t)(v & 3);
	r.cfa_rbp = (uint8_t)(v >> 2 & 1);
	r.rbp_saved = (uint8_t)(v >> 3 & 1);
	r.rbp_off = (int16_t)(uint16_t)(v >> 4);
	r.cfa_off = (int32_t)(uint32_t)(v >> 20);
	return r;
}

/* The rule cached for pc, packed, in *v; false when none is. */
static inline bool
cached_rule(uint64_t pc, uint64_t *v)
{
	size_t i = slot_of(pc);
	if (!hb_page_written(cache_marks, i * sizeof(struct slot)))
		return false;
	uint64_t key =
		atomic_load_explicit(&cache[i].key, memory_order_relaxed);
	*v = atomic_load_explicit(&cache[i].rule, memory_order_relaxed);
	return key == (pc ^ mix(*v));
}

/* Code addresses waiting for their rule. A lookup allocates (libdw), and
 * a walk may run in a signal handler that interrupted the program inside
 * malloc, where allocating again corrupts the heap: so the walk only asks,
 * and falls back to libunwind (which does not allocate) this time, and
 * the writer thread looks the rules up (uw_resolve_wanted) at its next
 * tick. Asking wakes the writer from an idle sleep, and else once
 * KICK_AFTER_WALKS stacks went to libunwind since it last looked rules up:
 * a wake for every first new address after a drain cost cc1plus 17,000
 * futex calls and about 5% of its samples (its new addresses come one at
 * a time), and no wake at all left python3 -c 'import json' 23,500-26,800
 * of its 55,710 stacks to libunwind, against 4,100-11,500. */
#define WANTED 4096
#define KICK_AFTER_WALKS 64
static _Atomic uint64_t wanted[WANTED];
static _Atomic int wanted_any;
static _Atomic unsigned walks_waiting; /* left to libunwind since */

static void
want(uint64_t pc)
{
	_Atomic uint64_t *w = &wanted[slot_of(pc) & (WANTED - 1)];
	uint64_t none = 0;
	if (atomic_load_explicit(w, memory_order_relaxed) == 0 &&
	    atomic_compare_exchange_strong(w, &none, pc) &&
	    !atomic_load_explicit(&wanted_any, memory_order_relaxed)) {
		atomic_store_explicit(&wanted_any, 1, memory_order_release);
		ring_kick_if_idle(); /* async-signal-safe */
	}
}

void
uw_want_stack(void *const *ips, int n)
{
	if (!cache)
		return;
	for (int i = 0; i < n; i++) {
		uint64_t pc = (uint64_t)(uintptr_t)ips[i] - 1, v;
		if (!cached_rule(pc, &v))
			want(pc);
	}
	if (atomic_fetch_add_explicit(&walks_waiting, 1, memory_order_relaxed) +
		    1 ==
	    KICK_AFTER_WALKS)
		ring_kick_consumer(); /* async-signal-safe */
}

static void
rule_store(uint64_t pc, struct cfi_rule r)
{
	uint64_t v = 0;
	if (!pack(r, &v)) {
		r.kind = CFI_COMPLEX;
		pack(r, &v);
	}
	size_t i = slot_of(pc);
	atomic_store_explicit(&cache[i].rule, v, memory_order_relaxed);
	atomic_store_explicit(&cache[i].key, pc ^ mix(v), memory_order_relaxed);
	hb_page_mark(cache_marks, i * sizeof(struct slot));
}

static struct cfi_rule
rule_for(uint64_t pc)
{
	uint64_t v;
	if (likely(cached_rule(pc, &v)))
		return unpack(v);
	want(pc);
	return (struct cfi_rule){ .kind = CFI_MISSING };
}

bool
uw_rules_wanted(void)
{
	return atomic_load_explicit(&wanted_any, memory_order_relaxed);
}

void
uw_resolve_wanted(void)
{
	if (!cache ||
	    !atomic_exchange_explicit(&wanted_any, 0, memory_order_acquire))
		return;
	atomic_store_explicit(&walks_waiting, 0, memory_order_relaxed);
	for (size_t i = 0; i < WANTED; i++) {
		uint64_t pc =
			atomic_load_explicit(&wanted[i], memory_order_relaxed);
		if (!pc)
			continue;
		struct cfi_rule r = cfi_lookup(pc);
		if (r.kind != CFI_MISSING)
			rule_store(pc, r);
		atomic_store_explicit(&wanted[i], 0, memory_order_relaxed);
	}
}

static const struct stack_bounds *
thread_bounds(uintptr_t rsp)
{
	struct stack_bounds *b = &tls_bounds;
	if (likely(b->state))
		return b->state > 0 ? b : NULL;
	b->state = -1;
	/* From /proc/self/maps, not pthread_getattr_np, which allocates: this
	 * may run first in a signal handler. The buffer is small: that may be
	 * on a signal's alternate stack. */
	char buf[1024];
	bool grows;
	/* A query (Linux 6.11) where the kernel has one: the text of a maps
	 * file with a thousand threads' stacks in it was most of what a
	 * short-lived thread cost (bench: threads-800). */
	int q = maps_query(rsp, &b->lo, &b->hi, buf, 64);
	if (q == 0)
		return NULL;
	if (q > 0) {
		grows = strcmp(buf, "[stack]") == 0;
	} else {
		const char *line =
			maps_line_of(rsp, buf, sizeof(buf), &b->lo, &b->hi);
		if (!line)
			return NULL;
		grows = strstr(line, "[stack]") != NULL;
	}
	/* The main thread's stack grows down as it deepens, up to its limit:
	 * only the top is fixed (the walk reads above rsp, below the top). */
	struct rlimit rl;
	if (grows && getrlimit(RLIMIT_STACK, &rl) == 0) {
		uintptr_t room = rl.rlim_cur == RLIM_INFINITY ||
						 rl.rlim_cur > b->hi - 4096
					 ? b->hi - 4096
					 : (uintptr_t)rl.rlim_cur;
		if (b->hi - room < b->lo)
			b->lo = b->hi - room;
	}
	b->state = 1;
	return b;
}

void
uw_init(void)
{
	void *m = mmap(NULL, CACHE_SIZE * sizeof(struct slot),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	cache = m == MAP_FAILED ? NULL : m;
}

void
uw_flush(void)
{
	if (!cache)
		return;
	/* unwritten pages stay so */
	for (size_t i = 0; i < CACHE_SIZE; i++)
		if (hb_page_written(cache_marks, i * sizeof(struct slot)))
			atomic_store_explicit(&cache[i].key, 0,
					      memory_order_relaxed);
	atomic_fetch_add_explicit(&rules_gen, 1, memory_order_release);
	cfi_forget();
}

/* ---- the memo of the previous walk ---- */

#define MEMO_FRAMES (HB_DEPTH_MAX + BT_SLACK)

/* A frame as the walk found it: the state it was in there, where it read
 * the caller's rbp (0: not read), and whether its rule computed the CFA
 * from rbp. The caller's return address was read at the next frame's
 * rsp - 8. */
struct frame {
	uintptr_t ip, rsp, rbp, rbp_at;
	bool cfa_rbp;
};

/* How a walk ended after its last frame. */
enum { END_OUTERMOST, END_ZERO, END_CAP };

/* The last walk, right-aligned: its frames are f[base..top), innermost
 * first. A new walk that meets it leaves its outer part where it is and
 * writes only its own inner frames in front of it, instead of copying the
 * whole stack every time. */
struct walk {
	uint64_t gen; /* of the rule cache it was made with */
	uintptr_t hi; /* the top of the stack it walked */
	int base, top, end;
	uintptr_t zero_at; /* END_ZERO: the return address read as 0 */
	struct frame f[MEMO_FRAMES];
};

#define NEAR_BITS 8

/* The last walk, the frames of the one being made (until it meets the
 * last one or ends), and the thread's cache of rules (pc 0: empty; filled
 * only from rules of the current gen). */
struct uw_memo {
	uint64_t walks; /* the number of the last walk */
	struct walk last;
	struct frame fresh[MEMO_FRAMES];
	uint64_t near_gen;
	uint64_t near_pc[1u << NEAR_BITS];
	uint64_t near_rule[1u << NEAR_BITS];
};

/* Where the last walk no longer holds: the highest m such that a stack
 * word it read to go from frame m to m + 1 (or to end after m) changed
 * since, or -1 when every word it read from frame j on is unchanged. A
 * frame above m can still be taken over. A saved rbp counts only where
 * the walk reads it (a CFA from rbp before rbp is restored again): sqlite3
 * keeps loop variables in rbp, whose saved copies change from one
 * allocation to the next, and a third of its walks broke on them. */
static int
tail_broken(const struct walk *w, int j)
{
	int top = w->top;
	if (w->end == END_ZERO && *(const uintptr_t *)w->zero_at != 0)
		return top - 1;
	bool live = w->f[top - 1].cfa_rbp; /* rbp in frame m + 1 is read */
	for (int m = top - 2; m >= j; m--) {
		const struct frame *f = &w->f[m], *up = f + 1;
		if (*(const uintptr_t *)(up->rsp - 8) != up->ip)
			return m;
		if (f->rbp_at) {
			if (live && *(const uintptr_t *)f->rbp_at != up->rbp)
				return m;
			live = f->cfa_rbp;
		} else {
			live = live || f->cfa_rbp;
		}
	}
	return -1;
}

/* Where rbp differs, frame j of the last walk still matches when the rest
 * of that walk never read the rbp it had there: no frame computes its CFA
 * from it before rbp is restored from the stack. Most frames that keep
 * something else in rbp save the caller's, so the scan is short; matching
 * rbp too made sqlite3 walk 6.1 frames an allocation where 4.8 differed.
 * Returns the last frame that carried that rbp (the one that restores
 * it, or the outermost), or -1 where it was read. */
static int
rbp_unread_to(const struct walk *w, int j)
{
	for (int m = j; m < w->top; m++) {
		if (w->f[m].cfa_rbp)
			return -1;
		if (w->f[m].rbp_at)
			return m;
	}
	return w->top - 1;
}

/* The walk in progress (fresh[0..n), its return addresses in buf) is in
 * the state of frame j of the last walk, whose words from there on are
 * unchanged, but for rbp in frames j..rbp_to, which it has as rbp
 * (rbp_to < j: none): finish it from there, and make it the last walk.
 * Returns the frame count, or -1 when the last walk stopped short of where
 * this one has to go. */
static int
adopt_tail(struct walk *w, int j, int rbp_to, uintptr_t rbp,
	   const struct frame *fresh, void **buf, int n, int max)
{
	int rest = w->top - j;
	if (w->end == END_CAP && n + rest < max)
		return -1;
	for (int m = j; m <= rbp_to; m++)
		w->f[m].rbp = rbp;
	int take = n + rest <= max ? rest : max - n;
	for (int k = 0; k < take; k++)
		buf[n + k] = (void *)w->f[j + k].ip;
	if (take < rest)
		w->end = END_CAP;
	int top = j + take;
	if (j < n) {
		/* No room in front: move the kept part to the end. */
		memmove(&w->f[MEMO_FRAMES - take], &w->f[j],
			(size_t)take * sizeof(*fresh));
		j = MEMO_FRAMES - take;
		top = MEMO_FRAMES;
	}
	memcpy(&w->f[j - n], fresh, (size_t)n * sizeof(*fresh));
	w->base = j - n;
	w->top = top;
	return n + take;
}

/* A walk that met no part of the last one becomes the last walk. */
static void
keep_fresh(struct walk *w, const struct frame *fresh, int n, int end,
	   uintptr_t zero_at, uint64_t gen, uintptr_t hi)
{
	w->base = MEMO_FRAMES - n;
	w->top = MEMO_FRAMES;
	memcpy(&w->f[w->base], fresh, (size_t)n * sizeof(*fresh));
	w->end = end;
	w->zero_at = zero_at;
	w->gen = gen;
	w->hi = hi;
}

/* A rule through the thread's own small cache (hot code addresses stay in
 * a few cache lines), then the shared table. */
static inline struct cfi_rule
rule_near(struct uw_memo *memo, uint64_t pc)
{
	size_t i = (size_t)((pc * UINT64_C(0x9E3779B97F4A7C15)) >>
			    (64 - NEAR_BITS));
	if (likely(memo->near_pc[i] == pc))
		return unpack(memo->near_rule[i]);
	struct cfi_rule r = rule_for(pc);
	uint64_t v;
	if (r.kind != CFI_MISSING && pack(r, &v)) {
		memo->near_pc[i] = pc;
		memo->near_rule[i] = v;
	}
	return r;
}

/* A forked child has only this thread: the others' bounds are gone with
 * them, this one's are still right. Nothing to do. */

/* The parts of the walk below are inlined into uw_backtrace: they run for
 * every frame of every allocation, and the walk's state stays in
 * registers. */
#define UW_HOT static inline __attribute__((always_inline))

/* Where a walk is: ip and pc (the address its rule is looked up by: ip - 1
 * for a return address, which may be just past a call at the end of a
 * function), rsp and rbp. */
struct regs {
	uintptr_t ip, rsp, rbp;
	uint64_t pc;
};

/* The thread's memo, mapped on its first walk; NULL when it cannot be. */
static struct uw_memo *
memo_of(void **memo_slot)
{
	struct uw_memo *memo = *memo_slot;
	if (!memo) {
		void *m = mmap(NULL, sizeof(*memo), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		*memo_slot = memo = m;
	}
	return memo;
}

/* The rule cache's generation; the thread's near cache is emptied when it
 * moved on since (uw_flush: its rules may be stale). */
UW_HOT uint64_t
memo_gen(struct uw_memo *memo)
{
	uint64_t gen = atomic_load_explicit(&rules_gen, memory_order_acquire);
	if (memo->near_gen != gen) {
		memset(memo->near_pc, 0, sizeof(memo->near_pc));
		memo->near_gen = gen;
	}
	return gen;
}

/* The state the hook's caller was in when it called: what a walk through
 * the hook's frame would find there. False when that frame is not on
 * this stack, or holds no return address. */
UW_HOT bool
start_at_caller(const void *caller, uintptr_t here,
		const struct stack_bounds *b, struct regs *s)
{
	const uintptr_t *fp = caller;
	if ((uintptr_t)fp < here || (uintptr_t)fp > b->hi - 16)
		return false;
	s->rbp = fp[0];
	s->ip = fp[1];
	s->rsp = (uintptr_t)(fp + 2);
	if (!s->ip)
		return false;
	s->pc = s->ip - 1;
	return true;
}

/* The state of the function this is inlined into (uw_backtrace), at this
 * point: the walk starts with its own frame. */
UW_HOT bool
start_here(const struct stack_bounds *b, struct regs *s)
{
	uintptr_t ip, rsp, rbp;
	/* One statement: the rule for ip describes this very rsp. */
	__asm__ volatile("lea 0(%%rip), %0\n\t"
			 "mov %%rsp, %1\n\t"
			 "mov %%rbp, %2"
			 : "=r"(ip), "=r"(rsp), "=r"(rbp));
	if (rsp < b->lo || rsp >= b->hi)
		return false;
	*s = (struct regs){ .ip = ip, .rsp = rsp, .rbp = rbp, .pc = ip };
	return true;
}

/* Whether the walk, at s, is in the state of the last walk's frame j: the
 * first of its frames from j on (*j moves there) not below s->rsp.
 * *rbp_to: as adopt_tail takes it. */
UW_HOT bool
meets_last(const struct walk *last, int *j, int top, const struct regs *s,
	   int *rbp_to)
{
	while (*j < top && last->f[*j].rsp < s->rsp)
		(*j)++;
	const struct frame *f = &last->f[*j];
	*rbp_to = *j - 1;
	return *j < top && f->rsp == s->rsp && f->ip == s->ip &&
	       (f->rbp == s->rbp || (*rbp_to = rbp_unread_to(last, *j)) >= *j);
}

/* The walk in progress (n frames) met frame j of the last walk: finishes
 * it with the last walk's frames from there, unless a word they were
 * read from changed since. *broken is tail_broken's answer, asked once a
 * walk (-2: not yet). The frame count, or -1 to walk on. */
UW_HOT int
take_over(struct uw_memo *memo, int j, int top, int rbp_to, uintptr_t rbp,
	  void **buf, int n, int max, int *broken, struct uw_reuse *reuse)
{
	if (*broken == -2)
		*broken = tail_broken(&memo->last, j);
	if (j <= *broken)
		return -1;
	int rest = top - j;
	int got = adopt_tail(&memo->last, j, rbp_to, rbp, memo->fresh, buf, n,
			     max);
	if (got < 0)
		return -1;
	reuse->walk = ++memo->walks;
	/* short of rest: capped, not the outer end */
	reuse->same_outer = got - n == rest ? (unsigned)rest : 0;
	return got;
}

/* What one frame of a walk gave: go on to the caller, give up (libunwind
 * walks the stack), or how the walk ended (END_OUTERMOST, END_ZERO). */
enum { STEP_ON = -1, STEP_GIVE_UP = -2 };

/* Notes the frame at s in f, and moves s to its caller by the frame's
 * rule, reading only inside the stack (below hi). */
UW_HOT int
step(struct uw_memo *memo, struct frame *f, struct regs *s, uintptr_t hi)
{
	f->ip = s->ip;
	f->rsp = s->rsp;
	f->rbp = s->rbp;
	f->rbp_at = 0;
	struct cfi_rule r = rule_near(memo, s->pc);
	f->cfa_rbp = r.cfa_rbp;
	if (r.kind == CFI_OUTERMOST)
		return END_OUTERMOST;
	if (r.kind != CFI_SIMPLE)
		return STEP_GIVE_UP;
	uintptr_t cfa = (r.cfa_rbp ? s->rbp : s->rsp) + (intptr_t)r.cfa_off;
	if (cfa <= s->rsp || cfa > hi || cfa - 8 < s->rsp)
		return STEP_GIVE_UP;
	uintptr_t ra = *(const uintptr_t *)(cfa - 8);
	if (r.rbp_saved) {
		uintptr_t at = cfa + (intptr_t)r.rbp_off;
		if (at < s->rsp || at > hi - 8)
			return STEP_GIVE_UP;
		s->rbp = *(const uintptr_t *)at;
		f->rbp_at = at;
	}
	s->rsp = cfa;
	s->ip = ra;
	if (!ra)
		return END_ZERO;
	s->pc = ra - 1;
	return STEP_ON;
}

/* Walks from s, up to max frames into buf, taking over the outer part of
 * the last walk where it meets it; the walk becomes the last walk. The
 * frame count, or -1 where the fast unwinder gives up. */
UW_HOT int
walk(struct uw_memo *memo, uint64_t gen, uintptr_t hi, struct regs *s,
     void **buf, int max, struct uw_reuse *reuse)
{
	struct walk *last = &memo->last;
	/* A ring, and its memo, pass to the next thread when one ends: a walk
	 * of another stack (another mapping may now be where it was) is not
	 * read. Same top, same stack: every word it read is still mapped. */
	int top = last->gen == gen && last->hi == hi ? last->top : 0;
	int n = 0, j = top ? last->base : 0, broken = -2, end = END_CAP;
	while (n < max) {
		int rbp_to, got;
		if (meets_last(last, &j, top, s, &rbp_to) &&
		    (got = take_over(memo, j, top, rbp_to, s->rbp, buf, n, max,
				     &broken, reuse)) >= 0)
			return got;
		buf[n] = (void *)s->ip;
		int how = step(memo, &memo->fresh[n++], s, hi);
		if (how == STEP_GIVE_UP)
			return -1;
		if (how != STEP_ON) {
			end = how;
			break;
		}
	}
	/* END_ZERO: the return address read as 0 was just below s->rsp */
	keep_fresh(last, memo->fresh, n, end, end == END_ZERO ? s->rsp - 8 : 0,
		   gen, hi);
	reuse->walk = ++memo->walks;
	reuse->same_outer = 0;
	return n;
}

__attribute__((noinline)) int
uw_backtrace(void **buf, int max, void **memo_slot, const void *caller,
	     struct uw_reuse *reuse)
{
	if (!cache || max > MEMO_FRAMES)
		return -1;
	uintptr_t here;
	__asm__ volatile("mov %%rsp, %0" : "=r"(here));
	const struct stack_bounds *b = thread_bounds(here);
	if (!b)
		return -1;
	struct uw_memo *memo = memo_of(memo_slot);
	if (!memo)
		return -1;
	uint64_t gen = memo_gen(memo);
	struct regs s;
	if (caller ? !start_at_caller(caller, here, b, &s) : !start_here(b, &s))
		return -1;
	return walk(memo, gen, b->hi, &s, buf, max, reuse);
}

#else /* not x86-64: libunwind only */

void
uw_init(void)
{
}

void
uw_flush(void)
{
}

int
uw_backtrace(void **buf, int max, void **memo_slot, const void *caller,
	     struct uw_reuse *reuse)
{
	(void)caller;
	(void)reuse;
	(void)buf;
	(void)max;
	(void)memo_slot;
	return -1;
}

void
uw_resolve_wanted(void)
{
}

bool
uw_rules_wanted(void)
{
	return false;
}

void
uw_want_stack(void *const *ips, int n)
{
	(void)ips;
	(void)n;
}

#endif
