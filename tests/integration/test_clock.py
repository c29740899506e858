# SPDX-License-Identifier: MIT
"""Event times (issue 5): with HELDBY_CLOCK=tsc the shim times events with the
bare TSC and the writer converts ticks to ns; with monotonic, clock_gettime as
before. Either way a mark, the peak and the exit must lie in the trace where
the program saw them: tests/victims/timed_marks.c brackets each event with two
CLOCK_MONOTONIC readings, ~300 ms apart, in the process itself, in a followed
fork child and after an exec that failed (both start a new trace, and a new
calibration)."""
import glob
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from harness import HELDBY, check, done, report_json, skip, victim

MS = 1000000
# The trace keeps time to the millisecond (a TIME record when 1 ms passed):
# an event may be written up to 1 ms early; allow that at each end.
SLACK = 2 * MS
# With a thread allocating all along, the writer ticks the clock for the
# events (shim/clock.h): an allocation of a thread that allocates rarely
# takes the writer's latest tick, every 0.5 ms while the writer gets the CPU.
# Marks still read the clock themselves. How far the tick lags is how long
# the machine kept the writer from the CPU, which no bound survives on a
# loaded machine; what holds whatever the load is that a thread never takes
# a time older than its own last reading (its mark before the allocation)
# and that a tick never runs ahead of the clock. So an allocation timed by
# the tick lies after the thread's last mark and before the program's
# reading after it (peak_after_mark=True). The busy thread stands aside
# while a timed event is made (timed_marks.c, quiet()): an event of its,
# preempted between taking its place in the order and reading the clock,
# would otherwise push the timed event as late as the machine kept it
# waiting (the writer never lets time go back).
EVENTS = ("start", "slept", "peak", "held")


def tsc_usable():
    """What the shim's auto choice should find (shim/clock.c): x86-64, an
    invariant TSC (the kernel's constant_tsc + nonstop_tsc flags, which it
    sets from CPUID 0x80000007 EDX bit 8) and the TSC as the kernel's
    clocksource."""
    if platform.machine() != "x86_64":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            source = f.read().strip()
    except OSError:
        return False
    return "constant_tsc" in flags and "nonstop_tsc" in flags and source == "tsc"


def run(mode, clock):
    """timed_marks under `heldby run --follow`: (process, traces, wall ns)."""
    workdir = tempfile.mkdtemp(prefix="heldby-clock-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELDBY_")}
    env["HELDBY_CLOCK"] = clock
    argv = [victim("timed_marks")] + ([mode] if mode else [])
    t0 = time.monotonic_ns()
    proc = subprocess.run([HELDBY, "run", "--follow", "-o", os.path.join(workdir, "t.%p.hbt"), "--"] + argv,
                          env=env, capture_output=True, timeout=120)
    wall = time.monotonic_ns() - t0
    traces = sorted(glob.glob(os.path.join(workdir, "t.*.hbt*")))
    return proc, traces, wall, workdir


def parse(out):
    pid, events = None, {}
    for line in out.decode(errors="replace").splitlines():
        f = line.split()
        if f[:1] == ["pid"]:
            pid = int(f[1])
        elif f[:1] == ["event"] and len(f) == 4:
            events[f[1]] = (int(f[2]), int(f[3]))
    return pid, events


def sequence_trace(mode, pid, traces):
    """The trace holding the timed sequence: the process's own, the fork
    child's, or the one begun after the failed exec (PATH.1)."""
    own = [t for t in traces if re.match(rf"t\.{pid}\.hbt(\.\d+)?$", os.path.basename(t))]
    if mode == "execfail":
        own = [t for t in own if t.endswith(".hbt.1")]
    return own[0] if len(own) == 1 else None


def check_times(name, mode, clock, expect_warning=None, peak_after_mark=False):
    proc, traces, wall, workdir = run(mode, clock)
    try:
        pid, ev = parse(proc.stdout)
        err = proc.stderr.decode(errors="replace")
        if expect_warning is not None:
            check(f"{name}_warning", (err.count("HELDBY_CLOCK") == 1) == expect_warning, err)
        trace = sequence_trace(mode, pid, traces)
        if not check(f"{name}_ran", proc.returncode == 0 and trace and set(ev) == set(EVENTS),
                     (proc.returncode, traces, ev, err)):
            return
        rep = report_json(trace)
        at = {m["label"]: m["time_ns"] for m in rep["marks"]}
        at["peak"] = rep["summary"]["peak_time_ns"]
        detail = (at, ev, rep["summary"])
        if not check(f"{name}_marks_in_trace", all(e in at for e in EVENTS), detail):
            return
        # Between the program's own readings: after <= its last reading
        # before the event, before >= its first reading after.
        b0, a0 = ev["start"]
        for e in EVENTS[1:]:
            b, a = ev[e]
            d = at[e] - at["start"]
            lo = at["slept"] - at["start"] if e == "peak" and peak_after_mark else b - a0 - SLACK
            check(f"{name}_{e}_time_where_the_program_saw_it", lo <= d <= a - b0 + SLACK,
                  (f"trace {d} ns after start, program between {b - a0} and {a - b0}, at least {lo}",)
                  + detail)
        # At least the 300 ms slept, at most what the program saw go by.
        check(f"{name}_slept_300ms_between_marks",
              290 * MS <= at["slept"] - at["start"] <= ev["slept"][1] - ev["start"][0] + SLACK, detail)
        # The program sleeps 300 ms after its last mark, then exits; the trace
        # cannot be longer than `heldby run` took.
        dur = rep["summary"]["duration_ns"]
        check(f"{name}_duration_plausible", at["held"] + 290 * MS <= dur <= wall,
              (f"duration {dur}, wall {wall}",) + detail)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


usable = tsc_usable()
# tsc falls back to CLOCK_MONOTONIC, with one warning, where the TSC is not
# usable: the warning says whether the shim found what we find.
check_times("tsc", "", "tsc", expect_warning=not usable)
for mode in ("fork", "execfail", "busy"):
    if usable:
        check_times(f"tsc_{mode}", mode, "tsc", peak_after_mark=mode == "busy")
    else:
        skip(f"tsc_{mode}", "no invariant TSC as the kernel's clocksource")
for mode in ("", "fork", "execfail"):
    check_times("monotonic" + (f"_{mode}" if mode else ""), mode, "monotonic", expect_warning=False)
check_times("auto", "", "auto", expect_warning=False)
check_times("bad_setting", "", "fast", expect_warning=True)
done()
