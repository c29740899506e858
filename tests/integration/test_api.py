# SPDX-License-Identifier: MIT
"""include/heldby.h from a real program (tests/victims/api_peak.c), by every
door: linked through the meson dependency, linked with -lheldby alone, not
linked and preloaded (count and record mode), not linked and alone. The
program holds 10 MiB + 3 MiB at once and reads the counters itself; in
record mode its numbers are compared with the trace's replay at its marks."""
import glob
import os
import shutil
import subprocess
import tempfile
from harness import BUILD_ROOT, check, done, run_native, run_traced, victim

MiB = 1 << 20
SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")
TRACE_MARKS = os.path.join(BUILD_ROOT, "tests", "integration", "trace_marks")


def parse(out):
    vals = {}
    for line in out.decode(errors="replace").splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            vals[k] = int(v)
    return vals


def clean_env(**extra):
    """The environment without any heldby setting the caller did not ask for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELDBY_") and k != "LD_PRELOAD"}
    env.update(extra)
    return env


def run_in_tmp(argv, env):
    """Runs argv in a fresh folder; returns the result and the files left there."""
    d = tempfile.mkdtemp(prefix="heldby-api-")
    try:
        p = subprocess.run(argv, env=env, cwd=d, capture_output=True, timeout=120)
        return p, sorted(os.listdir(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_peak(door, p, files, want_threads=1):
    v = parse(p.stdout)
    if not check(f"{door}_ran", p.returncode == 0 and "peak" in v, p.stderr):
        return v
    detail = (v, p.stderr.decode(errors="replace")[-400:])
    check(f"{door}_active", v.get("active") == 1, detail)
    check(f"{door}_library_matches_header", v.get("version") == v.get("header_version") > 0, detail)
    # the done-when: at least 13 MiB above current before, less than 1 MiB more
    check(f"{door}_peak_is_13MiB_above_before", 13 * MiB <= v["peak"] - v["before"] < 14 * MiB, detail)
    check(f"{door}_held_exactly_the_requested_bytes", v["held"] - v["before"] == 13 * MiB, detail)
    check(f"{door}_all_freed_again", v["after"] == v["before"], detail)
    check(f"{door}_live_blocks_count_the_two",
          v["blocks_held"] == v["blocks_before"] + 2 and v["blocks_after"] == v["blocks_before"], detail)
    if want_threads is not None:
        check(f"{door}_no_writer_thread", v["threads"] == want_threads, detail)
    if files is not None:
        check(f"{door}_no_trace_file", not files, files)
    return v


# Linked, no LD_PRELOAD, no HELDBY_MODE: counts, writes nothing.
for door in ("api_peak_dep", "api_peak_lheldby"):
    p, files = run_in_tmp([victim(door)], clean_env())
    check_peak(door, p, files)

# Not linked, preloaded, count mode.
p, files = run_in_tmp([victim("api_peak_unlinked")],
                      clean_env(LD_PRELOAD=SHIM, HELDBY_MODE="count"))
check_peak("preloaded_count", p, files)

# Not linked and alone: builds, runs, says heldby is absent.
p, files = run_in_tmp([victim("api_peak_unlinked")], clean_env())
v = parse(p.stdout)
check("unlinked_alone_runs_inactive",
      p.returncode == 0 and v.get("active") == 0 and v.get("version") == 0 and v.get("peak") == 0
      and v.get("held") == 0, (v, p.stderr))

# HELDBY_MODE=off passes through: inactive, counters 0, no file.
p, files = run_in_tmp([victim("api_peak_unlinked")], clean_env(LD_PRELOAD=SHIM, HELDBY_MODE="off"))
v = parse(p.stdout)
check("mode_off_inactive", p.returncode == 0 and v.get("active") == 0 and v.get("held") == 0 and not files,
      (v, files, p.stderr))

# A bad HELDBY_MODE: one warning, then the default (counting, for a linked program).
p, files = run_in_tmp([victim("api_peak_dep")], clean_env(HELDBY_MODE="fast"))
v = parse(p.stdout)
err = p.stderr.decode(errors="replace")
check("bad_mode_warns_once", err.count("HELDBY_MODE") == 1, err)
check("bad_mode_falls_back_to_the_default",
      p.returncode == 0 and v.get("active") == 1 and v.get("peak", 0) - v.get("before", 0) >= 13 * MiB
      and not files, (v, files, err))

# Record mode (heldby run): counters kept too, and they agree with the
# trace's replay at each mark and at the peak.
t = run_traced([victim("api_peak_unlinked")], env=clean_env())
v = check_peak("recorded", t.proc, None, want_threads=None)
if check("recorded_trace_written", t.trace is not None, t.proc.stderr) and "held" in v:
    r = subprocess.run([TRACE_MARKS, t.trace], capture_output=True, text=True, timeout=120)
    marks = {}
    peak = None
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "mark":
            marks[f[1]] = (int(f[2]), int(f[3]))
        elif f[0] == "peak":
            peak = int(f[1])
    check("recorded_marks_in_trace", r.returncode == 0 and list(marks) == ["before", "holding", "after"],
          (r.stdout, r.stderr))
    if "holding" in marks:
        check("recorded_counter_matches_replay_at_mark",
              marks["holding"] == (v["held"], v["blocks_held"]), (marks, v))
    check("recorded_peak_matches_report_peak", peak == v["peak"] == t.report["summary"]["peak_bytes"],
          (peak, v, t.report["summary"]))
    # heldby report replays events queued ahead of decoding (replay_reader):
    # its marks must still hold the bytes of their own moment.
    got = {m["label"]: (m["bytes"], m["blocks"]) for m in t.report.get("marks", [])}
    check("report_marks_match_event_by_event_replay", got == marks and len(got) == 3, (got, marks))
    shutil.rmtree(t.workdir, ignore_errors=True)

# Threads: 4 hold 2 MiB each at once, then churn with frees and reallocs
# across threads. Exact linked, preloaded in count mode, and recorded (where
# the writer thread keeps the counters and each call waits for it).
def run_recorded(argv, env):
    t = run_traced(argv, env=env)
    shutil.rmtree(t.workdir, ignore_errors=True)
    return t.proc


def run_limited(argv, env):
    """Under RLIMIT_AS, where count mode keeps every block in its table
    (docs/counters.md: no shadow map then)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
    return subprocess.run(argv, env=env, capture_output=True, timeout=120, preexec_fn=limit)


for door, argv, env, runner in (
        ("threads_linked", [victim("api_peak_dep"), "threads"], clean_env(), run_native),
        ("threads_preloaded", [victim("api_peak_unlinked"), "threads"],
         clean_env(LD_PRELOAD=SHIM, HELDBY_MODE="count"), run_native),
        ("threads_preloaded_rlimit_as", [victim("api_peak_unlinked"), "threads"],
         clean_env(LD_PRELOAD=SHIM, HELDBY_MODE="count"), run_limited),
        ("threads_recorded", [victim("api_peak_unlinked"), "threads"], clean_env(), run_recorded)):
    p = runner(argv, env=env)
    v = parse(p.stdout)
    if check(f"{door}_ran", p.returncode == 0 and v.get("active") == 1, (v, p.stderr)):
        check(f"{door}_all_four_held_at_once", v["held"] - v["before"] == 8 * MiB, v)
        check(f"{door}_peak_exact", v["peak"] - v["before"] == 8 * MiB, v)
        check(f"{door}_churn_leaves_nothing", v["after"] == v["before"]
              and v["blocks_after"] == v["blocks_before"], v)

# fork while recording, before anyone asked: the child's counters begin
# where the parent's were, including the events the parent's writer had
# not counted yet (still in the rings the child inherits), followed or not.
for door, extra in (("fork_recorded", {}), ("fork_recorded_followed", {"HELDBY_FOLLOW": "1"})):
    t = run_traced([victim("api_peak_unlinked"), "fork"], env=clean_env(**extra))
    v = parse(t.proc.stdout)
    if check(f"{door}_ran", t.proc.returncode == 0 and "parent_at_fork" in v,
             (t.proc.stdout, t.proc.stderr)):
        check(f"{door}_child_starts_at_parent_bytes", v["child_at_fork"] == v["parent_at_fork"], v)
        check(f"{door}_child_starts_at_parent_blocks", v["child_blocks"] == v["parent_blocks"], v)
        check(f"{door}_child_counts_its_own", v["child_grown"] == 3 * MiB, v)
        check(f"{door}_kept_blocks_counted", v["parent_blocks"] >= 4 * 20000, v)
    shutil.rmtree(t.workdir, ignore_errors=True)
done()
