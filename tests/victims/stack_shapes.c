/* SPDX-License-Identifier: MIT */
/*
 * Stacks that a remembering unwinder could get wrong, each allocating a
 * known number of bytes from a known function (tests/integration/
 * test_unwind.py asks the report who holds what):
 *   - via_a and via_b call the same leaf with frames of the same size, so
 *     the leaf's frame sits at the same address, and only the return
 *     address one level up differs; they alternate on every allocation;
 *   - with_alloca keeps a frame pointer (a variable-length array) and
 *     recurses to different depths, so a frame's CFA comes from rbp;
 *   - on_heap_stack runs on a coroutine stack from makecontext, outside
 *     the thread's stack;
 *   - in_handler allocates in a SIGUSR1 handler on a sigaltstack.
 * Every block is kept to the end: bytes held at exit are by function.
 * With an argument, only deep stacks: deep_a and deep_b recurse into each
 * other and do their work at the bottom, which calls which flipping each
 * round, so that consecutive stacks differ in every frame and each event
 * carries a whole stack, the largest a thread's ring gets:
 *   - "deep": 2000 rounds 300 frames deep (HELDBY_DEPTH=256 keeps 256),
 *     each keeping 8 bytes (tests/integration/test_unwind.py);
 *   - "realloc": 20000 rounds 60 frames deep, each reallocating one of 64
 *     blocks. A realloc pushes two events; when the second found the ring
 *     full, the thread waited for it to empty, which the writer could not
 *     do before 2 s had passed (tests/integration/test_threads.py).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define ROUNDS 20000
#define NOINLINE __attribute__((noinline))

static void *kept[4 * ROUNDS + 64];
static int nkept;

static void
keep(void *p)
{
	if (!p)
		abort();
	memset(p, 1, 8);
	kept[nkept++] = p;
}

NOINLINE static void *
leaf(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

NOINLINE static void
via_a(size_t n)
{
	keep(leaf(n));
	__asm__ volatile("");
}

NOINLINE static void
via_b(size_t n)
{
	keep(leaf(n));
	__asm__ volatile("");
}

NOINLINE static void
with_alloca(int depth, size_t n)
{
	volatile char pad[16 + (depth & 7) * 24];
	pad[0] = (char)depth;
	if (depth > 0)
		with_alloca(depth - 1, n);
	else
		keep(malloc(n));
	__asm__ volatile("" ::"r"(pad) : "memory");
}

/* What deep_a and deep_b do at the bottom: the mode's (deep_modes). */
static void (*at_bottom)(int round);

static void
keep_small(int round)
{
	(void)round;
	keep(malloc(8));
}

static void *slot[64];

static void
realloc_slot(int round)
{
	void **p = &slot[round % 64];
	void *q = realloc(*p, 16 + (size_t)(round % 200));
	if (!q)
		abort();
	*p = q;
}

NOINLINE static void deep_a(int depth, int round);
NOINLINE static void deep_b(int depth, int round);

/* Inlined into both, so each has call sites of its own. */
static inline __attribute__((always_inline)) void
deep_step(int depth, int round)
{
	if (depth == 0)
		at_bottom(round);
	else if ((depth ^ round) & 1)
		deep_a(depth - 1, round);
	else
		deep_b(depth - 1, round);
}

NOINLINE static void
deep_a(int depth, int round)
{
	volatile char pad[8];
	pad[0] = (char)depth;
	deep_step(depth, round);
	__asm__ volatile("" ::"r"(pad) : "memory");
}

NOINLINE static void
deep_b(int depth, int round)
{
	volatile char pad[16];
	pad[0] = (char)depth;
	deep_step(depth, round);
	__asm__ volatile("" ::"r"(pad) : "memory");
}

static const struct deep_mode {
	const char *name;
	void (*bottom)(int round);
	int rounds, depth;
} deep_modes[] = {
	{ "deep", keep_small, 2000, 300 },
	{ "realloc", realloc_slot, 20000, 60 },
};

/* The rounds of the mode named (see the top); 2 for an unknown name. */
static int
deep_stacks(const char *name)
{
	const struct deep_mode *m = NULL;
	for (size_t i = 0; i < sizeof deep_modes / sizeof deep_modes[0]; i++)
		if (strcmp(name, deep_modes[i].name) == 0)
			m = &deep_modes[i];
	if (!m) {
		fprintf(stderr, "usage: stack_shapes [deep|realloc]\n");
		return 2;
	}
	at_bottom = m->bottom;
	for (int round = 0; round < m->rounds; round++)
		deep_a(m->depth, round);
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	printf("rounds %d, kept %d blocks\n", m->rounds, nkept);
	return 0;
}

static ucontext_t main_ctx, co_ctx;

NOINLINE static void
on_heap_stack(void)
{
	for (int i = 0; i < 8; i++)
		keep(malloc(3000));
}

static volatile sig_atomic_t handled;

NOINLINE static void
in_handler(int sig)
{
	(void)sig;
	if (handled < 8)
		keep(malloc(5000));
	handled++;
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		return deep_stacks(argv[1]);
	for (int i = 0; i < ROUNDS; i++) {
		via_a(100);
		via_b(200);
	}
	for (int i = 0; i < ROUNDS; i++)
		with_alloca(i % 13, 50);

	static char co_stack[256 << 10]; /* not the thread's stack */
	getcontext(&co_ctx);
	co_ctx.uc_stack.ss_sp = co_stack;
	co_ctx.uc_stack.ss_size = sizeof co_stack;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, on_heap_stack, 0);
	swapcontext(&main_ctx, &co_ctx);

	static char alt[64 << 10];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = in_handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < 8; i++)
		raise(SIGUSR1);
	printf("kept %d blocks\n", nkept);
	return 0;
}
