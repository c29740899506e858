/* SPDX-License-Identifier: MIT */
/*
 * Start-up, configuration, exit, fork and exec. Configuration is read from
 * environ directly (getenv can be unusable this early); bad values are
 * reported once and replaced by the default: the observed program never dies
 * because of heldby.
 *   HELDBY_OUTPUT    trace path, %p = pid (heldby.%p.hbt), made absolute
 *                    at start; if it exists, PATH.1 ... PATH.99
 *   HELDBY_MODE      record | count | off (record when preloaded, count
 *                    when the program links libheldby: a test program
 *                    should not leave trace files behind by default)
 *   HELDBY_DEPTH     frames per stack, 1..256 (64)
 *   HELDBY_FLUSH_MS  longest time a recorded event waits to be written
 *                    (200); a block is written every half of it
 *   HELDBY_UNWIND    fast | libunwind | check (fast): the fast unwinder
 *                    with libunwind where it gives up, libunwind alone,
 *                    or both on every stack, compared (backtrace.c)
 *   HELDBY_FOLLOW    1: forked children and the programs they run are
 *                    traced too, each to its own file (0: a fork child
 *                    stops recording and libheldby is removed from
 *                    LD_PRELOAD at start). A program this process execs
 *                    is traced either way (exec.c).
 *   HELDBY_RUN_LOG   the run's log that `heldby run` reads (runlog.c)
 *   HELDBY_CLOCK     auto | tsc | monotonic: what times events (clock.h);
 *                    auto and tsc take the TSC where it is usable
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attrs.h"
#include "backtrace.h"
#include "clock.h"
#include "config.h"
#include "count.h"
#include "event.h"
#include "exec.h"
#include "fds.h"
#include "guard.h"
#include "heldby/trace.h"
#include "interpose.h"
#include "lifecycle.h"
#include "modules.h"
#include "ownheap.h"
#include "preload.h"
#include "real.h"
#include "ring.h"
#include "runlog.h"
#include "shadow.h"
#include "signals.h"
#include "writer.h"

struct hb_config hb_cfg = {
	.output = "heldby.%p.hbt",
	.mode = HB_MODE_RECORD,
	.depth = HB_DEPTH_DEFAULT,
	.flush_ms = HB_FLUSH_MS_DEFAULT,
	.follow = 0,
	.clock = HB_CLOCK_AUTO,
};
_Atomic int hb_state;
_Atomic int hb_counting;
/* The traced process. A vfork child shares our memory and runs our hooks
 * without the atfork handlers: it must not stop or flush the parent. */
static pid_t hb_pid;

bool
hb_in_owner(void)
{
	return getpid() == hb_pid;
}

void
hb_warn(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));
	(void)r;
}

void
hb_warn2(const char *a, const char *b)
{
	hb_warn(a);
	hb_warn(b);
	hb_warn("\n");
}

/* n in decimal into buf (12 bytes at least): the warnings may come before
 * stdio is ready to be called from here. */
static const char *
decimal(int n, char *buf)
{
	char *p = buf + 11;
	unsigned u = n < 0 ? 0u - (unsigned)n : (unsigned)n;
	*p = 0;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (n < 0)
		*--p = '-';
	return p;
}

/* "heldby: HELDBY_DEPTH=abc is not a whole number from 1 to 256; using 64" */
static void
warn_range(const char *name, const char *v, int lo, int hi, int def)
{
	char a[12], b[12], c[12];
	hb_warn("heldby: ");
	hb_warn(name);
	hb_warn("=");
	hb_warn(v);
	hb_warn(" is not a whole number from ");
	hb_warn(decimal(lo, a));
	hb_warn(" to ");
	hb_warn(decimal(hi, b));
	hb_warn2("; using ", decimal(def, c));
}

static int
parse_int(const char *name, const char *v, int lo, int hi, int def)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < lo || x > hi) {
		warn_range(name, v, lo, hi, def);
		return def;
	}
	return (int)x;
}

/* A setting that names one of three choices; choice i is value i. A
 * value that is none of them gets the warning and leaves *out as it was. */
static void
parse_choice(const char *v, const char *const names[3], int *out,
	     const char *warning)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return;
		}
	}
	hb_warn(warning);
}

/* A child that changes its folder, or a program exec'd there, writes where
 * the tool looks: the folder is the one the process started in. */
static void
make_output_absolute(void)
{
	if (hb_cfg.output[0] == '/')
		return;
	char cwd[sizeof(hb_cfg.output)];
	if (!getcwd(cwd, sizeof(cwd)))
		return;
	size_t c = strlen(cwd), o = strlen(hb_cfg.output);
	if (c + 1 + o >= sizeof(hb_cfg.output))
		return;
	memmove(hb_cfg.output + c + 1, hb_cfg.output, o + 1);
	memcpy(hb_cfg.output, cwd, c);
	hb_cfg.output[c] = '/';
}

static void
read_config(void)
{
	const char *v;
	if ((v = env_find("HELDBY_OUTPUT")) && *v) {
		if (strlen(v) <= HELDBY_OUTPUT_MAX)
			strcpy(hb_cfg.output, v);
		else
			hb_warn("heldby: HELDBY_OUTPUT is longer than 3900 "
				"bytes; using the default, heldby.%p.hbt\n");
	}
	make_output_absolute();
	hb_cfg.mode = preload_names_us(env_find("LD_PRELOAD")) ? HB_MODE_RECORD
							       : HB_MODE_COUNT;
	if ((v = env_find("HELDBY_MODE"))) {
		static const char *const modes[3] = {
			[HB_MODE_RECORD] = "record",
			[HB_MODE_OFF] = "off",
			[HB_MODE_COUNT] = "count",
		};
		parse_choice(v, modes, &hb_cfg.mode,
			     hb_cfg.mode == HB_MODE_RECORD
				     ? "heldby: HELDBY_MODE must be record, "
				       "count or off; recording\n"
				     : "heldby: HELDBY_MODE must be record, "
				       "count or off; counting\n");
	}
	if ((v = env_find("HELDBY_DEPTH")))
		hb_cfg.depth = parse_int("HELDBY_DEPTH", v, 1, HB_DEPTH_MAX,
					 HB_DEPTH_DEFAULT);
	if ((v = env_find("HELDBY_FLUSH_MS")))
		hb_cfg.flush_ms = parse_int("HELDBY_FLUSH_MS", v, 1, 3600000,
					    HB_FLUSH_MS_DEFAULT);
	if ((v = env_find("HELDBY_FOLLOW")))
		hb_cfg.follow = parse_int("HELDBY_FOLLOW", v, 0, 1, 0);
	if ((v = env_find("HELDBY_CLOCK"))) {
		static const char *const clocks[3] = {
			[HB_CLOCK_AUTO] = "auto",
			[HB_CLOCK_TSC] = "tsc",
			[HB_CLOCK_MONOTONIC] = "monotonic",
		};
		parse_choice(v, clocks, &hb_cfg.clock,
			     "heldby: HELDBY_CLOCK must be auto, tsc or "
			     "monotonic; using auto\n");
	}
	if ((v = env_find("HELDBY_UNWIND"))) {
		static const char *const unwinders[3] = {
			[HB_UNWIND_FAST] = "fast",
			[HB_UNWIND_LIBUNWIND] = "libunwind",
			[HB_UNWIND_CHECK] = "check"
		};
		parse_choice(v, unwinders, &hb_cfg.unwind,
			     "heldby: HELDBY_UNWIND must be fast, libunwind "
			     "or check; fast\n");
	}
}

void
hb_finish(void)
{
	if (!hb_in_owner())
		return;
	int owned = guard_enter();
	int on = hb_on();
	/* From here on hooks only count: threads still allocating neither
	 * block nor delay the exit. */
	atomic_store(&hb_state, HB_STOPPED);
	atomic_store(&ring_stop, 1);
	writer_finish();
	/* The writer counted up to here; the hooks go on, unless it is still
	 * draining (writer_finish timed out): it counts without locks. */
	if (on && writer_done()) {
		atomic_store(&hb_counting, 1);
		bt_report();
	}
	if (owned)
		guard_leave();
}

/* Around fork, this thread holds every shard of the counters' table, and
 * the guard, so that what it allocates meanwhile (other fork handlers,
 * glibc) passes through instead of waiting on a shard it holds. The child
 * keeps counting: its heap is a copy of ours. Recording stops in it; the
 * events the parent's writer had not counted yet are counted from the
 * rings it inherited. */
static HB_TLS int fork_guard_owned;

static void
hb_fork_prepare(void)
{
	bt_fork_prepare();
	writer_fork_prepare();
	fork_guard_owned = guard_enter();
	cnt_lock_all();
	own_fork_prepare(); /* after w_fork_lock: the writer's order */
}

static void
fork_done(void)
{
	cnt_unlock_all();
	if (fork_guard_owned)
		guard_leave();
}

static void
hb_fork_parent(void)
{
	own_fork_parent();
	fork_done();
	writer_fork_parent();
	bt_fork_parent();
}

/*
 * fork: the child has one thread, no writer, the parent's rings and the
 * parent's file. Either way it forgets all of them; followed, it begins a
 * trace of its own (named by its pid) with its first event, knowing nothing
 * of what it inherited as live: blocks the parent allocated and the child
 * frees are unknown frees, which the replay ignores. Starting on the first
 * event rather than here means a child that only execs leaves no trace
 * file, and no thread is created inside fork.
 */
static _Atomic int start_deferred;

static void
hb_fork_child(void)
{
	int on = hb_on();
	atomic_store(&hb_state, HB_STOPPED);
	atomic_store(&ring_stop, 1);
	own_fork_child();
	bt_fork_child();
	fds_forked();
	writer_forked();
	fork_done();
	if (!on)
		return;
	int owned = guard_enter();
	writer_count_leftovers();
	if (owned)
		guard_leave();
	if (!hb_cfg.follow) {
		atomic_store(&hb_counting, 1);
		return;
	}
	event_forked();
	mod_forget();
	hb_pid = getpid();
	atomic_store(&ring_stop, 0);
	atomic_store(&start_deferred, 1);
	atomic_store(&hb_state, HB_ON);
}

void
hb_start_deferred(void)
{
	if (likely(!atomic_load_explicit(&start_deferred,
					 memory_order_relaxed)) ||
	    !atomic_exchange(&start_deferred, 0))
		return;
	if (writer_start() != 0) {
		atomic_store(&hb_counting, 1);
		atomic_store(&hb_state, HB_STOPPED);
		atomic_store(&ring_stop, 1);
	}
}

/* A program linked with its own allocator (static jemalloc, tcmalloc)
 * resolves malloc before us: say so rather than report nothing
 * (docs/architecture.md, "Traps the shim is built around").
 * Compare behaviour, not addresses: the canonical address of malloc may be
 * a PLT entry in the executable. */
static void
check_interposed(void)
{
	if (interpose_malloc_is_ours())
		return;
	void *def = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info di;
	const char *who =
		def && dladdr(def, &di) && di.dli_fname && *di.dli_fname
			? di.dli_fname
			: "the executable";
	hb_warn2("heldby: malloc is not ours but comes from ", who);
	hb_warn("heldby: allocations through it are not recorded\n");
}

void
hb_init(void)
{
	static _Atomic int once;
	if (atomic_exchange(&once, 1))
		return;
	int owned = guard_enter();
	hb_pid = getpid();
	real_init();
	read_config();
	runlog_init();
	exec_save_settings();
	if (!hb_cfg.follow)
		preload_strip();
	if (hb_cfg.mode == HB_MODE_OFF || !real.malloc) {
		atomic_store(&hb_state, HB_STOPPED);
		goto out;
	}
	check_interposed();
	pthread_atfork(hb_fork_prepare, hb_fork_parent, hb_fork_child);
	if (hb_cfg.mode == HB_MODE_COUNT) {
		/* no stacks, no trace, no writer thread */
		atomic_store(&hb_state, HB_STOPPED);
		if (shadow_affordable())
			cnt_use_shadow();
		atomic_store(&hb_counting, 1);
		goto out;
	}
	event_init();
	if (!clk_choose(hb_cfg.clock) && hb_cfg.clock == HB_CLOCK_TSC)
		hb_warn("heldby: HELDBY_CLOCK=tsc: no usable TSC here; using "
			"CLOCK_MONOTONIC\n");
	/* libunwind makes its validation pipe here, on the lowest free
	 * numbers: the program's, but for fds_fill_low. */
	if (fds_fill_low() != 0)
		bt_without_libunwind();
	bt_init();
	fds_unfill();
	mod_init();
	/* Registered first, so it runs last of the atexit handlers; and for
	 * quick_exit, which runs only its own list. */
	atexit(hb_finish);
	at_quick_exit(hb_finish);
	/* While recording, the writer counts the events of the trace; the
	 * hooks count when the trace cannot be written. */
	if (writer_start() == 0) {
		atomic_store(&hb_state, HB_ON);
		sig_init(); /* the crash handler (signals.h) */
	} else {
		atomic_store(&hb_state, HB_STOPPED);
		atomic_store(&hb_counting, 1);
	}
out:
	if (owned)
		guard_leave();
}

/* _exit skips atexit: finish the trace here (exit itself reaches _exit
 * inside libc, after our atexit handler already did). */
HB_EXPORT void
_exit(int status)
{
	hb_finish();
	if (real._exit)
		real._exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

HB_EXPORT void
_Exit(int status)
{
	_exit(status);
}

__attribute__((constructor)) static void
hb_ctor(void)
{
	hb_init();
}
