# SPDX-License-Identifier: MIT
"""`heldby report --at WHEN`: what was held at one moment, to the byte, and
how long it had been held; a WHEN the trace does not reach is one line and
exit 2; a trace whose process is alive is "still being written".

The victim (tests/victims/at_moments.c) holds phase A (3 x 1 MiB, hold_a)
between marks a1 and b0, then phase B (5 x (1 MiB + 4 KiB), hold_b) between
b1 and c, 1.2 s long. Moments are chosen in the middle of those quiet
spans, from the marks' own times, so a loaded machine cannot move an event
across them.
"""
import json
import os
import subprocess
import tempfile
import time

from harness import (HELDBY, check, done, holder_with, describe, run_traced, victim)

A_BYTES = 3 * (1 << 20)
B_BYTES = 5 * ((1 << 20) + 4096)


def at_json(trace, when):
    r = subprocess.run([HELDBY, "report", "--json", "--at", when, trace],
                       capture_output=True, text=True, timeout=300)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


def marks_of(report):
    return {m["label"]: m for m in report["marks"]}


def moment_between(marks, first, second):
    """The middle of the quiet span, in whole microseconds, as WHEN."""
    t = (marks[first]["time_ns"] + marks[second]["time_ns"]) // 2
    return f"{t // 1000}us"


def held_by(entries, function):
    """Bytes of every entry with a frame in function (gcc may unroll a
    loop of mallocs into several call sites)."""
    return sum(e["bytes"] for e in entries
               if any(function in (f.get("function") or "") for f in e["stack"]))


def check_phase(name, trace, when, base, function, nbytes, other):
    r, j = at_json(trace, when)
    if not check(f"{name}_reported", j is not None, r.stderr):
        return None
    at = j.get("at", {})
    check(f"{name}_holder_exact", held_by(at.get("holders", []), function) == nbytes,
          describe(at.get("holders", [])))
    check(f"{name}_total_exact", at.get("bytes") == base + nbytes,
          f"at.bytes {at.get('bytes')}, expected {base} + {nbytes}")
    check(f"{name}_other_phase_absent", holder_with(at.get("holders", []), other) is None,
          describe(at.get("holders", [])))
    return at


def main():
    t = run_traced([victim("at_moments")])
    if not check("victim_ran", t.proc.returncode == 0 and t.trace, t.proc.stderr):
        done()
    rep = t.report
    marks = marks_of(rep)
    if not check("marks_recorded", all(k in marks for k in ("a0", "a1", "b0", "b1", "c")),
                 rep["marks"]):
        done()
    # What the runtime held before phase A, and after B was freed: neither
    # phase's bytes.
    base = marks["a0"]["bytes"]

    at = check_phase("at_time_in_a", t.trace, moment_between(marks, "a1", "b0"), base,
                     "hold_a", A_BYTES, "hold_b")
    if at:
        check("at_time_kind", at.get("kind") == "time" and at.get("label", "").endswith("us"), at)
        check("at_time_ages_young", at["ages"][0]["bytes"] == at["bytes"], at["ages"])
    at = check_phase("at_time_in_b", t.trace, moment_between(marks, "b1", "c"), base,
                     "hold_b", B_BYTES, "hold_a")

    at = check_phase("at_mark_c", t.trace, "c", base, "hold_b", B_BYTES, "hold_a")
    if at:
        h = holder_with(at["holders"], "hold_b")
        # B's blocks were 1.2 s old at mark c (the sleep is at least that)
        check("at_mark_age", h and h["age_ns"] >= 1150 * 10**6, h and h["age_ns"])
        check("at_mark_bucket", at["ages"][1]["bytes"] >= B_BYTES, at["ages"])
        check("at_mark_time", at["time_ns"] == marks["c"]["time_ns"], at["time_ns"])

    r, j = at_json(t.trace, "peak")
    if check("at_peak_reported", j is not None, r.stderr):
        check("at_peak_is_peak", j["at"]["bytes"] == j["summary"]["peak_bytes"]
              and j["at"]["time_ns"] == j["summary"]["peak_time_ns"], j["at"])
        check("at_peak_holder", held_by(j["at"]["holders"], "hold_b") == B_BYTES,
              describe(j["at"]["holders"]))
    r, j = at_json(t.trace, "end")
    if check("at_end_reported", j is not None, r.stderr):
        check("at_end_is_end", j["at"]["bytes"] == j["summary"]["end_bytes"], j["at"])
        check("at_end_no_b", holder_with(j["at"]["holders"], "hold_b") is None,
              describe(j["at"]["holders"]))

    text = subprocess.run([HELDBY, "report", "--at", "c", t.trace], capture_output=True,
                          text=True, timeout=300)
    check("text_at_mark", text.returncode == 0 and "Top holders at mark 'c'" in text.stdout
          and "hold_b" in text.stdout and "Held for" in text.stdout
          and "Top holders at peak" not in text.stdout, text.stdout + text.stderr)

    for name, when in (("unknown_label", "no-such-mark"), ("after_end", "9999s"),
                       ("no_unit", "12"), ("bad_time", "1.5e3s")):
        r = subprocess.run([HELDBY, "report", "--at", when, t.trace], capture_output=True,
                           text=True, timeout=300)
        check(f"bad_when_{name}", r.returncode == 2 and r.stdout == ""
              and len(r.stderr.strip().splitlines()) == 1 and "--at " + when in r.stderr,
              f"rc {r.returncode}: {r.stderr}")

    r = subprocess.run([HELDBY, "report", "--at", "c", t.trace, t.trace], capture_output=True,
                       text=True, timeout=300)
    check("at_refuses_several_traces", r.returncode == 2 and "--at" in r.stderr, r.stderr)

    being_written()
    done()


def being_written():
    """While the process runs, its trace is still being written, not cut."""
    work = tempfile.mkdtemp(prefix="heldby-at-")
    gate = os.path.join(work, "go")
    out = os.path.join(work, "t.hbt")
    p = subprocess.Popen([HELDBY, "run", "-o", out, "--", victim("at_moments"), gate],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # after mark c: the phases are recorded
        check("live_victim_started", line.startswith("a "), line)
        # every event up to mark c is on disk within one flush period (200 ms)
        deadline = time.time() + 30
        j = None
        while time.time() < deadline:
            r = subprocess.run([HELDBY, "report", "--json", "--at", "c", out],
                               capture_output=True, text=True, timeout=300)
            if r.returncode == 0:
                j = json.loads(r.stdout)
                break
            time.sleep(0.1)
        if check("live_at_mark", j is not None, r.stderr):
            check("live_being_written", j["trace"]["being_written"] is True
                  and j["summary"]["complete"] is False, j["trace"])
            check("live_at_mark_exact", held_by(j["at"]["holders"], "hold_b") == B_BYTES,
                  describe(j["at"]["holders"]))
            check("live_stderr_says_so", "still being written" in r.stderr
                  and "cut short" not in r.stderr, r.stderr)
        text = subprocess.run([HELDBY, "report", out], capture_output=True, text=True, timeout=300)
        check("live_text_says_so", "still being written" in text.stdout
              and "cut short" not in text.stdout, text.stdout)
    finally:
        open(gate, "w").close()
        p.communicate(timeout=120)
    check("live_victim_status", p.returncode == 0, p.returncode)
    j = json.loads(subprocess.run([HELDBY, "report", "--json", out], capture_output=True,
                                  text=True, timeout=300).stdout)
    check("finished_not_being_written", j["trace"]["being_written"] is False
          and j["summary"]["complete"] is True, j["trace"])


if __name__ == "__main__":
    main()
