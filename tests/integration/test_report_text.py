# SPDX-License-Identifier: MIT
"""The text report reads right (issue 20): it never merges call sites
without listing them, --depth N and --full show more, folding keeps the only
name, words and numbers are right, the C++ runtime's pool is labelled, and
a Python program is told what heldby cannot see."""
import os
import re
import subprocess
from harness import (HELDBY, SOURCE_ROOT, check, done, report_text, run_traced, victim)

texts = []  # every text report read, for the singulars


def text_of(trace, *args):
    r = report_text(trace, *args)
    texts.append(r.stdout)
    return r


def sections(text):
    """{heading: [entry text, ...]} of a text report."""
    out, cur, entry = {}, None, None
    for line in text.splitlines():
        if re.match(r"^(Top holders at peak|Held at exit|Held when|Most allocation calls)", line):
            cur = line.split(" (")[0]
            out[cur] = []
            continue
        if cur is None:
            continue
        if re.match(r"^\s+\d+\. ", line):
            out[cur].append(line + "\n")
        elif out[cur] and line.startswith("        "):
            out[cur][-1] += line + "\n"
    return out


def frame_lines(entry):
    """The frames an entry shows (not its notes)."""
    lines = entry.splitlines()[1:]
    return [l.strip() for l in lines
            if not re.match(r"^\s+(merges |\.\.\. |\(|\s{2})", l)
            and not l.startswith("          ")]


def blocks_of(entry):
    m = re.search(r"in ([\d,]+) blocks?", entry.splitlines()[0])
    return int(m.group(1).replace(",", "")) if m else None


# ---- 1. text and JSON agree: a merge says what it merged ----
t = run_traced([victim("cxx_holders")])
if check("report_text_cxx_holders_traced", t.trace is not None, t.proc.stderr):
    r = text_of(t.trace)
    peak = sections(r.stdout).get("Top holders at peak", [])
    fill = [e for e in peak if re.search(r"^\s+fill\(", e, re.M)]
    e = fill[0] if fill else ""
    check("report_text_merged_entry_lists_vector_growth_and_strings",
          "merges 2 call sites" in e and "vector" in e and "basic_string" in e, r.stdout[:4000])
    js = t.report
    want = sum(h["blocks"] for h in js["peak_holders"]
               if any((f.get("function") or "").startswith("fill(") for f in h["stack"]))
    check("report_text_merged_entry_counts_what_json_lists_apart",
          e and blocks_of(e) == want, f"JSON {want} blocks\n{e}")
    # 3. long C++ names: template arguments shortened in text, whole in JSON
    names = [l for l in r.stdout.splitlines() if "fill_table" in l and "cxx_holders.cpp:" in l]
    cols = {l.index("cxx_holders.cpp:") for l in r.stdout.splitlines()
            if "cxx_holders.cpp:" in l and (l.strip().startswith("fill_table") or l.strip().startswith("main"))
            and l.index("cxx_holders.cpp:") < 80}
    check("report_text_long_cxx_names_shortened_columns_kept",
          names and all("char_traits<char>" not in l and "<...>" in l for l in names)
          and all(len(l) < 120 for l in names),
          "\n".join(names))
    full = [f.get("function") or "" for h in js["peak_holders"] for f in h["stack"]]
    check("report_json_keeps_long_cxx_names_whole",
          any("fill_table" in f and "std::char_traits<char>" in f for f in full), full[:20])
    # 3. libstdc++'s emergency pool is the runtime's own
    at_exit = sections(r.stdout).get("Held at exit", [])
    pool = [x for x in at_exit if "runtime's own" in x.splitlines()[0]]
    check("report_text_cxx_emergency_pool_labelled_runtimes_own",
          pool and "libstdc++" in pool[0] and re.search(r"At exit .*of it the runtime's own", r.stdout),
          r.stdout[:3000])

t = run_traced([victim("deep_stack")])
if check("report_text_deep_stack_traced", t.trace is not None, t.proc.stderr):
    r = text_of(t.trace)
    secs = sections(r.stdout)
    alike = []
    for name, entries in secs.items():
        shown = [tuple(frame_lines(x)) for x in entries]
        alike += [name for s in set(shown) if shown.count(s) > 1]
    check("report_text_no_two_entries_show_the_same_stack", not alike and secs, r.stdout)
    peak = secs.get("Top holders at peak", [""])
    e = peak[0] if peak else ""
    check("report_text_merge_across_hidden_frames_names_both_callers",
          "merges 5 call sites that differ in frames not shown" in e
          and "root_a" in e and "root_b" in e and blocks_of(e) == 5, e)
    # --depth and --full
    r12 = text_of(t.trace, "--depth", "12")
    p12 = sections(r12.stdout).get("Top holders at peak", [])
    check("report_depth_shows_callers_apart",
          r12.returncode == 0 and len(p12) == 2 and "frames not shown" not in r12.stdout
          and any("root_a" in x and "root_b" not in x for x in p12)
          and any("root_b" in x and "root_a" not in x for x in p12), r12.stdout)
    rf = text_of(t.trace, "--full")
    pf = sections(rf.stdout).get("Top holders at peak", [])
    njson = len(t.report["peak_holders"])
    check("report_full_one_entry_per_json_entry_every_frame",
          rf.returncode == 0 and len(pf) == min(njson, 10) and "merges" not in rf.stdout
          and "folded" not in rf.stdout and all("main" in x for x in pf), rf.stdout[:3000])
    bad = []
    for args in (["--depth", "0"], ["--depth", "x"], ["--depth", "-1"], ["--depth"], ["--depth", "3k"]):
        b = subprocess.run([HELDBY, "report"] + args + ([t.trace] if args != ["--depth"] else []),
                           capture_output=True, text=True)
        if b.returncode != 2 or len(b.stderr.strip().splitlines()) != 1 or b.stdout:
            bad.append((args, b.returncode, b.stderr))
    check("report_depth_rejects_bad_values_in_one_line", not bad, bad)
    h = subprocess.run([HELDBY, "report", "--help"], capture_output=True, text=True)
    check("report_help_lists_depth_and_full", "--depth N" in h.stdout and "--full" in h.stdout, h.stdout)
    # 3. durations under the clock's 1 ms step, and the words
    check("report_text_below_clock_step_says_under_1_ms",
          not re.search(r"\b0 ns\b", r.stdout) and "< 1 ms" in r.stdout, r.stdout[:1500])
    check("report_text_says_age_at_peak_not_held_for",
          "age at peak" in r.stdout and "held for" not in r.stdout, r.stdout[:1500])
    check("report_text_no_python_note_for_a_c_program", "PYTHONMALLOC" not in r.stdout, r.stdout[:800])

t = run_traced([victim("deep_stack"), "one"])
if check("report_text_one_allocation_traced", t.trace is not None, t.proc.stderr):
    r = text_of(t.trace)
    check("report_text_singular_allocation",
          re.search(r"Calls\s+1 allocation, 0 frees", r.stdout) and " 1 call," in r.stdout, r.stdout)

# ---- 2. folding never hides the only name ----
t = run_traced([victim("stripped_names")])
if check("report_text_stripped_program_traced", t.trace is not None, t.proc.stderr):
    r = text_of(t.trace)
    nameless = []
    for name, entries in sections(r.stdout).items():
        for x in entries:
            fl = frame_lines(x)
            if fl and all(re.match(r"^[\w.+-]+\+0x[0-9a-f]+$", l) for l in fl):
                nameless.append(x)
    check("report_text_folding_keeps_the_only_named_frame",
          not nameless and re.search(r"^\s+getpwnam\s", r.stdout, re.M), "\n".join(nameless) or r.stdout)

# ---- 6. Python's blind spot is said ----
py = "/usr/bin/python3"
if os.path.exists(py):
    t = run_traced([py, "-c", "x = [str(i) for i in range(20000)]"])
    if check("report_text_python_traced", t.trace is not None, t.proc.stderr):
        r = text_of(t.trace)
        check("report_text_python_says_what_pymalloc_hides",
              "PYTHONMALLOC=malloc" in r.stdout and "pymalloc" in r.stdout, r.stdout[:1500])
else:
    from harness import skip
    skip("report_text_python_says_what_pymalloc_hides", "no /usr/bin/python3")
readme = open(os.path.join(SOURCE_ROOT, "README.md")).read()
check("readme_says_what_to_do_for_python", "PYTHONMALLOC=malloc" in readme
      and "--depth" in readme and "--full" in readme)

# ---- 3. singulars, in every report read above ----
wrong = [m.group(0) for x in texts for m in re.finditer(
    r"(?<![\d,.])1 (allocations|frees|blocks|calls|call sites|frames|ring waits|events|times)\b", x)]
check("report_text_one_is_singular_everywhere", texts and not wrong, wrong)
done()
