/* SPDX-License-Identifier: MIT */
/*
 * Programs that hung or lost their trace under the shim
 * (tests/integration/test_never_hang.py):
 *   never_hang pthread-exit   main leaves with pthread_exit while a worker
 *                             allocates 100 blocks of 1000 B and keeps them
 *   never_hang _Fork N        a child made by _Fork (no atfork handlers)
 *                             makes N allocations, then exits
 *   never_hang clone N        the same with a raw clone system call
 *   never_hang quick-exit N   keeps N blocks of 1 KiB, then quick_exit(0)
 *   never_hang longjmp N      N allocations while a 100 us timer's handler
 *                             siglongjmps back into the loop, unless it
 *                             interrupted libc (glibc's malloc must not be
 *                             left half done: that crashes natively too)
 */
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <ucontext.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile kept[4096];

static _Atomic int main_left;

static void *
worker(void *arg)
{
	(void)arg;
	while (!main_left) /* prints after main, as natively every time */
		usleep(1000);
	usleep(20000);
	for (int i = 0; i < 100; i++)
		kept[i] = malloc(1000);
	printf("worker kept 100 blocks\n");
	return NULL;
}

static int
leave_with_pthread_exit(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	printf("main leaves\n");
	fflush(stdout);
	main_left = 1;
	pthread_exit(NULL);
}

/* What the child does: allocations enough to fill any ring, then out. */
static void
churn(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(32 + (size_t)(i & 255));
		free(kept[i & 4095]);
		kept[i & 4095] = p;
	}
}

static int
child_without_handlers(int raw, long n)
{
	pid_t pid =
		raw ? (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) : _Fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		churn(n);
		_exit(7);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

static int
leave_with_quick_exit(long n)
{
	for (long i = 0; i < n && i < 4096; i++)
		kept[i] = malloc(1024);
	printf("kept %ld blocks\n", n);
	fflush(stdout);
	quick_exit(0);
}

static sigjmp_buf back;
static volatile long done, jumps;
static uintptr_t libc_lo, libc_hi; /* libc's code */

static int
find_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!strstr(info->dlpi_name, "libc.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (!libc_lo || lo < libc_lo)
			libc_lo = lo;
		if (lo + ph->p_memsz > libc_hi)
			libc_hi = lo + ph->p_memsz;
	}
	return 1;
}

static void
on_alarm(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	uintptr_t pc =
		(uintptr_t)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP];
	if (pc >= libc_lo && pc < libc_hi)
		return;
	jumps++;
	siglongjmp(back, 1);
}

static int
jump_out_of_handlers(long n)
{
	dl_iterate_phdr(find_libc, NULL);
	struct sigaction sa = { .sa_sigaction = on_alarm,
				.sa_flags = SA_SIGINFO };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	sigsetjmp(back, 1);
	if (done == 0)
		setitimer(ITIMER_REAL, &it, NULL);
	while (done < n) {
		void *p = malloc(48);
		free(kept[done & 4095]);
		kept[done & 4095] = p;
		done++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("loops %ld jumps %ld\n", done, jumps);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 100000;
	if (!strcmp(how, "pthread-exit"))
		return leave_with_pthread_exit();
	if (!strcmp(how, "_Fork"))
		return child_without_handlers(0, n);
	if (!strcmp(how, "clone"))
		return child_without_handlers(1, n);
	if (!strcmp(how, "quick-exit"))
		return leave_with_quick_exit(n);
	if (!strcmp(how, "longjmp"))
		return jump_out_of_handlers(n);
	fprintf(stderr, "usage: never_hang pthread-exit|_Fork N|clone N|"
			"quick-exit N|longjmp N\n");
	return 2;
}
