# SPDX-License-Identifier: MIT
"""A C++ request holding N std::vector bitmaps while a thread churns maps and
strings: the decode function holds N x bitmap bytes at the peak, and three
deliberately leaked 4 KiB blocks are reported exactly."""
from harness import check, describe, done, holder_with, run_native, run_traced, victim

N = 20
BITMAP = 2560 * 1440 * 3
prog = victim("cxx_bitmaps")
native = run_native([prog, str(N)])
t = run_traced([prog, str(N)])
check("cxx_output_unchanged_under_heldby",
      t.proc.returncode == native.returncode and t.proc.stdout == native.stdout, t.proc.stderr)
if check("cxx_run_writes_a_trace", t.trace is not None, t.proc.stderr):
    r = t.report
    top = r["peak_holders"][0] if r["peak_holders"] else {"stack": [], "bytes": 0}
    check("cxx_top_peak_holder_stack_has_decode_bitmap",
          any("decode_bitmap" in (f.get("function") or "") for f in top["stack"]), describe(r["peak_holders"]))
    check("cxx_decode_bitmap_bytes_within_1pct",
          abs(top["bytes"] - N * BITMAP) <= N * BITMAP / 100, describe(r["peak_holders"]))
    leak = holder_with(r["leaks"], "leak_three_pages")
    check("cxx_leak_of_three_pages_reported_exactly",
          leak is not None and leak["bytes"] == 12288 and leak["blocks"] == 3, describe(r["leaks"], 10))
    check("cxx_trace_complete", r["summary"]["complete"] is True, r["summary"])
    check("cxx_operator_new_attributed_to_user_code",
          holder_with(r["peak_holders"], "operator new") is not None or
          any("new" in (f.get("function") or "") for f in top["stack"][:3]), describe(r["peak_holders"]))
done()
