/* SPDX-License-Identifier: MIT */
/*
 * The functions of include/heldby.h, exported from libheldby.so. Thin: the
 * counters live in count.c, marks travel through the rings like any event.
 * While recording, the writer thread keeps the counters, so a reader first
 * waits for it to count the events taken before the call.
 */
#define HELDBY_LINKED 1
#include "heldby.h"

#include "attrs.h"
#include "count.h"
#include "event.h"
#include "guard.h"
#include "lifecycle.h"
#include "writer.h"

_Static_assert(HELDBY_VERSION_NUMBER < 1000000, "version fits its encoding");

HB_EXPORT int
heldby_active(void)
{
	return hb_tracking();
}

/* Inside a hook (a signal handler that interrupted one) the caller's own
 * event may hold the writer back: read what is counted without waiting. */
static void
settle(void)
{
	if (hb_on() && guard_enter()) {
		writer_settle();
		guard_leave();
	}
}

HB_EXPORT unsigned
heldby_version(void)
{
	return HELDBY_VERSION_NUMBER;
}

HB_EXPORT size_t
heldby_current_bytes(void)
{
	settle();
	return cnt_current();
}

HB_EXPORT size_t
heldby_peak_bytes(void)
{
	settle();
	return cnt_peak();
}

HB_EXPORT size_t
heldby_live_blocks(void)
{
	settle();
	return cnt_blocks();
}

HB_EXPORT void
heldby_reset_peak(void)
{
	settle();
	cnt_reset_peak();
}

HB_EXPORT void
heldby_mark(const char *label)
{
	/* Inside a hook (a signal handler that interrupted one) the mark is
	 * left out rather than risk the hook's ring state. */
	if (hb_on() && guard_enter()) {
		event_mark(label);
		guard_leave();
	}
}
