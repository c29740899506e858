# SPDX-License-Identifier: MIT
"""Threads that free and reuse each other's addresses, a program whose true
peak is known exactly, one whose threads still allocate when main returns,
and one whose reallocs keep filling its ring."""
import re
import time
from harness import check, done, run_native, run_traced, victim

# Cross-thread frees and address reuse at a high rate.
t = run_traced([victim("xthread_reuse"), "4", "200000"])
m = re.search(rb"allocs (\d+) frees (\d+)", t.proc.stdout)
check("xthread_program_ran", t.proc.returncode == 0 and m is not None, t.proc.stderr)
if t.trace and m:
    allocs, frees = int(m.group(1)), int(m.group(2))
    s = t.report["summary"]
    # libc allocates a few blocks of its own (stdout buffer, thread state)
    check("xthread_alloc_calls_match_program", allocs <= s["alloc_calls"] <= allocs + 64, (allocs, s))
    check("xthread_free_calls_match_program", frees <= s["free_calls"] <= frees + 64, (frees, s))
    check("xthread_nothing_held_at_exit_but_libc", s["end_bytes"] < 16384, s)
    # 64 slots of at most 271 bytes, plus libc's own
    check("xthread_peak_bounded_by_slots", s["peak_bytes"] < 64 * 272 + 65536, s)
    check("xthread_trace_complete", s["complete"] is True, s)

# A known true peak: the reported peak lies within [true, true + 1 MiB].
t = run_traced([victim("known_peak")])
m = re.search(rb"true peak (\d+)", t.proc.stdout)
if check("known_peak_program_ran", t.trace is not None and m is not None, t.proc.stderr):
    true_peak = int(m.group(1))
    s = t.report["summary"]
    check("known_peak_reported_within_1MiB_above_true", true_peak <= s["peak_bytes"] <= true_peak + (1 << 20),
          (true_peak, s))

# Threads still allocating when main returns: exits promptly, trace complete.
start = time.monotonic()
t = run_traced([victim("exit_with_threads")], timeout=60)
elapsed = time.monotonic() - start
check("exit_with_threads_exits_promptly", t.proc.returncode == 0 and elapsed < 10,
      f"rc {t.proc.returncode} after {elapsed:.1f}s\n{t.proc.stderr}")
if check("exit_with_threads_writes_a_trace", t.trace is not None, t.proc.stderr):
    s = t.report["summary"]
    check("exit_with_threads_trace_complete", s["complete"] is True, s)
    check("exit_with_threads_sees_the_kept_block", s["end_bytes"] >= 1 << 20, s)

# A realloc pushes two events; the second often finds the ring full while
# the ring grows. The writer waited for the first event's key to be
# released, 2 s each time, before it drained past it: the program, which
# runs in milliseconds, took 2 to 10 s. One such wait takes 2 s.
start = time.monotonic()
t = run_traced([victim("stack_shapes"), "realloc"], timeout=120)
elapsed = time.monotonic() - start
m = re.search(rb"rounds (\d+)", t.proc.stdout)
if check("realloc_full_ring_ran", t.proc.returncode == 0 and m and t.trace is not None, t.proc.stderr):
    check("realloc_full_ring_never_waits_for_the_stuck_timeout", elapsed < 2.0, f"{elapsed:.2f} s")
    s = t.report["summary"]
    check("realloc_full_ring_every_realloc_recorded", s["alloc_calls"] >= int(m.group(1)), s)
    check("realloc_full_ring_trace_complete", s["complete"] is True and s["events_dropped"] == 0, s)
done()
