# SPDX-License-Identifier: MIT
"""Programs LD_PRELOAD cannot trace: a static binary, and one that brings its
own malloc (as with a statically linked tcmalloc or jemalloc). `heldby run`
says so in one line instead of showing an empty report, still runs the
program to the end, and exits with its status."""
import os
import tempfile
from harness import BUILD_ROOT, check, done, run_native, run_traced, skip, victim

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")

cases = [("own_malloc", "own malloc", 3), ("static_victim", "statically linked", 5)]
for name, says, status in cases:
    if not os.path.exists(victim(name)):
        for what in ("runs_intact", "says_why_in_one_line", "writes_no_trace_or_summary"):
            skip(f"{name}_{what}", "victim not built (static linking needs libc6-dev's libc.a)")
        continue
    native = run_native([victim(name)])
    t = run_traced([victim(name)])
    err = t.proc.stderr.decode(errors="replace")
    lines = [ln for ln in err.splitlines() if ln.startswith("heldby:")]
    check(f"{name}_runs_intact", native.returncode == status and t.proc.returncode == status
          and t.proc.stdout == native.stdout, (native.returncode, t.proc.returncode, err))
    check(f"{name}_says_why_in_one_line", len(lines) == 1 and says in lines[0]
          and "without recording" in lines[0], lines)
    check(f"{name}_writes_no_trace_or_summary", t.trace is None and "peak" not in err,
          (t.trace, err))

# Through LD_PRELOAD alone, the shim notices a malloc that is not its own.
out = os.path.join(tempfile.mkdtemp(prefix="heldby-untraceable-"), "own.%p.hbt")
p = run_native([victim("own_malloc")], env={"LD_PRELOAD": SHIM, "HELDBY_OUTPUT": out})
err = p.stderr.decode(errors="replace")
check("shim_warns_when_malloc_is_not_its_own", p.returncode == 3 and "malloc is not ours" in err, err)

# A script is not judged by its file: its interpreter is traced as usual.
t = run_traced(["/bin/sh", "-c", "exit 4"])
check("script_interpreter_still_traced", t.proc.returncode == 4 and t.trace is not None, t.proc.stderr)
done()
