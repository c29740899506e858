# SPDX-License-Identifier: MIT
"""Every way a process lives and dies under heldby (issue 4): fork with and
without following, exec, posix_spawn, vfork, many short-lived threads, a
signal handler that allocates, dlopen/dlclose loops; exit, _exit, return,
abort, fatal signals, the program's own handler, and kill -9."""
import glob
import os
import re
import signal
import subprocess
import tempfile
import time
from harness import (BUILD_ROOT, HELDBY, check, describe, done, holder_with, report_json, report_text,
                     run_native, victim)

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")
MiB = 1 << 20


def heldby_run(argv, follow=False, env=None, timeout=120):
    """`heldby run [--follow]` in a private folder: (process, {pid: [traces]})."""
    workdir = tempfile.mkdtemp(prefix="heldby-life-")
    full_env = dict(os.environ)
    full_env.update(env or {})
    cmd = [HELDBY, "run", "-o", os.path.join(workdir, "t.%p.hbt")] + (["--follow"] if follow else [])
    proc = subprocess.run(cmd + ["--"] + list(argv), env=full_env, capture_output=True, timeout=timeout)
    return proc, traces_in(workdir)


def traces_in(workdir):
    found = {}
    for path in sorted(glob.glob(os.path.join(workdir, "t.*.hbt*"))):
        pid = int(re.match(r"t\.(\d+)\.hbt", os.path.basename(path)).group(1))
        found.setdefault(pid, []).append(path)
    return found


def main_pid(proc):
    """The pid of the program `heldby run` started, from its summary."""
    m = re.search(rb"trace written to \S*t\.(\d+)\.hbt", proc.stderr)
    return int(m.group(1)) if m else None


def preloaded(argv, timeout=60):
    """The program with the shim preloaded directly: its parent (we) sees its status."""
    workdir = tempfile.mkdtemp(prefix="heldby-life-")
    return run_native(argv, env={"LD_PRELOAD": SHIM, "HELDBY_OUTPUT": os.path.join(workdir, "t.%p.hbt")},
                      timeout=timeout)


def top_is(entries, function, nbytes):
    return bool(entries) and any(function in f for f in
                                 [fr.get("function") or "" for fr in entries[0]["stack"]]) \
        and entries[0]["bytes"] == nbytes


def only_trace(traces):
    paths = [p for ps in traces.values() for p in ps]
    return paths[0] if len(paths) == 1 else None


# ---- every way of dying: 40 MiB held by hold_forty(), then ... ----
# heldby run ends as the program did: a death by signal is its own death by
# that signal (subprocess: a negative returncode), as a parent sees natively.
DEATHS = {  # how: (exit status seen by heldby run's parent, trace complete)
    "exit": (0, True), "_exit": (0, True), "return": (0, True), "handler": (3, True),
    "abort": (-signal.SIGABRT, False), "raise-segv": (-signal.SIGSEGV, False),
    "fault-segv": (-signal.SIGSEGV, False), "bus": (-signal.SIGBUS, False),
}
for how, (want_rc, want_complete) in DEATHS.items():
    argv = [victim("dies"), how]
    native = run_native(argv)
    pre = preloaded(argv)
    check(f"death_{how}_status_same_as_without_heldby", native.returncode == pre.returncode
          and native.stdout == pre.stdout, (native.returncode, pre.returncode, pre.stderr))
    proc, traces = heldby_run(argv)
    check(f"death_{how}_heldby_run_ends_as_the_program_did", proc.returncode == want_rc == native.returncode,
          (proc.returncode, native.returncode, proc.stderr))
    trace = only_trace(traces)
    if not check(f"death_{how}_one_trace", trace is not None, (traces, proc.stderr)):
        continue
    r = report_json(trace)
    s = r["summary"]
    check(f"death_{how}_hold_forty_top_peak_holder_40MiB", top_is(r["peak_holders"], "hold_forty", 40 * MiB),
          describe(r["peak_holders"]))
    check(f"death_{how}_hold_forty_held_at_end_40MiB", top_is(r["leaks"], "hold_forty", 40 * MiB),
          describe(r["leaks"]))
    check(f"death_{how}_complete_is_{str(want_complete).lower()}", s["complete"] is want_complete, s)
    if not want_complete:
        t = report_text(trace)
        check(f"death_{how}_report_says_cut_short", t.returncode == 0 and "cut short" in t.stderr, t.stderr)
check("death_handler_program_handler_ran", b"own handler ran" in run_native([victim("dies"), "handler"]).stdout)

# kill -9 once the program says it is ready (allocation done, more than a
# flush period ago): the trace has everything up to then.
workdir = tempfile.mkdtemp(prefix="heldby-life-")
env = dict(os.environ, HELDBY_FLUSH_MS="100")
p = subprocess.Popen([HELDBY, "run", "-o", os.path.join(workdir, "t.%p.hbt"), "--", victim("dies"), "kill"],
                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = p.stdout.readline()
traces = traces_in(workdir)
killed = False
if line.strip() == b"ready" and len(traces) == 1:
    os.kill(list(traces)[0], signal.SIGKILL)
    killed = True
try:
    out, err = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
if check("kill9_program_was_ready_and_killed", killed, (line, traces)):
    check("kill9_heldby_run_dies_of_sigkill_too", p.returncode == -signal.SIGKILL, (p.returncode, err))
    check("kill9_heldby_run_summary_says_cut_short", b"cut short" in err, err)
    r = report_json(only_trace(traces))
    check("kill9_hold_forty_top_peak_holder_40MiB", top_is(r["peak_holders"], "hold_forty", 40 * MiB),
          describe(r["peak_holders"]))
    check("kill9_hold_forty_held_at_end_40MiB", top_is(r["leaks"], "hold_forty", 40 * MiB), describe(r["leaks"]))
    check("kill9_trace_not_complete", r["summary"]["complete"] is False, r["summary"])

# ---- fork ----
# Parent holds 30 MiB, the child allocates 50 MiB and leaves with _exit.
proc, traces = heldby_run([victim("fork_child")])
m = re.search(rb"child pid (\d+)", proc.stdout)
check("fork_program_ran", proc.returncode == 0 and m is not None, proc.stderr)
check("fork_unfollowed_child_leaves_no_trace", len(traces) == 1, traces)
trace = only_trace(traces)
if trace:
    r = report_json(trace)
    check("fork_parent_peak_between_30_and_40MiB", 30 * MiB <= r["summary"]["peak_bytes"] <= 40 * MiB, r["summary"])
    check("fork_parent_top_holder_parent_hold", top_is(r["peak_holders"], "parent_hold", 30 * MiB),
          describe(r["peak_holders"]))
    check("fork_parent_trace_complete", r["summary"]["complete"] is True, r["summary"])

proc, traces = heldby_run([victim("fork_child")], follow=True)
m = re.search(rb"child pid (\d+)", proc.stdout)
if check("fork_follow_program_ran", proc.returncode == 0 and m is not None, proc.stderr):
    child = int(m.group(1))
    parent = [pid for pid in traces if pid != child]
    check("fork_follow_main_trace_is_the_parent", parent == [main_pid(proc)], (parent, proc.stderr))
    check("fork_follow_child_trace_named_by_its_pid", child in traces and len(traces[child]) == 1, traces)
    check("fork_follow_parent_trace_still_its_own", len(parent) == 1, traces)
    if parent:
        r = report_json(traces[parent[0]][0])
        check("fork_follow_parent_peak_between_30_and_40MiB", 30 * MiB <= r["summary"]["peak_bytes"] <= 40 * MiB,
              r["summary"])
    if child in traces:
        r = report_json(traces[child][0])
        check("fork_follow_child_has_its_50MiB", top_is(r["peak_holders"], "child_alloc", 50 * MiB),
              describe(r["peak_holders"]))
        check("fork_follow_child_pid_in_trace", r["trace"]["pid"] == child, r["trace"])
        # what it inherited is not known to be live: freeing it is an unknown free
        check("fork_follow_child_inherited_blocks_unknown", r["summary"]["unknown_frees"] >= 1, r["summary"])
        check("fork_follow_child_trace_complete", r["summary"]["complete"] is True, r["summary"])
        check("fork_follow_run_lists_child_trace", traces[child][0].encode() in proc.stderr, proc.stderr)

# Forks while other threads (and heldby's writer) are busy: no deadlock, and
# each child, leaving by exit or _exit, has a complete trace of its own.
try:
    proc, traces = heldby_run([victim("fork_threads"), "20"], follow=True, timeout=60)
    hung = False
except subprocess.TimeoutExpired:
    hung, proc, traces = True, None, {}
if check("fork_busy_threads_no_deadlock", not hung and proc.returncode == 0 and b"ok 20" in proc.stdout,
         "timed out" if hung else proc.stderr):
    check("fork_busy_threads_a_trace_per_process", len(traces) == 21, sorted(traces))
    bad = []
    for pid, paths in traces.items():
        r = report_json(paths[0])
        if r["summary"]["complete"] is not True:
            bad.append((pid, "not complete"))
        elif pid != main_pid(proc) and not top_is(r["peak_holders"], "child_work", MiB):
            bad.append((pid, describe(r["peak_holders"], 1)))
    check("fork_busy_threads_every_trace_complete_child_has_its_MiB", not bad, bad)

# ---- exec: followed with or without --follow (the same process) ----
for follow in (False, True):
    name = "exec_follow" if follow else "exec"
    proc, traces = heldby_run([victim("spawner"), "exec", victim("spawner"), "alloc"], follow=follow)
    check(f"{name}_program_ran", proc.returncode == 0, proc.stderr)
    paths = [p for ps in traces.values() for p in ps]
    if check(f"{name}_two_traces_same_pid", len(traces) == 1 and len(paths) == 2, traces):
        first, second = sorted(paths, key=len)
        r1, r2 = report_json(first), report_json(second)
        check(f"{name}_first_is_pre_exec_and_complete",
              top_is(r1["peak_holders"], "before_exec", 8 * MiB) and r1["summary"]["complete"] is True,
              describe(r1["peak_holders"]))
        check(f"{name}_second_is_exec_target_16MiB", top_is(r2["peak_holders"], "exec_target", 16 * MiB)
              and r2["summary"]["complete"] is True, describe(r2["peak_holders"]))
        check(f"{name}_run_summarises_the_exec_target", f"trace written to {second}".encode() in proc.stderr
              and first.encode() in proc.stderr, proc.stderr)

proc, traces = heldby_run([victim("spawner"), "exec-fail"])
paths = [p for ps in traces.values() for p in ps]
check("exec_fail_program_carried_on", proc.returncode == 0 and b"carried on" in proc.stdout, proc.stderr)
if check("exec_fail_new_trace_after_failure", len(paths) == 2, traces):
    first, second = sorted(paths, key=len)
    r2 = report_json(second)
    check("exec_fail_recording_goes_on", holder_with(r2["leaks"], "after_failed_exec") is not None
          and r2["summary"]["complete"] is True, describe(r2["leaks"]))

# ---- posix_spawn and vfork: the parent's state is intact ----
for how in ("spawn", "vfork"):
    argv = [victim("spawner"), how, victim("spawner"), "alloc"]
    for follow in (False, True):
        name = f"{how}{'_follow' if follow else ''}"
        proc, traces = heldby_run(argv, follow=follow)
        check(f"{name}_program_ran", proc.returncode == 0 and b"child ok" in proc.stdout, proc.stderr)
        mine = [pid for pid in traces if pid == main_pid(proc)]
        if not check(f"{name}_parent_trace", len(mine) == 1, (traces, proc.stderr)):
            continue
        s = report_json(traces[mine[0]][0])["summary"]
        check(f"{name}_parent_counts_right", 1000 <= s["alloc_calls"] <= 1064 and 1000 <= s["free_calls"] <= 1064
              and s["unknown_frees"] == 0, s)
        check(f"{name}_parent_peak_is_its_1000_blocks", 100000 <= s["peak_bytes"] <= 100000 + 65536, s)
        check(f"{name}_parent_trace_complete", s["complete"] is True, s)
        others = [pid for pid in traces if pid != mine[0]]
        if not follow:
            check(f"{name}_child_not_traced", not others, traces)
        elif check(f"{name}_child_traced", len(others) == 1, traces):
            r = report_json(traces[others[0]][0])
            check(f"{name}_child_trace_is_the_child", top_is(r["peak_holders"], "exec_target", 16 * MiB),
                  describe(r["peak_holders"]))

# ---- 2000 short-lived threads ----
# One malloc arena, so that the address space is the program's threads and
# heldby's rings, not glibc's per-thread arenas (64 MiB each).
proc, traces = heldby_run([victim("many_threads"), "2000"], env={"MALLOC_ARENA_MAX": "1"})
m = re.search(rb"threads (\d+) allocs (\d+) kept (\d+) vmsize_kib (\d+)", proc.stdout)
trace = only_trace(traces)
if check("threads_2000_program_ran", proc.returncode == 0 and m and trace, proc.stderr):
    nthreads, allocs, kept, vm_kib = (int(x) for x in m.groups())
    r = report_json(trace)
    s = r["summary"]
    # glibc allocates a little per thread of its own (TLS), and at start
    check("threads_2000_alloc_calls_right", allocs <= s["alloc_calls"] <= allocs + nthreads + 64, (allocs, s))
    leak = holder_with(r["leaks"], "worker")
    check("threads_2000_kept_blocks_all_seen", leak is not None and leak["bytes"] == kept
          and leak["blocks"] == nthreads, describe(r["leaks"]))
    check("threads_2000_trace_complete", s["complete"] is True and s["events_dropped"] == 0, s)
    # ~100 MiB with rings reused; a 1 MiB ring for each thread that ever
    # lived would be over 2 GiB
    check("threads_2000_rings_reused_address_space_bounded", vm_kib < (1 << 20), f"{vm_kib} KiB")

# ---- a signal handler that allocates while the thread is in a hook ----
try:
    proc, traces = heldby_run([victim("signal_alloc"), "20000"], timeout=60)
    hung = False
except subprocess.TimeoutExpired:
    hung, proc, traces = True, None, {}
m = proc and re.search(rb"main (\d+) handler (\d+)", proc.stdout)
trace = only_trace(traces)
if check("signal_alloc_no_deadlock", not hung and proc.returncode == 0 and m and trace,
         "timed out" if hung else proc.stderr):
    main_n, handler_n = int(m.group(1)), int(m.group(2))
    r = report_json(trace)
    s = r["summary"]
    # the victim aims at 2000; a starved sender thread may fall short
    check("signal_alloc_handler_ran_often", handler_n >= 200, handler_n)
    # the handler's own calls are recorded, or passed through when they
    # interrupted a hook: never half-recorded
    check("signal_alloc_calls_between_main_and_main_plus_handler",
          main_n <= s["alloc_calls"] <= main_n + handler_n + 64 and s["alloc_calls"] - s["free_calls"] < 64,
          (main_n, handler_n, s))
    check("signal_alloc_nothing_unknown_or_dropped", s["unknown_frees"] == 0 and s["events_dropped"] == 0, s)
    check("signal_alloc_trace_complete", s["complete"] is True, s)

# ---- dlopen/dlclose loop ----
plugin = os.path.abspath(os.path.join(BUILD_ROOT, "tests", "victims", "libvictim_plugin.so"))
proc, traces = heldby_run([victim("dlopen_loop"), plugin, "200"])
trace = only_trace(traces)
if check("dlopen_loop_program_ran", proc.returncode == 0 and b"cache kept" in proc.stdout and trace, proc.stderr):
    r = report_json(trace)
    check("dlopen_loop_kept_cache_named_in_plugin", top_is(r["leaks"], "plugin_make_cache", 8 * MiB),
          describe(r["leaks"]))
    # two call sites in main: the freed caches and the kept one
    calls = sum(e["calls"] for e in r["most_calls"]
                if any("plugin_make_cache" in (f.get("function") or "") for f in e["stack"]))
    check("dlopen_loop_every_plugin_call_counted", calls == 200, calls)
    check("dlopen_loop_trace_complete", r["summary"]["complete"] is True, r["summary"])
    # a dlclose waits for a drain, not for a block to be compressed and
    # written: 200 of them wrote 202 blocks, each the program waited for
    check("dlopen_loop_dlclose_writes_no_block", r["trace"]["blocks_read"] < 20, r["trace"])
done()
