/* SPDX-License-Identifier: MIT */
/*
 * A crash skips atexit: the crash handler writes out what was recorded, then
 * lets the signal do what it would have done. It runs on a stack of its own,
 * since an overflow leaves none, and stays out of the program's sight, since
 * runtimes (Rust) set up their own guard only over SIG_DFL: sigaction & co.
 * answer what the program itself set. abort flushes on its way in.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attrs.h"
#include "guard.h"
#include "lifecycle.h"
#include "real.h"
#include "signals.h"
#include "writer.h"

/* An alias gets its target's attributes (glibc's nothrow and leaf), which
 * gcc wants said. */
#define HB_ALIAS(f) __attribute__((alias(#f))) HB_COPY(f)
#if defined(__has_attribute)
#if __has_attribute(__copy__)
#define HB_COPY(f) __attribute__((__copy__(f)))
#endif
#endif
#ifndef HB_COPY
#define HB_COPY(f)
#endif

/* Only the crash signals: the other deaths by signal are covered by the
 * periodic flush (docs/lifecycle.md, "Dying"). */
static const int crash_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
#define NCRASH ((int)(sizeof(crash_sigs) / sizeof(crash_sigs[0])))

/* What the program would see for each crash signal while the kernel holds
 * our handler: the default action as the program (or exec) left it, flags,
 * mask and restorer included. Written under sig_lock in the traced process
 * only. */
static struct sigaction shown[NCRASH];
static struct sigaction crash_act;
/* sig_init ran: recording, and the crash handler is wanted. */
static _Atomic int sig_armed;
static size_t page_size;

static int
crash_index(int sig)
{
	for (int i = 0; i < NCRASH; i++)
		if (crash_sigs[i] == sig)
			return i;
	return -1;
}

/* ---- the kernel's actions ---- */

/* The kernel's struct sigaction on x86-64 and aarch64: one word of mask. */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

#if defined(__x86_64__)
/* glibc's __restore_rt, byte for byte (mov $15,%rax; syscall): libgcc,
 * libunwind and gdb recognise a signal frame by these bytes at its return
 * address. No CFI of its own, and a nop before it, so that the address
 * before it lies in no function's unwind table either. */
#define KSA_RESTORER 0x04000000UL
void sig_restore_rt(void) HB_HIDDEN;
__asm__(".text\n"
	".p2align 4\n"
	"\tnop\n"
	".globl sig_restore_rt\n"
	".hidden sig_restore_rt\n"
	".type sig_restore_rt, @function\n"
	"sig_restore_rt:\n"
	"\t.byte 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00\n"
	"\t.byte 0x0f, 0x05\n"
	".size sig_restore_rt, . - sig_restore_rt\n");
#endif

/* sigaction as the system call, for before real_init found libc's: the
 * loader, libc and early constructors may set actions before the first
 * allocation. */
static int
sys_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	/* libc keeps SIGCANCEL and SIGSETXID for itself */
	if (sig == __SIGRTMIN || sig == __SIGRTMIN + 1) {
		errno = EINVAL;
		return -1;
	}
	struct ksigaction k, ko;
	memset(&k, 0, sizeof(k));
	if (act) {
		k.handler = act->sa_handler;
		k.flags = (unsigned long)(unsigned)act->sa_flags;
#ifdef KSA_RESTORER
		k.flags |= KSA_RESTORER;
		k.restorer = sig_restore_rt;
#endif
		memcpy(&k.mask, &act->sa_mask, sizeof(k.mask));
	}
	if (syscall(SYS_rt_sigaction, sig, act ? &k : NULL, old ? &ko : NULL,
		    sizeof(k.mask)) != 0)
		return -1;
	if (old) {
		memset(old, 0, sizeof(*old));
		old->sa_handler = ko.handler;
		old->sa_flags = (int)ko.flags;
		old->sa_restorer = ko.restorer;
		memcpy(&old->sa_mask, &ko.mask, sizeof(ko.mask));
	}
	return 0;
}

/* libc's sigaction once resolved (its restorer and checks, as without
 * us), else the system call. Async-signal-safe. */
static int
k_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int (*f)(int, const struct sigaction *, struct sigaction *) =
		__atomic_load_n(&real.sigaction, __ATOMIC_ACQUIRE);
	return f ? f(sig, act, old) : sys_sigaction(sig, act, old);
}

/*
 * Changing a crash signal's action and what shown[] says of it is one step
 * for other threads and for the crash handler: every signal blocked (so the
 * handler cannot interrupt its own thread holding it), then a lock held for
 * two or three system calls. The holder's pid: a fork child inherits a lock
 * some other thread of its parent held, and takes it over.
 */
static _Atomic int sig_owner;

static void
sig_lock(uint64_t *old_mask)
{
	uint64_t all = ~(uint64_t)0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, old_mask, sizeof(all));
	int me = (int)getpid();
	for (;;) {
		int cur = 0;
		if (atomic_compare_exchange_strong(&sig_owner, &cur, me))
			return;
		if (cur != me &&
		    atomic_compare_exchange_strong(&sig_owner, &cur, me))
			return;
		sched_yield();
	}
}

static void
sig_unlock(const uint64_t *old_mask)
{
	atomic_store(&sig_owner, 0);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old_mask, NULL,
		sizeof(*old_mask));
}

static void sig_fatal(int sig, siginfo_t *si, void *uc);

static bool
is_ours(const struct sigaction *a)
{
	return a->sa_sigaction == sig_fatal;
}

/* Where the program left the default action, the kernel gets our handler,
 * which ends in that default action after the flush; shown[] keeps what the
 * program set. Only while recording, and in the traced process: a vfork
 * child shares shown[] with its parent but not its actions. Lock held. */
static void
rearm(int i)
{
	if (!atomic_load(&sig_armed) || !hb_on() || !hb_in_owner())
		return;
	struct sigaction cur;
	if (k_sigaction(crash_sigs[i], NULL, &cur) != 0 ||
	    cur.sa_handler != SIG_DFL)
		return;
	shown[i] = cur;
	k_sigaction(crash_sigs[i], &crash_act, NULL);
}

/* ---- the crash handler ---- */

/* Writes out what was recorded: bounded, async-signal-safe. Not from
 * inside a hook or the writer (guard set), not in a vfork child. */
static void
crash_flush(void)
{
	if (hb_on() && hb_in_owner() && guard_enter()) {
		writer_sync_for(1000000000u);
		guard_leave();
	}
}

/* Gives crash signal i back the action the program sees, where the kernel
 * holds ours. */
static void
crash_disarm(int i)
{
	uint64_t mask;
	sig_lock(&mask);
	struct sigaction cur;
	if (k_sigaction(crash_sigs[i], NULL, &cur) == 0 && is_ours(&cur))
		k_sigaction(crash_sigs[i], &shown[i], NULL);
	sig_unlock(&mask);
}

static void
sig_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved = errno;
	crash_flush();
	int i = crash_index(sig);
	if (i >= 0)
		crash_disarm(i);
	/* A fault returns to the faulting instruction and happens again under
	 * the default action; a sent signal is sent again, delivered once we
	 * return. */
	if (si->si_code <= 0)
		raise(sig);
	errno = saved;
}

/*
 * A program's own crash handler often ends in abort(): Rust's stack
 * overflow handler does, on the 8 KiB alternate stack Rust gives each
 * thread, where a second signal frame for our SIGABRT handler does not fit
 * (3.4 KiB with AVX-512 state): the program died of SIGSEGV instead. So
 * abort flushes on the way in, on the caller's stack and without a signal
 * frame, and its signal then finds the default action the program left.
 * abort's callers inside libc (assert, malloc's checks) still reach
 * SIGABRT's handler.
 */
HB_EXPORT void
abort(void)
{
	crash_flush();
	crash_disarm(crash_index(SIGABRT));
	void (*f)(void) = __atomic_load_n(&real.abort, __ATOMIC_ACQUIRE);
	if (f)
		f();
	/* before real_init: what libc's does, in short */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGABRT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGABRT);
	syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}

void
sig_init(void)
{
	page_size = getauxval(AT_PAGESZ);
	if (!page_size)
		page_size = 4096;
	memset(&crash_act, 0, sizeof(crash_act));
	crash_act.sa_sigaction = sig_fatal;
	crash_act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&crash_act.sa_mask);
	atomic_store(&sig_armed, 1);
	sig_thread_start();
	uint64_t mask;
	sig_lock(&mask);
	for (int i = 0; i < NCRASH; i++)
		rearm(i);
	sig_unlock(&mask);
}

/* ---- the alternate stacks ---- */

/* 64 KiB: the handler needs a few (a signal frame with AVX-512 state is
 * 3.4 KiB), and a program's handler may run on it too; untouched pages
 * cost nothing. Below it a guard page. */
#define ALT_SIZE (64u << 10)
/* This thread's stack of ours, guard page first; NULL: none. */
static HB_TLS char *alt_map;

static char *
alt_sp(void)
{
	return alt_map + page_size;
}

/* Stacks of threads that ended, kept for the next ones: a thread that
 * lives for a few allocations paid an mmap, an mprotect and an munmap
 * (a TLB shootdown on every CPU) for a stack it never used (bench:
 * threads-800). One atomic per slot: no lock, since a thread's first
 * event, and so this, may come in a signal handler. */
#define ALT_POOL 32
static char *_Atomic alt_pool[ALT_POOL];

static char *
alt_pool_take(void)
{
	for (int i = 0; i < ALT_POOL; i++) {
		if (!atomic_load_explicit(&alt_pool[i], memory_order_relaxed))
			continue;
		char *m = atomic_exchange(&alt_pool[i], NULL);
		if (m)
			return m;
	}
	return NULL;
}

static bool
alt_pool_give(char *m)
{
	for (int i = 0; i < ALT_POOL; i++) {
		char *none = NULL;
		if (!atomic_load_explicit(&alt_pool[i], memory_order_relaxed) &&
		    atomic_compare_exchange_strong(&alt_pool[i], &none, m))
			return true;
	}
	return false;
}

/* A fresh stack: a guard page, then ALT_SIZE bytes. */
static char *
alt_map_new(void)
{
	size_t len = page_size + ALT_SIZE;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* an overflow of this stack faults instead of writing below it */
	mprotect(m, page_size, PROT_NONE);
	return m;
}

void
sig_thread_start(void)
{
	/* acquire: page_size was set before */
	if (alt_map || !atomic_load_explicit(&sig_armed, memory_order_acquire))
		return;
	int saved = errno;
	stack_t cur;
	/* the program's stack stays */
	if (syscall(SYS_sigaltstack, NULL, &cur) != 0 ||
	    !(cur.ss_flags & SS_DISABLE))
		goto out;
	char *m = alt_pool_take();
	if (!m)
		m = alt_map_new();
	if (!m)
		goto out;
	stack_t ss = { .ss_sp = m + page_size,
		       .ss_flags = 0,
		       .ss_size = ALT_SIZE };
	if (syscall(SYS_sigaltstack, &ss, NULL) != 0) {
		if (!alt_pool_give(m))
			munmap(m, page_size + ALT_SIZE);
		goto out;
	}
	alt_map = m;
out:
	errno = saved;
}

void
sig_thread_exit(void)
{
	if (!alt_map)
		return;
	int saved = errno;
	stack_t cur;
	if (syscall(SYS_sigaltstack, NULL, &cur) != 0)
		goto out;
	if ((char *)cur.ss_sp == alt_sp()) {
		if (cur.ss_flags & SS_ONSTACK)
			goto out; /* a handler runs on it: keep it */
		stack_t off = { .ss_flags = SS_DISABLE };
		if (syscall(SYS_sigaltstack, &off, NULL) != 0)
			goto out;
	}
	/* else the program put its own in place of ours */
	if (!alt_pool_give(alt_map))
		munmap(alt_map, page_size + ALT_SIZE);
	alt_map = NULL;
out:
	errno = saved;
}

/* ---- what the program calls ---- */

static int
action_set(int sig, const struct sigaction *act, struct sigaction *old)
{
	int i = crash_index(sig);
	if (i < 0)
		return k_sigaction(sig, act, old);
	/* Read outside the lock: a bad pointer faults where the program's
	 * handler can take it, as in libc's sigaction. */
	struct sigaction a, prev;
	if (act)
		a = *act;
	uint64_t mask;
	sig_lock(&mask);
	int r = k_sigaction(sig, act ? &a : NULL, &prev);
	int err = errno;
	if (r == 0) {
		if (is_ours(&prev))
			prev = shown[i];
		if (act)
			rearm(i);
	}
	sig_unlock(&mask);
	if (r == 0 && old)
		*old = prev;
	errno = err;
	return r;
}

HB_EXPORT int
sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return action_set(sig, act, old);
}

HB_EXPORT int __sigaction(int sig, const struct sigaction *act,
			  struct sigaction *old) HB_ALIAS(sigaction);

/* signal and sysv_signal before real_init: what libc's do. */
static sighandler_t
handler_emulate(int sig, sighandler_t h, int flags, bool mask_self)
{
	if (h == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction a, o;
	memset(&a, 0, sizeof(a));
	a.sa_handler = h;
	sigemptyset(&a.sa_mask);
	if (mask_self)
		sigaddset(&a.sa_mask, sig);
	a.sa_flags = flags;
	if (action_set(sig, &a, &o) != 0)
		return SIG_ERR;
	return o.sa_handler;
}

/* libc's signal and sysv_signal set the action inside libc, past our
 * sigaction: call them (their flags, siginterrupt's state) under the lock
 * and take our handler out of what they return. */
static sighandler_t
handler_set(sighandler_t (*fn)(int, sighandler_t), int sig, sighandler_t h)
{
	int i = crash_index(sig);
	if (i < 0)
		return fn(sig, h);
	uint64_t mask;
	sig_lock(&mask);
	sighandler_t prev = fn(sig, h);
	int err = errno;
	if (prev != SIG_ERR) {
		if ((uintptr_t)prev == (uintptr_t)sig_fatal)
			prev = shown[i].sa_handler;
		rearm(i);
	}
	sig_unlock(&mask);
	errno = err;
	return prev;
}

HB_EXPORT sighandler_t
signal(int sig, sighandler_t h)
{
	sighandler_t (*f)(int, sighandler_t) =
		__atomic_load_n(&real.signal, __ATOMIC_ACQUIRE);
	if (!f)
		return handler_emulate(sig, h, SA_RESTART, true);
	return handler_set(f, sig, h);
}

HB_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) HB_ALIAS(signal);
HB_EXPORT sighandler_t ssignal(int sig, sighandler_t h) HB_ALIAS(signal);

HB_EXPORT sighandler_t
sysv_signal(int sig, sighandler_t h)
{
	sighandler_t (*f)(int, sighandler_t) =
		__atomic_load_n(&real.sysv_signal, __ATOMIC_ACQUIRE);
	if (!f)
		return handler_emulate(sig, h,
				       SA_RESETHAND | SA_NODEFER | SA_INTERRUPT,
				       false);
	return handler_set(f, sig, h);
}

HB_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
	HB_ALIAS(sysv_signal);

/* libc's sigset also changes the signal mask, which the lock's blocking
 * would undo: it is redone here (glibc 2.36 signal/sigset.c) on our
 * sigaction. */
HB_EXPORT sighandler_t
sigset(int sig, sighandler_t disp)
{
	if (disp == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigset_t set, oset;
	struct sigaction act, oact;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (disp == SIG_HOLD) {
		if (sigprocmask(SIG_BLOCK, &set, &oset) < 0)
			return SIG_ERR;
		if (sigismember(&oset, sig))
			return SIG_HOLD;
		if (action_set(sig, NULL, &oact) < 0)
			return SIG_ERR;
		return oact.sa_handler;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = disp;
	sigemptyset(&act.sa_mask);
	act.sa_flags = 0;
	if (action_set(sig, &act, &oact) < 0)
		return SIG_ERR;
	if (sigprocmask(SIG_UNBLOCK, &set, &oset) < 0)
		return SIG_ERR;
	return sigismember(&oset, sig) ? SIG_HOLD : oact.sa_handler;
}

/* A thread the shim gave a stack has none in the program's eyes: a runtime
 * that sets up its own only where there is none (Rust, Go) still does, and
 * the program's then replaces ours. */
HB_EXPORT int
sigaltstack(const stack_t *ss, stack_t *old)
{
	if (syscall(SYS_sigaltstack, ss, old) != 0)
		return -1;
	if (old && alt_map && (char *)old->ss_sp == alt_sp()) {
		old->ss_sp = NULL;
		old->ss_size = 0;
		old->ss_flags = SS_DISABLE;
	}
	return 0;
}
