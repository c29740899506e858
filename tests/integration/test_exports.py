# SPDX-License-Identifier: MIT
"""What libheldby.so exports (issue 21): shim/heldby.map is written by hand,
and shim/hooks.h says what it must hold. These checks fail when the two
disagree, and when the built library exports anything else or misses a name
of the map: an interposed function that is not exported never runs, and one
exported that is not in hooks.h has no real function resolved for it."""
import os
import re
import shutil
import subprocess
from harness import BUILD_ROOT, SOURCE_ROOT, check, done, skip

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")


def read(*path):
    with open(os.path.join(SOURCE_ROOT, *path)) as f:
        return f.read()


def macro(text, name):
    """The body of the multi-line #define name(X), continuations joined."""
    m = re.search(r"^#define " + re.escape(name) + r"\(X\)((?:.*\\\n)*.*)$", text, re.M)
    return m.group(1).replace("\\\n", " ") if m else ""


def no_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


hooks_h = no_comments(read("shim", "hooks.h"))
# X(return type, name, (parameters), required): no return type has a comma
hooks = [n for part in ("HELDBY_HOOKS_C", "HELDBY_HOOKS_CXX")
         for n in re.findall(r"\bX\(\s*[^,()]+,\s*(\w+)\s*,", macro(hooks_h, part))]
wrappers = re.findall(r"\bX\(\s*(\w+)\s*\)", macro(hooks_h, "HELDBY_WRAPPERS"))
check("exports_hooks_h_lists_hooks_and_wrappers", len(hooks) > 40 and len(wrappers) > 0,
      (len(hooks), len(wrappers)))
check("exports_hooks_h_names_each_once",
      len(set(hooks + wrappers)) == len(hooks) + len(wrappers),
      sorted(n for n in set(hooks + wrappers) if (hooks + wrappers).count(n) > 1))

m = re.search(r"global:(.*?)local:\s*\*\s*;", no_comments(read("shim", "heldby.map")), re.S)
names = [n.strip() for n in m.group(1).split(";") if n.strip()] if m else []
globs = [n for n in names if "*" in n]
listed = [n for n in names if "*" not in n]
check("exports_map_has_global_and_local_star", m is not None and len(listed) > 40, names[:5])
check("exports_map_names_each_once", len(set(listed)) == len(listed),
      sorted(n for n in set(listed) if listed.count(n) > 1))
check("exports_map_globs_only_heldby", globs == ["heldby_*"], globs)
check("exports_map_lists_every_hook", not set(hooks) - set(listed),
      sorted(set(hooks) - set(listed)))
check("exports_map_lists_every_wrapper", not set(wrappers) - set(listed),
      sorted(set(wrappers) - set(listed)))
check("exports_map_lists_only_hooks_h", not set(listed) - set(hooks) - set(wrappers),
      sorted(set(listed) - set(hooks) - set(wrappers)))

# The public API: what include/heldby.h declares (its helpers end in _).
api = set(re.findall(r"^[\w \*]*?\b(heldby_\w*[^_\W])\(", no_comments(read("include", "heldby.h")),
                     re.M))
check("exports_heldby_h_declares_the_api", len(api) >= 5, sorted(api))

nm = shutil.which("nm")
if not nm or not os.path.exists(SHIM):
    skip("exports_library_exports_the_map", "no nm, or no libheldby.so")
else:
    r = subprocess.run([nm, "-D", "--defined-only", SHIM], capture_output=True, text=True)
    exported = {line.split()[-1].split("@")[0] for line in r.stdout.splitlines()
                if len(line.split()) >= 3}
    missing = set(listed) - exported
    extra = {n for n in exported - set(listed) if not n.startswith("heldby_")}
    check("exports_library_exports_the_map", r.returncode == 0 and not missing and not extra,
          (r.stderr, "missing:", sorted(missing), "extra:", sorted(extra)))
    mine = {n for n in exported if n.startswith("heldby_")}
    check("exports_library_heldby_names_are_the_api", mine == api,
          ("not in heldby.h:", sorted(mine - api), "not exported:", sorted(api - mine)))

done()
