# SPDX-License-Identifier: MIT
"""Real programs from Debian under heldby: same output and exit status as
without it, and a peak that matches what the test made them hold."""
import os
from harness import check, describe, done, run_native, run_traced, skip

MiB = 1 << 20


def same_result(name, argv, env=None):
    native = run_native(argv, env=env)
    t = run_traced(argv, env=env)
    check(f"{name}_output_and_status_unchanged",
          t.proc.returncode == native.returncode and t.proc.stdout == native.stdout,
          f"native {native.returncode}: {native.stdout[:200]!r}\nheldby {t.proc.returncode}: "
          f"{t.proc.stdout[:200]!r}\n{t.proc.stderr.decode(errors='replace')[:2000]}")
    check(f"{name}_writes_a_trace", t.trace is not None, t.proc.stderr)
    return t


# python3 with PYTHONMALLOC=malloc holds a 64 MiB bytearray, then a list of
# 20000 1 KiB bytes objects; it prints before it drops them.
py = "/usr/bin/python3"
if os.path.exists(py):
    script = ("b = bytearray(64 * 1024 * 1024)\n"
              "del b\n"
              "xs = [bytes(1024) for _ in range(20000)]\n"
              "print(len(xs))\n")
    t = same_result("python3", [py, "-c", script], env={"PYTHONMALLOC": "malloc"})
    if t.trace:
        s = t.report["summary"]
        check("python3_peak_covers_the_bytearray", 64 * MiB <= s["peak_bytes"] < 64 * MiB + 48 * MiB, s)
        top = t.report["peak_holders"][0]
        check("python3_top_holder_is_the_bytearray", 64 * MiB <= top["bytes"] < 65 * MiB,
              describe(t.report["peak_holders"]))
        check("python3_trace_complete", s["complete"] is True, s)
else:
    skip("python3", "no /usr/bin/python3")

# perl builds a 50 MB string.
perl = "/usr/bin/perl"
if os.path.exists(perl):
    t = same_result("perl", [perl, "-e", 'my $s = "x" x 50_000_000; print length($s), "\\n";'])
    if t.trace:
        s = t.report["summary"]
        check("perl_peak_covers_the_string", 50_000_000 <= s["peak_bytes"] < 50_000_000 + 60 * MiB, s)
        check("perl_top_holder_holds_the_string", t.report["peak_holders"][0]["bytes"] >= 50_000_000,
              describe(t.report["peak_holders"]))
else:
    skip("perl", "no /usr/bin/perl")

# sort reads a generated file: output must be byte-identical.
sort = "/usr/bin/sort"
if os.path.exists(sort):
    import tempfile
    d = tempfile.mkdtemp(prefix="heldby-sort-")
    path = os.path.join(d, "in.txt")
    with open(path, "w") as f:
        for i in range(200000):
            f.write(f"{(i * 7919) % 200003:07d} line {i}\n")
    t = same_result("sort", [sort, path])
    if t.trace:
        s = t.report["summary"]
        check("sort_peak_at_least_the_input_size", s["peak_bytes"] >= os.path.getsize(path) // 2, s)
done()
