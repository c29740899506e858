# SPDX-License-Identifier: MIT
"""Programs LD_PRELOAD cannot trace: a static binary, one that brings its own
malloc (as with a statically linked tcmalloc or jemalloc), a set-user-ID one. `heldby run`
says so in one line instead of showing an empty report, still runs the
program to the end, and exits with its status."""
import os
import pwd
import shutil
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

# A set-user-ID program run by someone else: the loader drops LD_PRELOAD.
try:
    nobody = pwd.getpwnam("nobody").pw_uid
except KeyError:
    nobody = None
if os.geteuid() != 0 or nobody is None:
    skip("setuid_program_runs_untraced_with_one_line", "needs root and a user 'nobody'")
else:
    d = tempfile.mkdtemp(prefix="heldby-setuid-")
    os.chmod(d, 0o755)
    prog = os.path.join(d, "known_peak")
    shutil.copy(victim("known_peak"), prog)
    os.chown(prog, nobody, -1)
    os.chmod(prog, 0o4755)
    native = run_native([prog])
    t = run_traced([prog])
    err = t.proc.stderr.decode(errors="replace")
    lines = [ln for ln in err.splitlines() if ln.startswith("heldby:")]
    if native.returncode == 0 and os.stat(prog).st_mode & 0o4000 and \
            os.statvfs(d).f_flag & os.ST_NOSUID == 0:
        check("setuid_program_runs_untraced_with_one_line", t.proc.returncode == 0
              and t.proc.stdout == native.stdout and len(lines) == 1 and "set-user-ID" in lines[0]
              and t.trace is None, (lines, t.trace))
    else:
        skip("setuid_program_runs_untraced_with_one_line", "temporary folder is mounted nosuid")

# Through LD_PRELOAD alone, the shim notices a malloc that is not its own.
out = os.path.join(tempfile.mkdtemp(prefix="heldby-untraceable-"), "own.%p.hbt")
p = run_native([victim("own_malloc")], env={"LD_PRELOAD": SHIM, "HELDBY_OUTPUT": out})
err = p.stderr.decode(errors="replace")
check("shim_warns_when_malloc_is_not_its_own", p.returncode == 3 and "malloc is not ours" in err, err)

# A script is not judged by its file: its interpreter is traced as usual.
t = run_traced(["/bin/sh", "-c", "exit 4"])
check("script_interpreter_still_traced", t.proc.returncode == 4 and t.trace is not None, t.proc.stderr)
done()
