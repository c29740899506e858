# SPDX-License-Identifier: MIT
"""hb_assert (shim/hb_assert.h) where assertions are on: a check that holds
lets the program go on, one that fails writes exactly one line on stderr,
naming the file, line and condition, and aborts.

    assert_fires.py PROGRAM
"""
import signal
import subprocess
import sys

prog = sys.argv[1]
ok = subprocess.run([prog], capture_output=True, timeout=60)
bad = subprocess.run([prog, "fail"], capture_output=True, timeout=60)
err = bad.stderr.decode(errors="replace")
checks = [
    ("hb_assert_that_holds_lets_the_program_go_on", ok.returncode == 0 and not ok.stderr, ok),
    ("hb_assert_that_fails_aborts", bad.returncode == -signal.SIGABRT, bad),
    ("hb_assert_that_fails_writes_one_line", err.count("\n") == 1 and err.startswith("heldby: ")
     and "assert_fires.c:" in err and "assertion `argc == 0 && \"the failing check\"' failed" in err, err),
]
for n, (name, good, detail) in enumerate(checks, 1):
    print(f"{'ok' if good else 'not ok'} {n} - {name}")
    if not good:
        print(f"#   {detail}")
print(f"1..{len(checks)}")
sys.exit(0 if all(c[1] for c in checks) else 1)
