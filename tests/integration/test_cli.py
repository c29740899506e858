# SPDX-License-Identifier: MIT
"""Bad input to the tool: one clear line and a non-zero exit, never a crash."""
import os
import subprocess
import tempfile
from harness import HELDBY, check, done, run_traced, victim


def heldby(*args):
    return subprocess.run([HELDBY] + list(args), capture_output=True, text=True, timeout=60)


r = heldby("frobnicate")
check("cli_unknown_subcommand_exits_2", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r)
r = heldby("report", "--no-such-option", "x")
check("cli_unknown_option_exits_2", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r)
d = tempfile.mkdtemp(prefix="heldby-cli-")
junk = os.path.join(d, "junk.hbt")
with open(junk, "wb") as f:
    f.write(b"this is not a trace at all\n" * 10)
r = heldby("report", junk)
check("cli_report_on_non_trace_one_line_error", r.returncode != 0 and r.returncode < 128
      and len(r.stderr.strip().splitlines()) == 1, r)
r = heldby("report", os.path.join(d, "missing.hbt"))
check("cli_report_on_missing_file_one_line_error", r.returncode != 0 and r.returncode < 128
      and len(r.stderr.strip().splitlines()) == 1, r)
r = heldby("run", "--", os.path.join(d, "no-such-program"))
check("cli_run_of_missing_program_exits_127", r.returncode == 127, r)

# heldby run passes the exit status of the program through
t = run_traced(["/bin/sh", "-c", "exit 7"])
check("cli_run_passes_exit_status", t.proc.returncode == 7, t.proc)

# A trace cut short at any point still reports what its complete blocks hold.
t = run_traced([victim("known_peak")])
if check("cli_trace_for_truncation", t.trace is not None, t.proc.stderr):
    data = open(t.trace, "rb").read()
    crashes = []
    for cut in sorted({len(data) - 1, len(data) // 2, len(data) // 3, 60, 47, 10, 0}):
        p = os.path.join(d, f"cut{cut}.hbt")
        with open(p, "wb") as f:
            f.write(data[:cut])
        r = heldby("report", "--json", p)
        if r.returncode < 0 or r.returncode >= 128:
            crashes.append((cut, r.returncode, r.stderr))
        elif cut >= len(data) - 1 and r.returncode != 0:
            crashes.append((cut, r.returncode, r.stderr))
    check("cli_report_survives_truncation_at_any_offset", not crashes, crashes)
    p = os.path.join(d, "cut-end.hbt")
    with open(p, "wb") as f:
        f.write(data[:-1])
    r = heldby("report", "--json", p)
    import json
    ok = r.returncode == 0 and json.loads(r.stdout)["summary"]["complete"] is False
    check("cli_cut_short_trace_reported_as_incomplete", ok, r.stderr)
done()
