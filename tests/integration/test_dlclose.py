# SPDX-License-Identifier: MIT
"""Memory allocated in a dlopen'ed library that is then dlclose'd is still
reported under the library's function."""
import os
from harness import BUILD_ROOT, check, describe, done, holder_with, run_traced, victim

plugin = os.path.abspath(os.path.join(BUILD_ROOT, "tests", "victims", "libvictim_plugin.so"))
t = run_traced([victim("dlopen_host"), plugin])
check("dlclose_program_ran", t.proc.returncode == 0 and b"cache kept" in t.proc.stdout, t.proc.stderr)
if t.trace:
    r = t.report
    leak = holder_with(r["leaks"], "plugin_make_cache")
    check("dlclose_plugin_function_named_in_leaks", leak is not None and leak["bytes"] == 8 << 20,
          describe(r["leaks"]))
    if leak:
        frame = next(f for f in leak["stack"] if "plugin_make_cache" in (f.get("function") or ""))
        check("dlclose_plugin_frame_has_module_and_line",
              "victim_plugin" in (frame.get("module") or "") and (frame.get("file") or "").endswith("plugin.c")
              and frame.get("line", 0) > 0, frame)

# dlopen("./libvictim_plugin.so"): the module is recorded by the path the
# kernel mapped, so the report names it absolutely from any folder.
t = run_traced([victim("dlopen_host"), "./" + os.path.basename(plugin)], cwd=os.path.dirname(plugin))
if t.trace:
    leak = holder_with(t.report["leaks"], "plugin_make_cache")
    frame = leak and next(f for f in leak["stack"] if "plugin_make_cache" in (f.get("function") or ""))
    check("dlclose_relative_dlopen_recorded_absolute",
          bool(frame) and frame.get("module") == plugin and frame.get("line", 0) > 0, frame)
else:
    check("dlclose_relative_dlopen_recorded_absolute", False, t.proc.stderr)
done()
