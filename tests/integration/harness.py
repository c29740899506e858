# SPDX-License-Identifier: MIT
"""Shared helpers for the integration tests: run a program under `heldby run`,
read its report, and print TAP so every check is counted on its own.

The test runner (meson) passes HELDBY (the tool), BUILD_ROOT and SOURCE_ROOT in
the environment.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HELDBY = os.environ.get("HELDBY", "heldby")
BUILD_ROOT = os.environ.get("BUILD_ROOT", ".")
SOURCE_ROOT = os.environ.get("SOURCE_ROOT", ".")

_count = 0
_failed = 0


def victim(name):
    return os.path.join(BUILD_ROOT, "tests", "victims", name)


def check(name, ok, detail=""):
    """One TAP line per behaviour checked."""
    global _count, _failed
    _count += 1
    if ok:
        print(f"ok {_count} - {name}")
    else:
        _failed += 1
        print(f"not ok {_count} - {name}")
        for line in str(detail).splitlines()[:40]:
            print(f"#   {line}")
    sys.stdout.flush()
    return ok


def skip(name, why):
    global _count
    _count += 1
    print(f"ok {_count} - {name} # SKIP {why}")


def done():
    print(f"1..{_count}")
    sys.exit(1 if _failed else 0)


class Traced:
    """A finished `heldby run`: the process result and its trace."""

    def __init__(self, proc, trace, workdir):
        self.proc = proc
        self.trace = trace
        self.workdir = workdir
        self._json = None

    @property
    def report(self):
        if self._json is None:
            self._json = report_json(self.trace)
        return self._json


def run_traced(argv, env=None, timeout=300, cwd=None, stdin=None):
    """Runs argv under `heldby run` with a private output folder."""
    workdir = tempfile.mkdtemp(prefix="heldby-test-")
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([HELDBY, "run", "-o", os.path.join(workdir, "t.%p.hbt"), "--"] + list(argv),
                          env=full_env, capture_output=True, timeout=timeout, cwd=cwd, stdin=stdin)
    traces = sorted(glob.glob(os.path.join(workdir, "t.*.hbt*")))
    return Traced(proc, traces[0] if traces else None, workdir)


def run_native(argv, env=None, timeout=300, cwd=None, stdin=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(list(argv), env=full_env, capture_output=True, timeout=timeout, cwd=cwd,
                          stdin=stdin)


def report_json(trace):
    r = subprocess.run([HELDBY, "report", "--json", trace], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"heldby report --json failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout)


def report_text(trace, *args):
    r = subprocess.run([HELDBY, "report"] + list(args) + [trace], capture_output=True, text=True,
                       timeout=300)
    return r


def functions(entry):
    """The function names of one holder's stack, innermost first."""
    return [f.get("function") or "" for f in entry.get("stack", [])]


def holder_with(entries, function):
    """The largest entry whose stack has a frame in `function`."""
    for e in entries:
        if any(function in fn for fn in functions(e)):
            return e
    return None


def describe(entries, n=5):
    out = []
    for e in entries[:n]:
        out.append(f"{e['bytes']} B in {e['blocks']} blocks: " + " <- ".join(functions(e)[:8]))
    return "\n".join(out) or "(none)"
