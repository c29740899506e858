# SPDX-License-Identifier: MIT
"""Never hang, never lose (issue 19): a main() that ends in pthread_exit, a
child made without fork's handlers that allocates, a quick_exit, and a
handler that siglongjmps out of the shim each finish as natively, with the
trace whole and honest."""
import os
import signal
import subprocess
import tempfile
from harness import HELDBY, check, done, report_json, victim

PROG = victim("never_hang")


def run(argv, heldby, timeout=60):
    """(returncode, stdout, traces); returncode None when it hung (killed)."""
    d = tempfile.mkdtemp(prefix="heldby-nh-")
    cmd = ([HELDBY, "run", "-o", os.path.join(d, "t.%p.hbt"), "--"] if heldby else []) + argv
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = None
    return rc, out, sorted(os.path.join(d, f) for f in os.listdir(d))


for how, args in (("pthread_exit", ["pthread-exit"]), ("_Fork", ["_Fork", "300000"]),
                  ("clone", ["clone", "300000"]), ("quick_exit", ["quick-exit", "1000"])):
    native = run([PROG] + args, False)
    traced = run([PROG] + args, True)
    check(f"{how}_finishes_as_natively", traced[0] is not None and traced[:2] == native[:2],
          (native[:2], traced[:2]))
    if not check(f"{how}_one_trace", len(traced[2]) == 1, traced[2]):
        continue
    s = report_json(traced[2][0])["summary"]
    check(f"{how}_trace_complete", s["complete"] is True, s)
    if how == "pthread_exit":
        check("pthread_exit_worker_blocks_recorded", s["end_blocks"] >= 100 and s["end_bytes"] >= 100000, s)
    if how == "quick_exit":
        check("quick_exit_keeps_every_allocation", s["alloc_calls"] >= 1000 and s["end_bytes"] >= 1000 * 1024, s)

# siglongjmp out of a handler that interrupted the shim: the guard comes back.
native = run([PROG, "longjmp", "2000000"], False)
traced = run([PROG, "longjmp", "2000000"], True)
check("longjmp_program_ran", traced[0] == 0 == native[0] and "loops 2000000" in traced[1], traced[:2])
if check("longjmp_one_trace", len(traced[2]) == 1, traced[2]):
    s = report_json(traced[2][0])["summary"]
    check("longjmp_every_allocation_recorded_after_the_jumps", s["alloc_calls"] >= 2000000, s)
    jumps = int(traced[1].split("jumps ")[1]) if "jumps " in traced[1] else 0
    # A jump that landed while the shim held the guard lost that event:
    # the trace says so rather than claiming nothing was dropped.
    check("longjmp_trace_does_not_claim_nothing_was_missed", jumps == 0 or s["events_dropped"] > 0,
          (jumps, s))

done()
