# SPDX-License-Identifier: MIT
"""`heldby report --json` against its schema (issue 20, item 5): the shared
contract check, then a stricter one read from docs/report-json.md: every key
the page lists is in the output with its type and no key is unlisted; a
"format" version; "line" null exactly where "file" is; most_calls say what
they still held at exit; the start time in forms that jq does not round."""
import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from harness import (HELDBY, SOURCE_ROOT, check, done, run_traced, skip, victim)

DOC = os.path.join(SOURCE_ROOT, "docs", "report-json.md")
SHARED = os.path.join(SOURCE_ROOT, "..", "shared", "tools", "check-report-json")
TYPES = {"integer": int, "string": str, "boolean": bool, "object": dict, "null": type(None)}


def schema():
    """{section: {key: (types, optional)}} from the page's tables."""
    out, cur = {}, None
    for line in open(DOC):
        h = re.match(r"^## (?:`(\w+)`|(\w[\w ]*?))(?: \(.*\))?\s*$", line)
        if h:
            cur = (h.group(1) or h.group(2)).strip().lower()
            out[cur] = {}
            continue
        row = re.match(r"^\| `(\w+)` \| ([^|]+) \| ([^|]*)\|", line)
        if row and cur:
            kind = row.group(2).strip()
            if kind.startswith("list of"):
                types = (list,)
            else:
                types = tuple(TYPES[t.strip()] for t in kind.split(" or "))
            what = row.group(3)
            optional = "absent" in what or " only" in what
            out[cur][row.group(1)] = (types, optional)
    return out


def typed(v, types):
    if isinstance(v, bool):
        return bool in types
    return isinstance(v, types)


def against(name, obj, section, problems):
    want = SCHEMA.get(section, {})
    for k, (types, optional) in want.items():
        if k not in obj:
            if not optional:
                problems.append(f"{name}: no {k}")
        elif not typed(obj[k], types):
            problems.append(f"{name}.{k}: {type(obj[k]).__name__}, not {types}")
    for k in obj:
        if k not in want:
            problems.append(f"{name}.{k}: not in docs/report-json.md")


def frames_against(name, entry, problems):
    for j, f in enumerate(entry.get("stack", [])):
        if f.get("function") is None and f.get("offset") is None and "inlined" not in f:
            continue  # the one frame of a stack not recorded
        against(f"{name}.stack[{j}]", f, "frame", problems)
        if (f.get("file") is None) != (f.get("line") is None):
            problems.append(f"{name}.stack[{j}]: file {f.get('file')!r} but line {f.get('line')!r}")


def report(trace, *args):
    r = subprocess.run([HELDBY, "report", "--json", *args, trace], capture_output=True, text=True)
    return r, json.loads(r.stdout) if r.returncode == 0 else None


def schema_problems(j):
    p = []
    against("top", j, "top level", p)
    against("summary", j.get("summary", {}), "summary", p)
    against("trace", j.get("trace", {}), "trace", p)
    for lst, section in (("peak_holders", "holder"), ("leaks", "holder"),
                         ("most_calls", "caller"), ("marks", "mark"),
                         ("modules_without_symbols", "module")):
        for i, e in enumerate(j.get(lst, [])):
            against(f"{lst}[{i}]", e, section, p)
            if lst == "leaks" and "age_ns" in e:
                p.append(f"leaks[{i}] has age_ns, which the page gives peak_holders only")
            frames_against(f"{lst}[{i}]", e, p)
    if "at" in j:
        at = j["at"]
        against("at", at, "at", p)
        for i, a in enumerate(at.get("ages", [])):
            against(f"at.ages[{i}]", a, "age", p)
        for i, e in enumerate(at.get("holders", [])):
            against(f"at.holders[{i}]", e, "at holder", p)
            frames_against(f"at.holders[{i}]", e, p)
            for k, a in enumerate(e.get("ages", [])):
                against(f"at.holders[{i}].ages[{k}]", a, "age", p)
                if "blocks" in a:
                    p.append(f"at.holders[{i}].ages[{k}] has blocks, which the page gives at.ages only")
    return p


SCHEMA = schema()
check("report_json_schema_page_read", {"top level", "summary", "trace", "holder", "caller",
                                       "frame", "mark", "module"} <= set(SCHEMA), sorted(SCHEMA))

traces = {}
t = run_traced([victim("cxx_holders")])
if t.trace:
    traces["cxx_holders"] = t.trace
t = run_traced([victim("timed_marks")])
if t.trace:
    traces["timed_marks"] = t.trace
# a trace cut short: the program killed by SIGKILL once it says it holds
# its memory (more than a flush period before)
workdir = tempfile.mkdtemp(prefix="heldby-test-")
p = subprocess.Popen([HELDBY, "run", "-o", os.path.join(workdir, "t.%p.hbt"), "--", victim("dies"), "kill"],
                     env=dict(os.environ, HELDBY_FLUSH_MS="100"), stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
ready = p.stdout.readline().strip() == b"ready"
cut = sorted(glob.glob(os.path.join(workdir, "t.*.hbt")))
if ready and cut:
    os.kill(int(cut[0].split(".")[-2]), signal.SIGKILL)
    traces["killed"] = cut[0]
try:
    p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
check("report_json_traces_made", len(traces) == 3, traces)

for name, trace in traces.items():
    r, j = report(trace)
    if not check(f"report_json_{name}_parses", j is not None, r.stderr):
        continue
    check(f"report_json_{name}_format_1", j.get("format") == 1, j.get("format"))
    probs = schema_problems(j)
    check(f"report_json_{name}_every_key_documented_and_typed", not probs, probs[:20])
    s = j["summary"]
    # what most_calls still held adds up to what was held at exit
    check(f"report_json_{name}_most_calls_end_bytes_add_up",
          sum(e["end_bytes"] for e in j["most_calls"]) == s["end_bytes"]
          and sum(e["end_blocks"] for e in j["most_calls"]) == s["end_blocks"]
          and sum(e["bytes"] for e in j["leaks"]) == s["end_bytes"],
          (s["end_bytes"], [e["end_bytes"] for e in j["most_calls"]][:10]))
    check(f"report_json_{name}_marks_count_and_list_agree",
          s["marks_recorded"] == s["marks"] == len(j["marks"]), (s, len(j["marks"])))
    if os.path.exists(SHARED):
        c = subprocess.run([SHARED, HELDBY, trace], capture_output=True, text=True)
        check(f"report_json_{name}_shared_contract", c.returncode == 0 and "contract ok" in c.stdout,
              c.stdout)
    else:
        skip(f"report_json_{name}_shared_contract", "shared/tools/check-report-json not beside the checkout")

if "timed_marks" in traces:
    _, j = report(traces["timed_marks"])
    check("report_json_marks_listed", [m["label"] for m in j["marks"]][:1] == ["start"]
          and j["summary"]["marks_recorded"] >= 3, j["marks"])
# report --at adds "at", documented key by key too
for name, when in (("peak", "peak"), ("mark", "held"), ("time", "350ms"), ("end", "end")):
    if "timed_marks" not in traces:
        break
    r, j = report(traces["timed_marks"], "--at", when)
    if check(f"report_json_at_{name}_parses", j is not None and "at" in j, r.stderr):
        probs = schema_problems(j)
        check(f"report_json_at_{name}_every_key_documented_and_typed", not probs, probs[:20])
        check(f"report_json_at_{name}_holders_add_up",
              sum(e["bytes"] for e in j["at"]["holders"]) == j["at"]["bytes"]
              == sum(a["bytes"] for a in j["at"]["ages"]), j["at"])
if "killed" in traces:
    _, j = report(traces["killed"])
    check("report_json_killed_trace_says_cut_short", j and j["summary"]["complete"] is False,
          j and j["summary"])

# jq, the script's reader: start_real_ns is rounded there, the forms beside it are not
jq = shutil.which("jq")
if jq and "cxx_holders" in traces:
    _, j = report(traces["cxx_holders"])
    ns = j["trace"]["start_real_ns"]
    out = subprocess.run([HELDBY, "report", "--json", traces["cxx_holders"]], capture_output=True,
                         text=True).stdout
    q = subprocess.run([jq, "-r", ".trace.start_real, .trace.start_real_us"], input=out,
                       capture_output=True, text=True).stdout.split()
    when = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    want = when.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)
    check("report_json_start_time_survives_jq", q == [want, str(ns // 1000)], (q, want, ns))
else:
    skip("report_json_start_time_survives_jq", "no jq")
done()
