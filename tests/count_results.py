# SPDX-License-Identifier: MIT
"""Counts every single check of a meson test run: each TAP line of a TAP test
(criterion cases, integration checks), each other test as one. Prints the
failures by name, then one line: "N passed, M failed"."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = t.get("stdout") or ""
        oks = re.findall(r"^ok\b.*$", out, re.M)
        bad = re.findall(r"^not ok\b.*$", out, re.M)
        sk = [o for o in oks if "# SKIP" in o]
        if oks or bad:
            passed += len(oks) - len(sk)
            skipped += len(sk)
            failed += len(bad)
            failures += [f"{t['name']}: {b}" for b in bad]
            if t["result"] not in ("OK", "EXPECTEDFAIL") and not bad:
                failed += 1  # died or timed out after its last check
                failures.append(f"{t['name']}: {t['result']} after {len(oks)} checks")
        elif t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(f"{t['name']}: {t['result']}")
for fl in failures:
    print("FAILED", fl)
if skipped:
    print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
