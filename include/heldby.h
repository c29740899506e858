/* SPDX-License-Identifier: MIT */
/*
 * heldby.h - the public C API of heldby: how many bytes the program holds
 * now, the peak of that, live blocks, and named marks in the trace. Made
 * for tests that assert the memory a function needs, and for services that
 * report their own heap.
 *
 * The numbers are requested bytes (what malloc, new, realloc... were asked
 * for), counted by libheldby as the program allocates, exactly as
 * `heldby report` replays a trace: `heldby_peak_bytes()` is what the report
 * calls the peak, `heldby_current_bytes()` what it would call the bytes
 * held at that moment. They are exact across threads.
 *
 * Two ways in, from the same source:
 *
 *  - Linked: build with `pkg-config --cflags --libs heldby` or meson's
 *    `dependency('heldby')`. These define HELDBY_LINKED, and the functions
 *    below are plain calls into libheldby. The shim then counts from the
 *    start (HELDBY_MODE defaults to `count` for a program that links it:
 *    no trace file unless asked for).
 *
 *  - Looked up: without HELDBY_LINKED each function is a small inline
 *    wrapper that finds libheldby's function at run time
 *    (dlsym(RTLD_DEFAULT), glibc >= 2.34 or -ldl). Such a program builds
 *    and runs without heldby: heldby_active() returns 0, the counters 0,
 *    heldby_mark() does nothing. Run it under `heldby run`, or with
 *    LD_PRELOAD=libheldby.so (HELDBY_MODE=count for counters only), and
 *    they are live. Linking libheldby without HELDBY_LINKED works too.
 *
 * A test that asserts memory skips its assertions when !heldby_active().
 *
 * Safety, for every function here: thread-safe. The counter functions are
 * async-signal-safe (atomics, and in record mode a bounded wait on a futex)
 * once resolved: in the looked-up form the first call of each function
 * runs dlsym, which is not, so call heldby_active() and the ones you need
 * once at start-up before using them in a signal handler. heldby_mark() is
 * not async-signal-safe.
 *
 * Cost: in count mode a counter call is a few loads. In record mode the
 * counters are kept by heldby's writer thread in the trace's order, and a
 * call first waits for it to count every allocation made before the call
 * (usually tens of microseconds, at most a second); a call from a signal
 * handler that interrupted an allocation does not wait and may miss that
 * one allocation.
 */
#ifndef HELDBY_H
#define HELDBY_H

#include <stddef.h>

#define HELDBY_VERSION_MAJOR 0
#define HELDBY_VERSION_MINOR 1
#define HELDBY_VERSION_PATCH 0
/* major * 10000 + minor * 100 + patch, as heldby_version() returns it */
#define HELDBY_VERSION_NUMBER                                                  \
	(HELDBY_VERSION_MAJOR * 10000 + HELDBY_VERSION_MINOR * 100 +           \
	 HELDBY_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

#ifdef HELDBY_LINKED

/* 1 when libheldby keeps the counters in this process (HELDBY_MODE record
 * or count), 0 when they are off (HELDBY_MODE=off, or heldby is absent in
 * the looked-up form). Thread-safe, async-signal-safe. */
int heldby_active(void);

/* The version of the libheldby in the process (HELDBY_VERSION_NUMBER of
 * the build it came from), 0 when absent. Compare with the macros to
 * catch a header that does not match the library. Thread-safe,
 * async-signal-safe. */
unsigned heldby_version(void);

/* Bytes held now: requested by every allocation and not yet freed.
 * Thread-safe, async-signal-safe; exact once the threads that allocate
 * have synchronised with the caller (joined, a barrier, a lock). */
size_t heldby_current_bytes(void);

/* The most bytes held at once since start-up or the last
 * heldby_reset_peak(), across all threads. Thread-safe,
 * async-signal-safe. */
size_t heldby_peak_bytes(void);

/* Blocks allocated and not yet freed. Thread-safe, async-signal-safe. */
size_t heldby_live_blocks(void);

/* Peak := current. The usual test: reset, note current, call the code,
 * then heldby_peak_bytes() - that note is what the code needed at most.
 * Thread-safe (an allocation racing with it may or may not count towards
 * the new peak), async-signal-safe. */
void heldby_reset_peak(void);

/* A named moment in the trace (HELDBY_MODE=record; nothing otherwise). The
 * label is copied, cut at 255 bytes; NULL is an empty label. Thread-safe;
 * not async-signal-safe (a mark from a handler that interrupted an
 * allocation is left out). */
void heldby_mark(const char *label);

#else /* looked up at run time: the same functions, the same meaning */

#include <dlfcn.h>
#include <stdlib.h>

/* A linker run with --as-needed (the default of Debian's and Ubuntu's gcc)
 * drops a library that satisfies none of the program's references, and the
 * calls below reference nothing. This one reference to malloc is satisfied
 * by libheldby when -lheldby is on the link line, which keeps it; without
 * it, by libc. */
__attribute__((used)) static void *(*const heldby_keep_linked_)(size_t) =
	malloc;

/* glibc declares RTLD_DEFAULT only under _GNU_SOURCE; its value is the
 * null handle there and in musl. */
#ifdef RTLD_DEFAULT
#define HELDBY_RTLD_DEFAULT_ RTLD_DEFAULT
#else
#define HELDBY_RTLD_DEFAULT_ ((void *)0)
#endif

/* Resolves name once per slot; NULL when heldby is not in the process
 * (remembered as the slot's own address). */
static inline void *
heldby_lookup_(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(HELDBY_RTLD_DEFAULT_, name);
		if (!f)
			f = (void *)slot;
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f == (void *)slot ? NULL : f;
}

#define HELDBY_CALL_(ret, name, params, args, absent)                          \
	static inline ret name params                                          \
	{                                                                      \
		static void *slot_;                                            \
		void *f_ = heldby_lookup_(&slot_, #name);                      \
		if (!f_)                                                       \
			return absent;                                         \
		return __extension__((ret(*) params)f_) args;                  \
	}

HELDBY_CALL_(int, heldby_active, (void), (), 0)
HELDBY_CALL_(unsigned, heldby_version, (void), (), 0)
HELDBY_CALL_(size_t, heldby_current_bytes, (void), (), 0)
HELDBY_CALL_(size_t, heldby_peak_bytes, (void), (), 0)
HELDBY_CALL_(size_t, heldby_live_blocks, (void), (), 0)

static inline void
heldby_reset_peak(void)
{
	static void *slot_;
	void *f_ = heldby_lookup_(&slot_, "heldby_reset_peak");
	if (f_)
		(__extension__(void (*)(void)) f_)();
}

static inline void
heldby_mark(const char *label)
{
	static void *slot_;
	void *f_ = heldby_lookup_(&slot_, "heldby_mark");
	if (f_)
		(__extension__(void (*)(const char *)) f_)(label);
}

#undef HELDBY_CALL_

#endif /* HELDBY_LINKED */

#ifdef __cplusplus
}
#endif

#endif
