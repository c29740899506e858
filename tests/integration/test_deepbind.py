# SPDX-License-Identifier: MIT
"""A plugin dlopen'ed with RTLD_DEEPBIND binds malloc and free to libc, past
the preloaded shim, while the malloc inside libc's strdup still reaches it
(shim/deepbind.c). An allocation and its free are both seen or both not
seen: the 1000 strings the plugin strdup()s and free()s, and the string the
host allocated before the load and the plugin frees, are not held at exit;
the 123456 bytes the plugin malloc()s and keeps are, exactly. With eager
and lazy binding (a lazy slot not yet resolved points into the PLT), with
the GOT read-only (-z now: RELRO), and with the plugin loaded and unloaded
again and again first (each copy loaded where the last one was)."""
import os
from harness import BUILD_ROOT, check, describe, done, holder_with, run_traced, victim

KEPT = 123456
GIVEN = len("allocated by the host, freed by the plugin") + 1


def plugin(name):
    return os.path.abspath(os.path.join(BUILD_ROOT, "tests", "victims", f"lib{name}.so"))


cases = [
    ("now", plugin("deepbind_plugin"), "now", 0),
    ("lazy", plugin("deepbind_plugin"), "lazy", 0),
    ("relro", plugin("deepbind_plugin_relro"), "now", 0),
    ("reloaded", plugin("deepbind_plugin"), "lazy", 20),
]
for name, path, mode, cycles in cases:
    t = run_traced([victim("deepbind_host"), path, mode, str(cycles)])
    check(f"deepbind_{name}_program_ran",
          t.proc.returncode == 0 and b"churned 11890 kept yes" in t.proc.stdout,
          t.proc.stdout + t.proc.stderr)
    if not t.trace:
        check(f"deepbind_{name}_writes_a_trace", False, t.proc.stderr)
        continue
    r = t.report
    leaks = r["leaks"]
    check(f"deepbind_{name}_freed_strings_not_held_at_exit",
          holder_with(leaks, "deepbind_churn") is None, describe(leaks))
    given = [e for e in leaks if e["bytes"] == GIVEN and e["blocks"] == 1 and
             any("__strdup" in (f.get("function") or "") for f in e.get("stack", []))]
    check(f"deepbind_{name}_string_freed_by_plugin_not_held_at_exit", not given, describe(leaks))
    kept = holder_with(leaks, "deepbind_keep")
    check(f"deepbind_{name}_kept_bytes_reported_exactly",
          kept is not None and kept["bytes"] == KEPT and kept["blocks"] == 1, describe(leaks))
    s = r["summary"]
    check(f"deepbind_{name}_no_unknown_frees", s["unknown_frees"] == 0, s)
done()
