# SPDX-License-Identifier: MIT
"""The clang and sanitizer gate, in a build folder of its own: the whole
project compiled by clang with -Werror (one TAP line), then the unit tests
under ASan and UBSan with the internal assertions on (shim/hb_assert.h),
each of their checks a TAP line of this test (all but api_peak's, whose
allocations ASan's malloc takes before heldby's can see them). A UBSan finding stops the
program (-fno-sanitize-recover, halt_on_error), so it fails its test.

    sanitize.py SOURCE_ROOT BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys

_n = 0
_failed = 0


def tap(ok, name, detail=""):
    global _n, _failed
    _n += 1
    _failed += not ok
    print(f"{'ok' if ok else 'not ok'} {_n} - {name}")
    for line in str(detail).splitlines()[-30:]:
        print(f"#   {line}")
    sys.stdout.flush()


def finish():
    print(f"1..{_n}")
    sys.exit(1 if _failed else 0)


def targets(bld):
    """Every object, library and program of the build but those linked
    -static (ASan has no static runtime): the whole project compiled."""
    out, static, cur = [], set(), None
    with open(os.path.join(bld, "build.ninja")) as f:
        for line in f:
            if line.startswith("build "):
                head = line[6:].split(":", 1)
                rule = head[1].split()[0] if len(head) > 1 and head[1].split() else ""
                cur = head[0].strip() if rule.endswith(("_COMPILER", "_LINKER", "STATIC_LINKER")) else None
                if cur:
                    out.append(cur)
            elif cur and line.startswith(" LINK_ARGS =") and "-static" in line.split():
                static.add(cur)
    return [t.replace("$ ", " ") for t in out if t not in static]


def main():
    src, bld = sys.argv[1], sys.argv[2]
    if not (shutil.which("clang") and shutil.which("clang++")):
        print("ok 1 - clang_builds_the_project # SKIP clang is not installed (.ci/install-deps)")
        print("1..1")
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESON", "NINJA"))}
    env.update(CC="clang", CXX="clang++")
    if not os.path.exists(os.path.join(bld, "build.ninja")):
        nr = "-fno-sanitize-recover=undefined"
        r = subprocess.run(["meson", "setup", bld, src, "-Db_sanitize=address,undefined",
                            "-Db_lundef=false", "-Dassertions=enabled", f"-Dc_args={nr}",
                            f"-Dcpp_args={nr}"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(bld, ignore_errors=True)
            tap(False, "clang_configures_the_project", r.stdout + r.stderr)
            finish()
    r = subprocess.run(["ninja", "-C", bld] + targets(bld), env=env, capture_output=True, text=True)
    tap(r.returncode == 0, "clang_builds_the_project_with_werror",
        "\n".join(l for l in (r.stdout + r.stderr).splitlines() if "error" in l or "FAILED" in l))
    if r.returncode != 0:
        finish()
    # halt_on_error: a UBSan report ends the program, and so fails its test.
    env["UBSAN_OPTIONS"] = "halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    env["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=1"
    # Not the api_peak tests: under ASan the program's malloc is ASan's,
    # which comes first, so heldby sees none of it (by design, not a bug).
    listed = subprocess.run(["meson", "test", "-C", bld, "--no-rebuild", "--list", "--suite", "unit"],
                            env=env, capture_output=True, text=True).stdout.splitlines()
    names = [l.split(" / ", 1)[1] for l in listed if " / " in l]
    names = [t for t in names if not t.startswith("api_peak")]
    subprocess.run(["meson", "test", "-C", bld, "--no-rebuild", "--num-processes", "1",
                    "--print-errorlogs"] + names, env=env, capture_output=True, text=True, timeout=1200)
    log = os.path.join(bld, "meson-logs", "testlog.json")
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            name, out = t["name"], t.get("stdout") or ""
            checks = [l for l in out.splitlines() if l.startswith(("ok ", "not ok "))]
            for c in checks:
                ok = c.startswith("ok ")
                desc = c.split(" - ", 1)[1] if " - " in c else c
                if "# SKIP" in c:
                    print(f"ok {_n + 1} - sanitize {name}: {desc}")
                    globals()["_n"] += 1
                    continue
                tap(ok, f"sanitize {name}: {desc}", "" if ok else out[-3000:])
            if t["result"] not in ("OK", "SKIP") and not any(c.startswith("not ok") for c in checks):
                tap(False, f"sanitize {name}: {t['result']} after {len(checks)} checks",
                    (t.get("stderr") or out)[-3000:])
            elif not checks and t["result"] == "OK":
                tap(True, f"sanitize {name}")
    finish()


main()
