# SPDX-License-Identifier: MIT
"""The bundled export example: decode_bitmap holds exactly images x bitmap
bytes at the peak, and none of it is left at exit."""
import os
import re
import subprocess
from harness import (BUILD_ROOT, SOURCE_ROOT, HELDBY, check, describe, done, holder_with,
                     report_text, run_native, run_traced, skip)

IMAGES = 6
BITMAP = 2560 * 1440 * 3
prog = os.path.join(BUILD_ROOT, "examples", "export")

native = run_native([prog, str(IMAGES)])
t = run_traced([prog, str(IMAGES)])
check("example_output_unchanged_under_heldby",
      t.proc.returncode == native.returncode and t.proc.stdout == native.stdout,
      f"native {native.returncode} {native.stdout!r}\nheldby {t.proc.returncode} {t.proc.stdout!r}\n"
      f"{t.proc.stderr.decode(errors='replace')}")
check("example_run_writes_a_trace", t.trace is not None, t.proc.stderr)
if t.trace:
    r = t.report
    top = r["peak_holders"][0] if r["peak_holders"] else {}
    check("example_top_peak_holder_is_decode_bitmap",
          top and "decode_bitmap" in (top["stack"][0].get("function") or "") or
          any("decode_bitmap" in (f.get("function") or "") for f in top.get("stack", [])[:3]),
          describe(r["peak_holders"]))
    check("example_decode_bitmap_holds_exact_bytes_at_peak",
          top.get("bytes") == IMAGES * BITMAP and top.get("blocks") == IMAGES,
          f"expected {IMAGES * BITMAP} B in {IMAGES} blocks\n" + describe(r["peak_holders"]))
    check("example_nothing_of_decode_bitmap_left_at_exit",
          holder_with(r["leaks"], "decode_bitmap") is None, describe(r["leaks"]))
    check("example_trace_is_complete", r["summary"]["complete"] is True, r["summary"])
    s = r["summary"]
    check("example_peak_at_least_the_bitmaps",
          IMAGES * BITMAP <= s["peak_bytes"] < IMAGES * BITMAP + (1 << 20), s)
    # every row buffer and bitmap, the names and list nodes
    expected_calls = IMAGES * (1 + 1440 + 2)
    check("example_alloc_calls_counted", expected_calls <= s["alloc_calls"] < expected_calls + 100, s)
    text = report_text(t.trace)
    check("example_text_report_names_decode_bitmap_with_file_and_line",
          text.returncode == 0 and "decode_bitmap" in text.stdout and "export.c:" in text.stdout,
          text.stdout[:3000] + text.stderr)
    checker = os.path.join(SOURCE_ROOT, "..", "shared", "tools", "check-report-json")
    if os.path.exists(checker):
        c = subprocess.run(["/usr/bin/python3", checker, HELDBY, t.trace], capture_output=True, text=True)
        check("example_report_json_keeps_the_contract", c.returncode == 0, c.stdout + c.stderr)
    else:
        skip("example_report_json_keeps_the_contract", "shared/tools/check-report-json not beside the checkout")


# The README's sample report is what the code prints for the quickstart's
# run (48 images), times aside, line for line, in order.
def timeless(line):
    return re.sub(r"(< )?\d[\d.]* (ns|us|ms|s)\b", "TIME", line.rstrip())


readme = open(os.path.join(SOURCE_ROOT, "README.md")).read()
m = re.search(r"A report on the example \(`sh examples/quickstart.sh`.*?```\n(.*?)```", readme, re.S)
t48 = run_traced([prog, "48"])
if check("readme_sample_found_and_example_traced", m is not None and t48.trace is not None):
    r = subprocess.run([HELDBY, "report", "--color", "never", t48.trace], capture_output=True,
                       text=True, cwd=SOURCE_ROOT)
    printed = [timeless(x) for x in r.stdout.splitlines()]
    sample = [timeless(x) for x in m.group(1).splitlines()]
    at, missing = 0, []
    for line in sample:
        try:
            at = printed.index(line, at) + 1
        except ValueError:
            missing.append(line)
    check("readme_sample_report_matches_what_heldby_prints", not missing and sample,
          "README lines not printed (in order):\n" + "\n".join(missing) + "\n--- printed:\n" + r.stdout[:2500])
done()
