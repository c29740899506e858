# SPDX-License-Identifier: MIT
"""`heldby run` prints its summary from the SUMMARY record the writer leaves
in the trace's last block (format 3) instead of replaying the whole trace.
That record must say exactly what the replay says, on programs with threads,
reallocs, address reuse, marks, forks and real programs; and where a trace
has none (cut short, a fork child's), `heldby run` still prints the replay's."""
import os
import re
import shutil
import subprocess
import tempfile
from harness import BUILD_ROOT, HELDBY, check, done, report_json, victim

TRACE_SUMMARY = os.path.join(BUILD_ROOT, "tests", "integration", "trace_summary")
FIELDS = ("peak_bytes", "peak_blocks", "peak_time_ns", "end_bytes", "end_blocks",
          "alloc_calls", "free_calls")


def run(argv, follow=False, env=None):
    workdir = tempfile.mkdtemp(prefix="heldby-sum-")
    full_env = dict(os.environ)
    full_env.update(env or {})
    cmd = [HELDBY, "run", "-o", os.path.join(workdir, "t.%p.hbt")] + (["--follow"] if follow else [])
    proc = subprocess.run(cmd + ["--"] + list(argv), env=full_env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    traces = sorted(os.path.join(workdir, f) for f in os.listdir(workdir))
    return proc, traces, workdir


def summaries(trace):
    """{field: (writer or None, replay)} from trace_summary."""
    r = subprocess.run([TRACE_SUMMARY, trace], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        name, w, rp = line.split()
        out[name] = (None if w == "-" else int(w), int(rp))
    return out


def printed_counts(stderr):
    """The allocation and free counts `heldby run` printed."""
    m = re.search(r"calls\s+([\d,]+) allocations, ([\d,]+) frees", stderr)
    return (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else None


WORKLOADS = [
    ("known_peak", [victim("known_peak")]),
    ("xthread_reuse", [victim("xthread_reuse"), "4"]),
    ("cxx_bitmaps", [victim("cxx_bitmaps"), "12"]),
    ("api_peak_threads", [victim("api_peak_unlinked"), "threads"]),
    ("many_threads", [victim("many_threads"), "300"]),
    ("signal_alloc", [victim("signal_alloc"), "20000"]),
    ("python_json", ["/usr/bin/python3", "-c",
                     "import json; d=[{'k': i, 's': str(i)*3} for i in range(30000)]; "
                     "json.loads(json.dumps(d))"], {"PYTHONMALLOC": "malloc"}),
]

for name, argv, *env in WORKLOADS:
    proc, traces, workdir = run(argv, env=env[0] if env else None)
    if check(f"{name}_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
        s = summaries(traces[0])
        check(f"{name}_trace_has_summary", all(s[f][0] is not None for f in FIELDS), s)
        for f in FIELDS:
            check(f"{name}_{f}_as_replayed", s[f][0] == s[f][1], (f, s[f]))
        check(f"{name}_run_printed_it", printed_counts(proc.stderr) == (s["alloc_calls"][1],
                                                                         s["free_calls"][1]),
              proc.stderr)
        # Format 4: every free names its allocation by number, however
        # long the block lived (python_json keeps 30,000 dicts across far
        # more than the 65,536 allocations formats 2 and 3 could span).
        check(f"{name}_no_block_needed_its_address", s["addresses_given"][1] == 0, s)
    shutil.rmtree(workdir, ignore_errors=True)

# A module enters the trace with the first stack that runs through it: the
# shim's own libraries (libunwind, libdw, libzstd) hold no frame of
# known_peak's stacks and stay out; the program and libc are in.
proc, traces, workdir = run([victim("known_peak")])
if check("modules_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
    r = subprocess.run([TRACE_SUMMARY, "--modules", traces[0]], capture_output=True,
                       text=True, timeout=300)
    mods = [os.path.basename(m) for m in r.stdout.split()]
    check("modules_program_and_libc_announced", r.returncode == 0 and "known_peak" in mods
          and any(m.startswith("libc.so") for m in mods), (mods, r.stderr))
    check("modules_unused_ones_left_out", not any(m.startswith(("libunwind", "libdw", "libzstd",
                                                              "libheldby")) for m in mods), mods)
shutil.rmtree(workdir, ignore_errors=True)

# Every 2^31 allocations the writer takes the tags of blocks older than
# 2^31 and gives them their address (shim/seqtag.h); a shim built with a
# span of 4096 does it here. The counts must still be the replay's, and
# the old blocks' frees found by address.
PY_KEEP = ("import json; d=[{'k': i, 's': str(i)*3} for i in range(30000)]; "
           "e=json.loads(json.dumps(d)); del d; del e")
proc, traces, workdir = run(["/usr/bin/python3", "-c", PY_KEEP],
                            env={"PYTHONMALLOC": "malloc",
                                 "HELDBY_SHIM": os.environ["HELDBY_SHIM_SHORT_SPAN"]})
if check("short_span_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
    s = summaries(traces[0])
    check("short_span_trace_has_summary", all(s[f][0] is not None for f in FIELDS), s)
    check("short_span_counts_as_replayed", all(s[f][0] == s[f][1] for f in FIELDS), s)
    check("short_span_old_blocks_got_their_address", s["addresses_given"][1] > 10000, s)
    rep = report_json(traces[0])["summary"]
    check("short_span_their_frees_found", rep["unknown_frees"] < 100
          and rep["end_blocks"] < 1000, rep)
shutil.rmtree(workdir, ignore_errors=True)

# A followed fork child's trace starts from the parent's heap: no summary in
# it (its counters did not start empty), and the parent's still has one.
proc, traces, workdir = run([victim("fork_child")], follow=True)
if check("fork_followed_ran", proc.returncode == 0 and len(traces) == 2, (proc.stderr, traces)):
    got = [summaries(t) for t in traces]
    with_summary = [s for s in got if s["peak_bytes"][0] is not None]
    check("fork_parent_has_summary_child_none", len(with_summary) == 1, got)
    for s in with_summary:
        check("fork_parent_summary_as_replayed", all(s[f][0] == s[f][1] for f in FIELDS), s)
shutil.rmtree(workdir, ignore_errors=True)

# Cut short by a signal: no END, no summary; `heldby run` replays and says so.
proc, traces, workdir = run([victim("dies"), "raise-segv"])
if check("cut_short_ran", len(traces) == 1, proc.stderr):
    s = summaries(traces[0])
    check("cut_short_has_no_summary", s["peak_bytes"][0] is None, s)
    rep = report_json(traces[0])["summary"]
    check("cut_short_run_summary_from_replay", "(cut short)" in proc.stderr
          and printed_counts(proc.stderr) == (rep["alloc_calls"], rep["free_calls"]), proc.stderr)
shutil.rmtree(workdir, ignore_errors=True)

# The last block damaged: the run summary must not trust it; the report
# still reads everything before it.
proc, traces, workdir = run([victim("known_peak")])
if check("damaged_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
    data = bytearray(open(traces[0], "rb").read())
    data[-3] ^= 0xFF
    bad = os.path.join(workdir, "bad.hbt")
    with open(bad, "wb") as f:
        f.write(data)
    s = summaries(bad)
    check("damaged_last_block_gives_no_summary", s["peak_bytes"][0] is None, s)
shutil.rmtree(workdir, ignore_errors=True)
done()
