# SPDX-License-Identifier: MIT
"""The golden traces (tests/golden/vN/, one per trace format version, made
by tests/golden/make.sh): `heldby report` and `heldby report --json` of each
give what they gave when it was recorded, byte for byte. Nothing is masked:
for a fixed trace every field is fixed (its times, pid and paths are the
recorded ones; its module is nowhere, so no symbols of this machine's come
in; the symbol cache is off).

    golden.py GOLDEN_DIR      (HELDBY: the tool)
"""
import difflib
import os
import re
import subprocess
import sys

HELDBY = os.environ.get("HELDBY", "heldby")
golden = sys.argv[1]
env = {k: v for k, v in os.environ.items() if k not in ("DEBUGINFOD_URLS", "NO_COLOR")}
env["HELDBY_SYMBOL_CACHE"] = "off"
n = failed = 0
versions = sorted((d for d in os.listdir(golden) if re.fullmatch(r"v\d+", d)), key=lambda d: int(d[1:]))
for v in versions:
    here = os.path.join(golden, v)
    for view, args, expect in (("text", [], "report.txt"), ("json", ["--json"], "report.json")):
        n += 1
        r = subprocess.run([HELDBY, "report"] + args + ["trace.hbt"], cwd=here, env=env,
                           capture_output=True, text=True, timeout=120)
        with open(os.path.join(here, expect)) as f:
            want = f.read()
        ok = r.returncode == 0 and r.stdout == want
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - golden_{v}_{view}_report_as_recorded")
        if not ok:
            print(f"#   exit {r.returncode}; {r.stderr.strip()}")
            for line in list(difflib.unified_diff(want.splitlines(), r.stdout.splitlines(),
                                                  expect, "now", lineterm=""))[:40]:
                print(f"#   {line}")
if not versions:
    n += 1
    failed += 1
    print(f"not ok {n} - golden_traces_found_in_{golden}")
print(f"1..{n}")
sys.exit(1 if failed else 0)
