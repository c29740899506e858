# SPDX-License-Identifier: MIT
"""The format gate: every C and C++ file of the tree as the checked-in
.clang-format wants it (clang-format --dry-run -Werror), one TAP line per
file. The files are git's (tracked, or new and not ignored) where the source
is a git checkout, so that bench/work and other ignored output stay out;
otherwise every file under the folders below.

    format.py SOURCE_ROOT CLANG_FORMAT
"""
import os
import subprocess
import sys

DIRS = ("shim", "tools", "include", "tests", "examples", "bench")
EXTS = (".c", ".h", ".cpp")


def sources(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "--"] + list(DIRS),
                             capture_output=True, check=True, timeout=60).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = [os.path.relpath(os.path.join(d, f), root)
                 for top in DIRS for d, _, fs in os.walk(os.path.join(root, top)) for f in fs]
    return sorted(f for f in set(files) if f.endswith(EXTS) and os.path.isfile(os.path.join(root, f)))


def main():
    root, clang_format = sys.argv[1], sys.argv[2]
    files = sources(root)
    # One process for all: it names each file that differs in its errors.
    r = subprocess.run([clang_format, "--dry-run", "-Werror", "--style=file"] + files,
                       cwd=root, capture_output=True, text=True, timeout=300)
    errors = {}
    for line in r.stderr.splitlines():
        path = line.split(":", 1)[0]
        if path in files and ": error: " in line:
            errors.setdefault(path, []).append(line)
    if r.returncode != 0 and not errors:
        print("not ok 1 - clang_format_runs")
        for line in r.stderr.splitlines()[:20]:
            print(f"#   {line}")
        print("1..1")
        return 1
    for n, f in enumerate(files, 1):
        if f in errors:
            print(f"not ok {n} - formatted_{f}")
            print(f"#   {len(errors[f])} places differ; fix: clang-format -i {f}")
            for line in errors[f][:5]:
                print(f"#   {line}")
        else:
            print(f"ok {n} - formatted_{f}")
    print(f"1..{len(files)}")
    return 1 if errors else 0


sys.exit(main())
