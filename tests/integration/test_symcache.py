# SPDX-License-Identifier: MIT
"""The symbol cache on disk (tools/symcache.c) only ever saves time: a report
read from it is the report libdw gives, also after the module lost its debug
information, after it was removed, and when the cache file is damaged."""
import os
import shutil
import stat
import subprocess
import tempfile
from harness import BUILD_ROOT, HELDBY, check, done, run_traced, victim

work = tempfile.mkdtemp(prefix="heldby-symcache-")
cache_home = os.path.join(work, "cache")
cache_dir = os.path.join(cache_home, "heldby", "symbols")
plugin = os.path.join(work, "libvictim_plugin.so")
shutil.copy(os.path.join(BUILD_ROOT, "tests", "victims", "libvictim_plugin.so"), plugin)


def report(trace, *args, cache=True):
    env = dict(os.environ, XDG_CACHE_HOME=cache_home)
    if not cache:
        env["HELDBY_SYMBOL_CACHE"] = "off"
    return subprocess.run([HELDBY, "report"] + list(args) + [trace], env=env,
                          capture_output=True, text=True, timeout=300)


def plugin_frame(text):
    """The JSON line's frame in plugin_make_cache, as printed."""
    for line in text.splitlines():
        if '"function": "plugin_make_cache"' in line:
            return line.strip()
    return None


def cache_files():
    return sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []


# The plugin is dlopen'ed, allocates, and is dlclose'd before the exit.
t = run_traced([victim("dlopen_host"), plugin], env={"HELDBY_SYMBOL_CACHE": "off"})
check("symcache_program_ran", t.proc.returncode == 0 and t.trace is not None, t.proc.stderr)
if t.trace:
    off = report(t.trace, "--json", cache=False)
    check("symcache_off_writes_nothing", off.returncode == 0 and not cache_files(), cache_files())

    cold = report(t.trace, "--json")
    files = cache_files()
    check("symcache_written_by_build_id",
          cold.returncode == 0 and any(len(f) >= 40 and all(c in "0123456789abcdef" for c in f)
                                       for f in files), files)
    modes = {f: stat.S_IMODE(os.stat(os.path.join(cache_dir, f)).st_mode) for f in files}
    check("symcache_files_private", files and all(m == 0o600 for m in modes.values())
          and stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700, modes)
    warm = report(t.trace, "--json")
    frame = plugin_frame(warm.stdout)
    check("symcache_warm_report_same_as_libdw",
          warm.returncode == 0 and warm.stdout == off.stdout == cold.stdout
          and frame is not None and '"line": 0' not in frame and "plugin.c" in frame, frame)
    text_off, text_warm = report(t.trace, cache=False), report(t.trace)
    check("symcache_warm_text_same_as_libdw", text_warm.stdout == text_off.stdout,
          text_warm.stdout[-2000:])

    # Stripped of its DWARF the copy keeps its build-id: the cache must not
    # give back file and line that libdw can no longer find.
    subprocess.run(["strip", "-g", plugin], check=True)
    off = report(t.trace, "--json", cache=False)
    warm = report(t.trace, "--json")
    frame = plugin_frame(warm.stdout)
    check("symcache_stripped_module_still_names_frames",
          warm.stdout == off.stdout and frame is not None and '"file": null' in frame, frame)

    # A damaged cache file is ignored, whatever is in it.
    for f in cache_files():
        with open(os.path.join(cache_dir, f), "r+b") as fh:
            data = fh.read()
            fh.seek(0)
            fh.write(data[: len(data) // 2] + b"\n-1 99999999\n\0garbage")
            fh.truncate()
    warm = report(t.trace, "--json")
    check("symcache_damaged_file_ignored", warm.returncode == 0 and warm.stdout == off.stdout,
          warm.stderr)

    # The module gone: no names from the cache either.
    os.unlink(plugin)
    off = report(t.trace, "--json", cache=False)
    warm = report(t.trace, "--json")
    check("symcache_missing_module_same_as_libdw",
          warm.returncode == 0 and warm.stdout == off.stdout and plugin_frame(warm.stdout) is None,
          plugin_frame(warm.stdout))
shutil.rmtree(work, ignore_errors=True)
done()
