# SPDX-License-Identifier: MIT
"""`heldby report` over several traces or a folder (issue 22, item 8): a
server that forks a child per connection, under `heldby run --follow`,
leaves a trace per process; the report lists the processes in pid order and
merges the holders at their peaks by call site, so the child's site is one
entry over every child with exactly their bytes. A folder takes its *.hbt
and *.hbt.N files only; a bad trace among several is named and the others
reported; an empty folder is one line; one trace keeps its own report."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from harness import HELDBY, SOURCE_ROOT, check, done, victim

CHILDREN = 6
DOC = os.path.join(SOURCE_ROOT, "docs", "report-json.md")


def heldby(*args):
    return subprocess.run([HELDBY] + list(args), capture_output=True, text=True, timeout=300)


def child_bytes(i):
    """What child i of forking_server holds from child_hold, until it exits."""
    return (1 << 20) + i * 4096


def several_traces_schema():
    """{table: [keys]} from the "Several traces" section of the JSON page."""
    out, cur, inside = {}, None, False
    for line in open(DOC):
        if line.startswith("## "):
            inside = line.strip() == "## Several traces"
            continue
        h = re.match(r"^### (\w[\w ]*?)(?: \(.*\))?\s*$", line)
        if inside and h:
            cur = h.group(1)
            out[cur] = []
            continue
        row = re.match(r"^\| `(\w+)` \|", line)
        if inside and cur and row:
            out[cur].append(row.group(1))
    return out


def table_pids(text):
    """The pid column of the text report's process table."""
    lines = text.split("Processes, by pid\n", 1)[-1].split("\n\n", 1)[0].splitlines()
    return [int(l.split()[0]) for l in lines[1:] if l.split() and l.split()[0].isdigit()]


work = tempfile.mkdtemp(prefix="heldby-many-")
out = os.path.join(work, "traces")
run = subprocess.run([HELDBY, "run", "--follow", "-o", os.path.join(out, "t.%p.hbt"), "--",
                      victim("forking_server"), str(CHILDREN)], capture_output=True, text=True,
                     timeout=300)
traces = sorted(glob.glob(os.path.join(out, "t.*.hbt")))
pids = sorted(int(os.path.basename(t).split(".")[1]) for t in traces)
children = {}
for line in run.stdout.splitlines():
    f = line.split()
    if len(f) == 3 and f[0] == "child":
        children[int(f[2])] = int(f[1])
check("many_run_leaves_a_trace_per_process",
      run.returncode == 0 and len(traces) == CHILDREN + 1 and len(children) == CHILDREN
      and set(children) <= set(pids), (run.returncode, traces, run.stdout, run.stderr[-2000:]))

# ---- text: the table in pid order, the child's site merged ----
r = heldby("report", out)
check("many_text_reads_the_folder", r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr))
check("many_text_table_has_every_process_in_pid_order", table_pids(r.stdout) == pids,
      (table_pids(r.stdout), pids, r.stdout[:3000]))
check("many_text_rows_say_complete_and_the_path",
      all(re.search(rf"^\s+{p}\s.*\bcomplete\s+\S*t\.{p}\.hbt$", r.stdout, re.M) for p in pids),
      r.stdout[:3000])
holders = r.stdout.split("Top holders at the peaks", 1)[-1]
first = holders.split("\n   2.", 1)[0]
check("many_text_child_site_first_over_every_child",
      f"in {CHILDREN} processes" in first and "child_hold" in first
      and "forking_server.c" in first, holders[:2000])

# ---- JSON: the same, with exact bytes ----
r = heldby("report", "--json", out)
j = json.loads(r.stdout) if r.returncode == 0 else {}
check("many_json_parses", r.returncode == 0 and j.get("format") == 1, (r.returncode, r.stderr))
procs = j.get("processes", [])
check("many_json_processes_in_pid_order", [p.get("pid") for p in procs] == pids,
      ([p.get("pid") for p in procs], pids))
check("many_json_processes_complete_with_cmdline",
      all(p.get("complete") is True and p.get("cmdline", [None])[-1] == str(CHILDREN)
          and os.path.basename(p.get("path", "")) == f"t.{p.get('pid')}.hbt" for p in procs), procs[:3])
peaks = {p["pid"]: p["peak_bytes"] for p in procs}
check("many_json_child_peaks_at_least_their_bytes",
      all(peaks.get(pid, 0) >= child_bytes(i) for pid, i in children.items()), (peaks, children))
site = [h for h in j.get("peak_holders", [])
        if h.get("stack") and h["stack"][0].get("function") == "child_hold"]
want = sum(child_bytes(i) for i in range(CHILDREN))
check("many_json_child_site_merged_with_exact_bytes",
      len(site) == 1 and site[0]["processes"] == CHILDREN and site[0]["bytes"] == want
      and site[0]["max_bytes"] == child_bytes(CHILDREN - 1),
      (want, site, j.get("peak_holders", [])[:3]))
check("many_json_holders_sorted", [h["bytes"] for h in j.get("peak_holders", [])] ==
      sorted((h["bytes"] for h in j.get("peak_holders", [])), reverse=True))
frame_keys = {"function", "file", "line", "module", "inlined", "offset"}
check("many_json_stack_frames_as_the_single_report",
      bool(site) and all(set(f) == frame_keys for f in site[0]["stack"])
      and site[0]["stack"][0]["file"].endswith("forking_server.c")
      and isinstance(site[0]["stack"][0]["line"], int), site[:1])

# ---- every key on the JSON page's "Several traces" tables, and no other ----
schema = several_traces_schema()
tables = {"top level": [j], "process": procs, "merged holder": j.get("peak_holders", [])}
problems = []
for name, objs in tables.items():
    keys = set(schema.get(name, []))
    if not keys:
        problems.append(f"no table {name!r} in the page's Several traces")
    for o in objs:
        extra = set(o) - keys
        missing = keys - set(o) - {"cmdline"}
        if extra or missing:
            problems.append((name, sorted(extra), sorted(missing)))
check("many_json_keys_as_documented", not problems, problems[:10])

# ---- --top, several files, a bad one among them ----
r = heldby("report", "--json", "--top", "1", out)
check("many_json_top_cuts_holders", r.returncode == 0 and len(json.loads(r.stdout)["peak_holders"]) == 1,
      r.stderr)
r = heldby("report", "--top", "1", out)
check("many_text_top_cuts_holders", r.returncode == 0 and "\n   2." not in r.stdout
      and "more (--top N shows more)" in r.stdout, r.stdout[-1500:])
bad = os.path.join(work, "not-a-trace.hbt")
open(bad, "w").write("not a trace\n")
r = heldby("report", "--json", traces[0], bad, traces[1])
j2 = json.loads(r.stdout) if r.stdout.strip() else {}
check("many_bad_trace_named_others_reported_exit_1",
      r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and bad in r.stderr
      and [p["path"] for p in j2.get("processes", [])] == traces[:2], (r.returncode, r.stderr, j2))

# ---- a folder: its *.hbt and *.hbt.N files, sorted, not its subfolders ----
mixed = os.path.join(work, "mixed")
os.makedirs(os.path.join(mixed, "sub"))
for name in ("a.hbt", "b.hbt.2", "c.hbt.x", "d.txt", "e.hbtx", os.path.join("sub", "f.hbt")):
    shutil.copy(traces[0], os.path.join(mixed, name))
os.mkdir(os.path.join(mixed, "g.hbt"))  # a folder by a trace's name
r = heldby("report", "--json", mixed)
got = [os.path.basename(p["path"]) for p in json.loads(r.stdout)["processes"]] if r.returncode == 0 else []
check("many_folder_takes_hbt_and_hbt_n_files_only", got == ["a.hbt", "b.hbt.2"], (got, r.stderr))

empty = os.path.join(work, "empty")
os.mkdir(empty)
r = heldby("report", empty)
check("many_empty_folder_one_line_exit_1",
      r.returncode == 1 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
      and empty in r.stderr, (r.returncode, r.stdout, r.stderr))

# ---- one trace: its own report, as before ----
r = heldby("report", "--json", traces[0])
one = json.loads(r.stdout) if r.returncode == 0 else {}
check("many_single_trace_keeps_its_json",
      {"format", "summary", "trace", "peak_holders", "leaks", "most_calls", "marks",
       "modules_without_symbols"} <= set(one) and "processes" not in one, sorted(one))
r = heldby("report", traces[0])
check("many_single_trace_keeps_its_text",
      r.returncode == 0 and r.stdout.startswith(f"heldby report  {traces[0]}")
      and "Processes, by pid" not in r.stdout, r.stdout[:500])
shutil.rmtree(work, ignore_errors=True)
done()
