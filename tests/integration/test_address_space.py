# SPDX-License-Identifier: MIT
"""What the program sees of the shim's own memory (issue 19, items 12 and
14): under a limit of address space it can allocate about as much as
natively, since the shim's threads take no malloc arena of glibc's and small
stacks, and mallinfo2 counts the program's blocks, not the shim's."""
import os
import resource
import subprocess
import tempfile
from harness import HELDBY, check, done, report_json, victim

PROG = victim("address_hog")
LIMIT = 300 << 20
# docs/lifecycle.md states the shim's cost: about 32 MiB for a program of
# one or two threads. Two glibc arenas (64 MiB each) must not fit in it.
COST_MIB = 48


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(args, heldby, limit):
    d = tempfile.mkdtemp(prefix="heldby-as-")
    trace = os.path.join(d, "t.hbt")
    cmd = ([HELDBY, "run", "-o", trace, "--"] if heldby else []) + [PROG] + args
    # the limit is inherited: heldby run's own process is small
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       preexec_fn=limited if limit else None)
    return p, trace


native, _ = run(["hog"], False, True)
traced, trace = run(["hog"], True, True)
n_native = int(native.stdout.split()[0]) if native.returncode == 0 else -1
n_traced = int(traced.stdout.split()[0]) if traced.returncode == 0 and traced.stdout else -1
check("hog_runs_natively", n_native > 200, native)
check("hog_gets_nearly_as_much_memory", n_traced >= n_native - COST_MIB,
      f"natively {n_native} MiB, under heldby {n_traced} MiB; stderr {traced.stderr[-300:]}")
if os.path.exists(trace):
    s = report_json(trace)["summary"]
    check("hog_trace_complete", s["complete"] is True, s)
    # every 1 MiB block the program got, and the realloc'd array of them
    check("hog_trace_has_every_block", s["peak_bytes"] >= n_traced << 20, (s, n_traced))
else:
    check("hog_trace_written", False, traced.stderr)

native, _ = run(["mallinfo"], False, False)
traced, _ = run(["mallinfo"], True, False)
mi_n = [int(x) for x in native.stdout.split()]
mi_t = [int(x) for x in traced.stdout.split()] if traced.returncode == 0 else [0, 0, 0]
check("mallinfo_arena_as_natively", abs(mi_t[0] - mi_n[0]) <= 64 << 10, (mi_n, mi_t))
check("mallinfo_in_use_as_natively", abs(mi_t[1] - mi_n[1]) <= 16 << 10, (mi_n, mi_t))
check("mallinfo_mapped_as_natively", mi_t[2] == mi_n[2], (mi_n, mi_t))
done()
