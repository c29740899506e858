/* SPDX-License-Identifier: MIT */
/*
 * A signal handler that interrupted the shim (its reentrancy guard held)
 * and leaves with siglongjmp never returns into the shim: the guard would
 * stay taken, and every later allocation of the thread pass by unrecorded.
 * The jump wrappers give the guard back when the jump lands above the frame
 * that took it, and count the interrupted event as dropped, so the trace
 * never claims to have missed nothing. A jump that stays below that frame
 * (within the handler) keeps the guard.
 */
#include <setjmp.h>
#include <stdint.h>

#include "attrs.h"
#include "event.h"
#include "guard.h"
#include "real.h"

/* The stack pointer a jump lands at: glibc keeps it mangled in the jump
 * buffer (x86_64: slot 6, xor the pointer guard at %fs:0x30, rotated left
 * by 17). 0 where it cannot be read. */
static uintptr_t
landing_sp(const struct __jmp_buf_tag *env)
{
#if defined(__x86_64__) && defined(__GLIBC__)
	uintptr_t v = (uintptr_t)env->__jmpbuf[6], guard;
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	v = (v >> 17) | (v << (64 - 17));
	return v ^ guard;
#else
	(void)env;
	return 0;
#endif
}

/* The guard of a frame the jump abandons is given back. The writer's own
 * guard (taken for good, no frame) is never touched: it never jumps. */
static void
before_jump(const struct __jmp_buf_tag *env)
{
	if (!hb_guard || !hb_guard_sp)
		return;
	uintptr_t sp = landing_sp(env);
	if (sp && sp > hb_guard_sp) {
		event_missed();
		guard_leave();
		hb_guard_sp = 0;
	}
}

/* Each jump function of glibc's, given the guard back first. */
#define JUMP_WRAPPER(name, buf)                                                \
	HB_EXPORT void name(buf env, int val)                                  \
	{                                                                      \
		before_jump(env);                                              \
		if (unlikely(!real.name))                                      \
			real_init();                                           \
		real.name(env, val);                                           \
		__builtin_unreachable();                                       \
	}

JUMP_WRAPPER(siglongjmp, sigjmp_buf)
JUMP_WRAPPER(longjmp, jmp_buf)
JUMP_WRAPPER(_longjmp, jmp_buf)
/* What _FORTIFY_SOURCE turns longjmp into. */
JUMP_WRAPPER(__longjmp_chk, jmp_buf)
