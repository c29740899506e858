# SPDX-License-Identifier: MIT
"""Allocations made by library constructors that run before libheldby's own
(every library the program links is initialised before a preloaded one) are
recorded: the victim's library keeps 3 MiB from malloc and 2 MiB from new[]
in its constructors."""
from harness import check, describe, done, holder_with, run_traced, victim

MiB = 1 << 20

t = run_traced([victim("early_ctor")])
check("early_ctor_program_ran", t.proc.returncode == 0 and b"early table sums 5376 2560" in t.proc.stdout,
      t.proc.stdout + t.proc.stderr)
check("early_ctor_writes_a_trace", t.trace is not None, t.proc.stderr)
if t.trace:
    r = t.report
    s = r["summary"]
    check("early_ctor_peak_counts_the_constructor_tables", 6 * MiB <= s["peak_bytes"] < 6 * MiB + 256 * 1024, s)
    leak = holder_with(r["leaks"], "early_ctor_table")
    check("early_ctor_table_held_at_exit_under_its_function", leak is not None and leak["bytes"] == 3 * MiB,
          describe(r["leaks"]))
    leak = holder_with(r["leaks"], "early_cxx_table")
    check("early_ctor_cxx_table_held_at_exit_under_its_function", leak is not None and leak["bytes"] == 2 * MiB,
          describe(r["leaks"]))
    check("early_ctor_no_unknown_frees", s["unknown_frees"] == 0, s)
done()
