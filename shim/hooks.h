/* SPDX-License-Identifier: MIT */
/*
 * Every symbol the shim interposes, in one X-macro list, so that resolving the
 * real functions (real.c) and reviewing stay in step. heldby.map, written by
 * hand, exports these, HELDBY_WRAPPERS and heldby_*: the test `exports`
 * (tests/integration/test_exports.py) fails when it and this file disagree.
 * X(return type, name, parameter list, required): required ones must resolve
 * at start-up; optional ones (C++ runtime, dlclose) are looked up lazily.
 */
#ifndef HELDBY_HOOKS_H
#define HELDBY_HOOKS_H

#include <bits/types/stack_t.h>
#include <setjmp.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>

/* Not <signal.h>: its register names (REG_RSP) would clash with cfi.c's. */
struct sigaction;
typedef void (*hb_sighandler_fn)(int);

#define HELDBY_HOOKS_C(X)                                                      \
	X(void *, malloc, (size_t), 1)                                         \
	X(void, free, (void *), 1)                                             \
	X(void *, calloc, (size_t, size_t), 1)                                 \
	X(void *, realloc, (void *, size_t), 1)                                \
	X(void *, reallocarray, (void *, size_t, size_t), 0)                   \
	X(int, posix_memalign, (void **, size_t, size_t), 1)                   \
	X(void *, aligned_alloc, (size_t, size_t), 0)                          \
	X(void *, memalign, (size_t, size_t), 0)                               \
	X(void *, valloc, (size_t), 0)                                         \
	X(void *, pvalloc, (size_t), 0)                                        \
	X(size_t, malloc_usable_size, (void *), 1)                             \
	X(int, dlclose, (void *), 1)                                           \
	X(int, execve, (const char *, char *const[], char *const[]), 1)        \
	X(int, execv, (const char *, char *const[]), 1)                        \
	X(int, execvp, (const char *, char *const[]), 1)                       \
	X(int, execvpe, (const char *, char *const[], char *const[]), 0)       \
	X(int, posix_spawn,                                                    \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]),           \
	  0)                                                                   \
	X(int, posix_spawnp,                                                   \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,          \
	   const posix_spawnattr_t *, char *const[], char *const[]),           \
	  0)                                                                   \
	X(pid_t, fork, (void), 0)                                              \
	X(int, system, (const char *), 0)                                      \
	X(void, siglongjmp, (sigjmp_buf, int), 0)                              \
	X(void, longjmp, (jmp_buf, int), 0)                                    \
	X(void, _longjmp, (jmp_buf, int), 0)                                   \
	X(void, __longjmp_chk, (jmp_buf, int), 0)                              \
	X(FILE *, popen, (const char *, const char *), 0)                      \
	X(int, close, (int), 0)                                                \
	X(int, close_range, (unsigned, unsigned, int), 0)                      \
	X(int, dup2, (int, int), 0)                                            \
	X(int, dup3, (int, int, int), 0)                                       \
	X(int, sigaction, (int, const struct sigaction *, struct sigaction *), \
	  0)                                                                   \
	X(hb_sighandler_fn, signal, (int, hb_sighandler_fn), 0)                \
	X(hb_sighandler_fn, sysv_signal, (int, hb_sighandler_fn), 0)           \
	X(int, sigaltstack, (const stack_t *, stack_t *), 0)                   \
	X(void, abort, (void), 0)                                              \
	X(void, _exit, (int), 1)                                               \
	X(void, _Exit, (int), 0)

/* The C++ runtime's allocation functions, by mangled name (x86_64/aarch64:
 * size_t is unsigned long, 'm'). align_val_t and nothrow_t are passed as a
 * size_t and a pointer respectively. */
#define HELDBY_HOOKS_CXX(X)                                                    \
	X(void *, _Znwm, (size_t), 0)                                          \
	X(void *, _Znam, (size_t), 0)                                          \
	X(void *, _ZnwmRKSt9nothrow_t, (size_t, const void *), 0)              \
	X(void *, _ZnamRKSt9nothrow_t, (size_t, const void *), 0)              \
	X(void *, _ZnwmSt11align_val_t, (size_t, size_t), 0)                   \
	X(void *, _ZnamSt11align_val_t, (size_t, size_t), 0)                   \
	X(void *, _ZnwmSt11align_val_tRKSt9nothrow_t,                          \
	  (size_t, size_t, const void *), 0)                                   \
	X(void *, _ZnamSt11align_val_tRKSt9nothrow_t,                          \
	  (size_t, size_t, const void *), 0)                                   \
	X(void, _ZdlPv, (void *), 0)                                           \
	X(void, _ZdaPv, (void *), 0)                                           \
	X(void, _ZdlPvm, (void *, size_t), 0)                                  \
	X(void, _ZdaPvm, (void *, size_t), 0)                                  \
	X(void, _ZdlPvSt11align_val_t, (void *, size_t), 0)                    \
	X(void, _ZdaPvSt11align_val_t, (void *, size_t), 0)                    \
	X(void, _ZdlPvmSt11align_val_t, (void *, size_t, size_t), 0)           \
	X(void, _ZdaPvmSt11align_val_t, (void *, size_t, size_t), 0)           \
	X(void, _ZdlPvRKSt9nothrow_t, (void *, const void *), 0)               \
	X(void, _ZdaPvRKSt9nothrow_t, (void *, const void *), 0)               \
	X(void, _ZdlPvSt11align_val_tRKSt9nothrow_t,                           \
	  (void *, size_t, const void *), 0)                                   \
	X(void, _ZdaPvSt11align_val_tRKSt9nothrow_t,                           \
	  (void *, size_t, const void *), 0)

#define HELDBY_HOOKS(X) HELDBY_HOOKS_C(X) HELDBY_HOOKS_CXX(X)

/* Exported as well, with no real function of their own to resolve: each
 * is written with another hook or the shim's own code (free_sized: free;
 * closefrom: close_range; execl, execlp, execle: execv, execvp, execve; the
 * other names of sigaction and signal). Only the test reads this list. */
#define HELDBY_WRAPPERS(X)                                                     \
	X(free_sized)                                                          \
	X(free_aligned_sized)                                                  \
	X(closefrom)                                                           \
	X(execl)                                                               \
	X(execlp)                                                              \
	X(execle)                                                              \
	X(__sigaction)                                                         \
	X(bsd_signal)                                                          \
	X(ssignal)                                                             \
	X(__sysv_signal)                                                       \
	X(sigset)

#endif
