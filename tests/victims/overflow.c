/* SPDX-License-Identifier: MIT */
/* Crashes and signal dispositions, for tests/integration/test_signals.py.
 * Each mode keeps 5 MiB from keep_before_overflow() first (except
 * dispositions), then: plain, thread (in a second thread), own-altstack
 * (with a stack and SIGSEGV handler of its own), thread-own-altstack: overflow
 * the stack; reset-then-crash: a handler set and reset to SIG_DFL, then a
 * fault; dispositions: prints what sigaction & co. say; threads N: N threads
 * that allocate, one after the other, then how many more guard pages are
 * mapped. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEPT (5u << 20)
#define ALT_SIZE (256u << 10)

void *volatile kept;
int *volatile nowhere;		     /* NULL, and the compiler cannot know it */
volatile unsigned depth_limit = ~0u; /* never reached */
static char *own_stack;
/* A thread's stack that needs no allocation: in place before the thread's
 * first event. */
static char thread_stack[ALT_SIZE];

__attribute__((noinline)) static void
keep_before_overflow(void)
{
	kept = malloc(KEPT);
	memset(kept, 1, 4096);
}

static void
say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

/* Each frame keeps 1 KiB live across the call: no tail call, no loop. */
__attribute__((noinline)) static unsigned
recurse(unsigned n)
{
	volatile char buf[1024];
	if (n == depth_limit)
		return 0;
	buf[n % sizeof(buf)] = (char)n;
	return recurse(n + 1) + buf[(n * 7) % sizeof(buf)];
}

static void
overflow(void)
{
	keep_before_overflow();
	say("kept, overflowing\n");
	recurse(0);
}

static int
install_own_stack(char *where)
{
	stack_t ss, old;
	own_stack = where;
	ss.ss_sp = own_stack;
	ss.ss_size = ALT_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, &old) != 0)
		return -1;
	printf("stack before ours: %s\n",
	       old.ss_flags & SS_DISABLE ? "none" : "some");
	fflush(stdout);
	return 0;
}

/* Says whether it runs on the program's stack, then leaves the fault to
 * the default action. */
static void
own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	char here;
	say(&here >= own_stack && &here < own_stack + ALT_SIZE
		    ? "own handler on own stack\n"
		    : "own handler elsewhere\n");
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
}

static void *
thread_main(void *arg)
{
	if (arg) {
		install_own_stack(thread_stack);
		keep_before_overflow();
		stack_t cur;
		sigaltstack(NULL, &cur);
		printf("stack kept: %s\n",
		       (char *)cur.ss_sp == own_stack ? "yes" : "no");
		fflush(stdout);
		say("kept, overflowing\n");
		recurse(0);
	}
	overflow();
	return NULL;
}

/* exported by glibc, declared only for older X/Open */
extern sighandler_t bsd_signal(int sig, sighandler_t handler);

static const char *
kind(void (*h)(int))
{
	return h == SIG_DFL ? "default" : h == SIG_IGN ? "ignore" : "handler";
}

static void
show(const char *name, int sig)
{
	struct sigaction a;
	unsigned long mask;
	sigaction(sig, NULL, &a);
	memcpy(&mask, &a.sa_mask, sizeof(mask));
	printf("%s: %s flags %#x mask %#lx restorer %s\n", name,
	       kind(a.sa_handler), (unsigned)a.sa_flags, mask,
	       a.sa_restorer ? "set" : "none");
}

static void
handler(int sig)
{
	(void)sig;
}

static void
dispositions(void)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "SIGSEGV", SIGSEGV },
		     { "SIGBUS", SIGBUS },
		     { "SIGILL", SIGILL },
		     { "SIGFPE", SIGFPE },
		     { "SIGABRT", SIGABRT } };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		show(sigs[i].name, sigs[i].sig);
	stack_t st;
	sigaltstack(NULL, &st);
	printf("altstack: %s size %zu\n",
	       st.ss_flags & SS_DISABLE ? "disabled" : "enabled", st.ss_size);
	/* the old action each way of setting one returns */
	printf("signal SIGSEGV was %s\n", kind(signal(SIGSEGV, handler)));
	printf("sysv_signal SIGBUS was %s\n",
	       kind(sysv_signal(SIGBUS, handler)));
	printf("bsd_signal SIGFPE was %s\n", kind(bsd_signal(SIGFPE, handler)));
	printf("ssignal SIGFPE back, was %s\n", kind(ssignal(SIGFPE, SIG_DFL)));
/* sigset is obsolete, and still sets actions past sigaction */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	printf("sigset SIGILL was %s\n", kind(sigset(SIGILL, handler)));
	struct sigaction a, old;
	memset(&a, 0, sizeof(a));
	a.sa_handler = handler;
	a.sa_flags = SA_RESETHAND;
	sigaction(SIGABRT, &a, &old);
	printf("sigaction SIGABRT was %s flags %#x\n", kind(old.sa_handler),
	       (unsigned)old.sa_flags);
	show("SIGSEGV set", SIGSEGV);
	show("SIGABRT set", SIGABRT);
	/* back to the default, each its own way */
	printf("signal SIGSEGV back, was %s\n", kind(signal(SIGSEGV, SIG_DFL)));
	printf("sysv_signal SIGBUS back, was %s\n",
	       kind(sysv_signal(SIGBUS, SIG_DFL)));
	printf("sigset SIGILL back, was %s\n", kind(sigset(SIGILL, SIG_DFL)));
#pragma GCC diagnostic pop
	a.sa_handler = SIG_DFL;
	a.sa_flags = SA_NODEFER;
	sigaddset(&a.sa_mask, SIGUSR1);
	sigaction(SIGABRT, &a, NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		show(sigs[i].name, sigs[i].sig);
}

static void *
short_thread(void *arg)
{
	(void)arg;
	void *volatile p = malloc(100); /* a pair the compiler cannot drop */
	free(p);
	return NULL;
}

/* Mappings no access is allowed to: guard pages. */
static int
guard_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char perms[8];
		if (sscanf(line, "%*s %7s", perms) == 1 &&
		    !strcmp(perms, "---p"))
			n++;
	}
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "plain";
	if (!strcmp(how, "plain"))
		overflow();
	if (!strcmp(how, "thread") || !strcmp(how, "thread-own-altstack")) {
		pthread_t t;
		pthread_create(&t, NULL, thread_main,
			       strcmp(how, "thread") ? (void *)1 : NULL);
		pthread_join(t, NULL);
	}
	if (!strcmp(how, "own-altstack")) {
		install_own_stack(malloc(ALT_SIZE)); /* after the shim's */
		struct sigaction a;
		memset(&a, 0, sizeof(a));
		a.sa_sigaction = own_handler;
		a.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigaction(SIGSEGV, &a, NULL);
		overflow();
	}
	if (!strcmp(how, "reset-then-crash")) {
		signal(SIGSEGV, handler);
		signal(SIGSEGV, SIG_DFL);
		keep_before_overflow();
		say("kept, faulting\n");
		*nowhere = 1;
	}
	if (!strcmp(how, "dispositions"))
		dispositions();
	if (!strcmp(how, "threads")) {
		int n = argc > 2 ? atoi(argv[2]) : 100;
		int before = guard_mappings();
		for (int i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, short_thread, NULL) == 0)
				pthread_join(t, NULL);
		}
		printf("threads %d guard mappings grew by %d\n", n,
		       guard_mappings() - before);
	}
	return 0;
}
