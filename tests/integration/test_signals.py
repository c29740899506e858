# SPDX-License-Identifier: MIT
"""The shim's crash handler (issue 19, items 8 and 10): a stack overflow keeps
the trace, on a stack of the shim's own or of the program's, and the handler
stays out of the program's sight, so that a program does under heldby what it
does without: the dispositions and alternate stacks it queries, the old actions
it is handed back, and Rust's stack-overflow guard with its message and
SIGABRT (tests/victims/overflow.c, tests/victims/rust_overflow.rs)."""
import difflib
import os
import re
import signal
from harness import BUILD_ROOT, check, describe, done, holder_with, run_native, run_traced, skip, victim

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")
MiB = 1 << 20


def kept_in_trace(t, function, nbytes):
    """Whether the trace is there, cut short, and holds nbytes from function."""
    if t.trace is None:
        return False, "no trace"
    r = t.report
    e = holder_with(r["leaks"], function)
    ok = e is not None and e["bytes"] == nbytes and r["summary"]["complete"] is False
    return ok, (r["summary"], describe(r["leaks"]))


def out(p):
    return p.stdout.decode(errors="replace")


# ---- C: overflows, on the shim's stack or the program's ----
# plain, thread: no stack of the program's; own-altstack: the program puts one
# in place of the shim's, with a SIGSEGV handler that resets the default
# action; thread-own-altstack: the thread's stack is in place before its first
# event and must stay; reset-then-crash: no overflow, a handler set and reset
# to SIG_DFL with signal(), then a fault.
for mode in ("plain", "thread", "own-altstack", "thread-own-altstack", "reset-then-crash"):
    argv = [victim("overflow"), mode]
    native = run_native(argv)
    t = run_traced(argv)
    ok, detail = kept_in_trace(t, "keep_before_overflow", 5 * MiB)
    check(f"overflow_{mode}_dies_as_without_heldby_and_the_trace_keeps_its_5MiB",
          ok and native.returncode == -signal.SIGSEGV == t.proc.returncode and t.proc.stdout == native.stdout,
          (native.returncode, t.proc.returncode, out(native), out(t.proc), detail, t.proc.stderr[-1500:]))

# ---- C: what sigaction, signal, sysv_signal, bsd_signal, sigset and
# sigaltstack say, against the same program without heldby ----
argv = [victim("overflow"), "dispositions"]
native = run_native(argv)
t = run_traced(argv)
preloaded = run_native(argv, env={"LD_PRELOAD": SHIM, "HELDBY_OUTPUT": os.path.join(t.workdir, "p.%p.hbt")})
nat, traced, pre = (out(p).splitlines() for p in (native, t.proc, preloaded))
diff = list(difflib.unified_diff(nat, traced, "without heldby", "heldby run", lineterm="")) + \
    list(difflib.unified_diff(nat, pre, "without heldby", "LD_PRELOAD", lineterm=""))
check("dispositions_every_answer_as_without_heldby", native.returncode == 0 == t.proc.returncode ==
      preloaded.returncode and len(nat) == 22 and not diff,
      "\n".join(diff) or (native.returncode, t.proc.returncode, preloaded.returncode, nat))

# ---- C: the stacks of threads that exit go with them ----
argv = [victim("overflow"), "threads", "300"]
native = run_native(argv)
t = run_traced(argv)
m_nat = re.search(rb"guard mappings grew by (-?\d+)", native.stdout)
m_t = re.search(rb"guard mappings grew by (-?\d+)", t.proc.stdout)
# a stack left behind would be a guard page more a thread
check("threads_300_exited_threads_leave_no_stacks", m_nat and m_t and t.proc.returncode == 0
      and int(m_t.group(1)) <= int(m_nat.group(1)) + 16,
      (out(native), out(t.proc), t.proc.stderr[-1000:]))

# ---- Rust: its stack-overflow guard, set up only over SIG_DFL ----
RUST_CHECKS = ["rust_allocations_and_dispositions_as_without_heldby"] + [
    f"rust_{how}_{what}" for how in ("overflow", "overflow_thread")
    for what in ("message_and_sigabrt_as_without_heldby", "trace_keeps_the_3MiB_from_before")]
if not os.path.exists(victim("rust_overflow")):
    for name in RUST_CHECKS:
        skip(name, "rust_overflow not built: rustc was not found when the build was configured "
                   "(Debian: apt install rustc)")
else:
    argv = [victim("rust_overflow"), "dispositions"]
    native = run_native(argv)
    t = run_traced(argv)
    check("rust_allocations_and_dispositions_as_without_heldby",
          native.returncode == 0 == t.proc.returncode and t.proc.stdout == native.stdout,
          "without heldby:\n" + out(native) + "heldby run:\n" + out(t.proc) + t.proc.stderr.decode()[-1000:])
    for how, thread in (("overflow", "main"), ("overflow-thread", "worker")):
        argv = [victim("rust_overflow"), how]
        native = run_native(argv)
        t = run_traced(argv)
        # Rust 1.63 says "thread 'main' has overflowed its stack", later ones
        # add the thread's id
        said = re.compile(rf"thread '{thread}'( \(\d+\))? has overflowed its stack".encode())
        name = how.replace("-", "_")
        check(f"rust_{name}_message_and_sigabrt_as_without_heldby",
              native.returncode == -signal.SIGABRT == t.proc.returncode and said.search(native.stderr)
              and said.search(t.proc.stderr) and t.proc.stdout == native.stdout,
              (native.returncode, t.proc.returncode, native.stderr[-500:], t.proc.stderr[-1500:]))
        ok, detail = kept_in_trace(t, "keep_before_overflow", 3 * MiB)
        check(f"rust_{name}_trace_keeps_the_3MiB_from_before", ok, detail)
done()
