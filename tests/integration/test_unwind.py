# SPDX-License-Identifier: MIT
"""The fast unwinder (shim/unwind.c) against libunwind. HELDBY_UNWIND=check
walks every stack both ways and counts disagreements: none is allowed, on
victims built to trip a remembering unwinder and on real programs with deep
stacks. The default (fast) and HELDBY_UNWIND=libunwind must also give the
same report, and the tricky stacks must name the right callers."""
import os
import re
import shutil
import subprocess
import tempfile
from harness import HELDBY, SOURCE_ROOT, check, describe, done, functions, report_json, victim


def run(argv, unwind, env=None):
    workdir = tempfile.mkdtemp(prefix="heldby-unw-")
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["HELDBY_UNWIND"] = unwind
    proc = subprocess.run([HELDBY, "run", "--follow", "-o", os.path.join(workdir, "t.%p.hbt"), "--"]
                          + list(argv), env=full_env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=workdir)
    traces = sorted(os.path.join(workdir, f) for f in os.listdir(workdir) if ".hbt" in f)
    return proc, traces, workdir


def unwind_counts(stderr):
    """(stacks, left to libunwind, different), summed over every process."""
    tot = [0, 0, 0]
    for m in re.finditer(r"unwind check: (\d+) stacks, (\d+) left to libunwind, (\d+) different", stderr):
        for i in range(3):
            tot[i] += int(m.group(i + 1))
    return tuple(tot)


def line_of(path, text):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    return None


def leak_key(e):
    return (e["bytes"], e["blocks"], tuple((f.get("function"), f.get("line")) for f in e["stack"]))


SHAPES_SRC = os.path.join(SOURCE_ROOT, "tests", "victims", "stack_shapes.c")

# Checked: both unwinders on every stack of the tricky victim.
proc, traces, workdir = run([victim("stack_shapes")], "check")
stacks, fallback, differ = unwind_counts(proc.stderr)
check("shapes_ran", proc.returncode == 0 and stacks >= 60016, proc.stderr)
check("shapes_unwinders_agree", differ == 0, proc.stderr)
# The coroutine stack and the sigaltstack handler are libunwind's, and so
# is every stack through an address whose rule the writer thread has not
# looked up yet (a walk never calls libdw itself: it may run in a signal
# handler that interrupted malloc); the rest is the fast one's.
check("shapes_fast_unwinder_used", stacks and fallback * 2 <= stacks, proc.stderr)
shutil.rmtree(workdir, ignore_errors=True)

# The default (fast) run must name the right caller of each block.
proc, traces, workdir = run([victim("stack_shapes")], "fast")
if check("shapes_fast_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
    fast = report_json(traces[0])["leaks"]
    line_a = line_of(SHAPES_SRC, "via_a(100);")
    line_b = line_of(SHAPES_SRC, "via_b(200);")

    def held_from_main_line(line):
        return sum(e["bytes"] for e in fast
                   if any(f.get("function") == "main" and f.get("line") == line for f in e["stack"])
                   and functions(e)[0] == "leaf")
    check("shapes_caller_a_named", held_from_main_line(line_a) == 20000 * 100, (line_a, fast[:4]))
    check("shapes_caller_b_named", held_from_main_line(line_b) == 20000 * 200, (line_b, fast[:4]))
    alloca = sum(e["bytes"] for e in fast if functions(e)[0].startswith("with_alloca"))
    check("shapes_frame_pointer_frames", alloca == 20000 * 50, alloca)
    depths = {sum(1 for fn in functions(e) if fn.startswith("with_alloca"))
              for e in fast if functions(e)[0].startswith("with_alloca")}
    check("shapes_recursion_depths_kept", depths == set(range(1, 14)), depths)
    handler = [e for e in fast if functions(e)[0] == "in_handler"]
    check("shapes_signal_handler_frames", len(handler) == 1 and handler[0]["bytes"] == 8 * 5000
          and "main" in functions(handler[0]), handler)
    co = [e for e in fast if functions(e)[0] == "on_heap_stack"]
    check("shapes_coroutine_frames", len(co) == 1 and co[0]["bytes"] == 8 * 3000, co)

    # libunwind alone: the same report.
    proc2, traces2, workdir2 = run([victim("stack_shapes")], "libunwind")
    if check("shapes_libunwind_ran", proc2.returncode == 0 and len(traces2) == 1, proc2.stderr):
        slow = report_json(traces2[0])["leaks"]
        check("shapes_same_report_both_ways",
              sorted(map(leak_key, fast)) == sorted(map(leak_key, slow)),
              (fast[:3], slow[:3]))
    shutil.rmtree(workdir2, ignore_errors=True)
shutil.rmtree(workdir, ignore_errors=True)

# The largest events: whole stacks of 256 frames, every one different from
# the one before, through a thread's ring many times over its first size.
proc, traces, workdir = run([victim("stack_shapes"), "deep"], "fast", env={"HELDBY_DEPTH": "256"})
if check("deep_stacks_ran", proc.returncode == 0 and len(traces) == 1, proc.stderr):
    r = report_json(traces[0])
    s = r["summary"]
    check("deep_stacks_trace_complete", s["complete"] is True and s["events_dropped"] == 0, s)
    deep = [e for e in r["leaks"] if functions(e)[0] == "keep_small"]
    check("deep_stacks_all_blocks", sum(e["bytes"] for e in deep) == 2000 * 8
          and sum(e["blocks"] for e in deep) == 2000, describe(deep))
    # a frame each return address; deep_step is inlined into both
    def called(e):
        return [f.get("function") for f in e["stack"] if not f.get("inlined")]
    check("deep_stacks_cut_at_256_frames", len(deep) == 2 and all(
        len(called(e)) == 256 and set(called(e)[1:]) == {"deep_a", "deep_b"} for e in deep),
        [(len(called(e)), called(e)[:4]) for e in deep])
shutil.rmtree(workdir, ignore_errors=True)

# A library replaced on disk while loaded (a package upgrade under a running
# service): the new file's rules must not be used for the old code.
workdir = tempfile.mkdtemp(prefix="heldby-unw-")
lib = os.path.join(workdir, "libplugin.so")
newer = os.path.join(workdir, "libplugin.new.so")
shutil.copy(victim("libvictim_plugin.so"), lib)
shutil.copy(victim("libvictim_plugin_o0.so"), newer)
p, traces, wd = run([victim("dlopen_host"), lib, newer], "check")
stacks, fallback, differ = unwind_counts(p.stderr)
if check("replaced_library_ran", p.returncode == 0 and len(traces) == 1 and not os.path.exists(newer),
         p.stderr):
    check("replaced_library_unwinders_agree", differ == 0, (stacks, fallback, differ))
    leaks = report_json(traces[0])["leaks"]
    # The frame is the plugin's and its caller is main; the report cannot
    # name the function, as the file with its symbols is gone.
    check("replaced_library_frames_right",
          any(e["bytes"] == 8 << 20 and e["stack"][0]["module"] == lib
              and functions(e)[1:2] == ["main"] for e in leaks), leaks[:1])
shutil.rmtree(wd, ignore_errors=True)
shutil.rmtree(workdir, ignore_errors=True)

# Deep and varied stacks of real programs, threads, dlclose, signals.
PROGRAMS = [
    ("python_json", ["/usr/bin/python3", "-c",
                     "import json\n"
                     "def nest(d): return d if d == 0 else [nest(d - 1), {'k': str(d)}]\n"
                     "for i in range(300): json.loads(json.dumps(nest(40)))"],
     {"PYTHONMALLOC": "malloc"}),
    ("perl", ["/usr/bin/perl", "-e", "my @a = map { [$_, {k => $_}] } 1 .. 50000; print scalar(@a), qq(\\n)"],
     None),
    # 20 bitmaps: the churning thread's first stacks, until the writer has
    # read its first rules, are libunwind's (5,000 to 11,000 of them here),
    # and with 6 a loaded machine let it make only 16,772 stacks in all.
    ("cxx_bitmaps", [victim("cxx_bitmaps"), "20"], None),
    ("xthread_reuse", [victim("xthread_reuse"), "4"], None),
    ("signal_alloc", [victim("signal_alloc"), "5000"], None),
    ("dlopen_loop", [victim("dlopen_loop"), victim("libvictim_plugin.so")], None),
]
if shutil.which("g++"):
    PROGRAMS.append(("gxx", ["g++", "-O2", "-x", "c++", "-c", "-o", "/dev/null", "-"], None))

for name, argv, env in PROGRAMS:
    if name == "gxx":
        src = "#include <map>\n#include <string>\nstd::map<std::string,int> m;\nint f(){return m[\"a\"];}\n"
        workdir = tempfile.mkdtemp(prefix="heldby-unw-")
        full_env = dict(os.environ, HELDBY_UNWIND="check")
        p = subprocess.run([HELDBY, "run", "--follow", "-o", os.path.join(workdir, "t.%p.hbt"), "--"]
                           + argv, env=full_env, input=src, capture_output=True, text=True, timeout=300)
    else:
        p, traces, workdir = run(argv, "check", env)
    stacks, fallback, differ = unwind_counts(p.stderr)
    if check(f"{name}_ran", p.returncode == 0 and stacks > 0, p.stderr[-2000:]):
        check(f"{name}_unwinders_agree", differ == 0, (stacks, fallback, differ))
        # Through a signal frame it is libunwind's turn, and after each
        # dlclose every rule is looked up again: not counted there. The
        # first stacks through new code are libunwind's too (see above).
        if name not in ("signal_alloc", "dlopen_loop"):
            check(f"{name}_fast_unwinder_used", fallback * 2 <= stacks, (stacks, fallback, differ))
    shutil.rmtree(workdir, ignore_errors=True)
done()
