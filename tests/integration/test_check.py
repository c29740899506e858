# SPDX-License-Identifier: MIT
"""`heldby check`: a memory limit for a test suite. The victim memory_hog holds
83 blocks of 1,000,000 bytes in hold_report_buffers() at its peak and keeps 10
blocks of 1000 bytes from leak_sessions() to the end; its first argument says
how it ends (ok, fail N, abort)."""
import os
import re
import shutil
import subprocess
import tempfile

from harness import HELDBY, check, done, report_json, victim

HOG = victim("memory_hog")
BIG = 83 * 1000000
made = []


def heldby_check(*args, prog=("ok",), env=None):
    """Runs `heldby check ARGS -- memory_hog PROG...` with a private TMPDIR."""
    tmp = tempfile.mkdtemp(prefix="heldby-check-test-")
    made.append(tmp)
    full_env = dict(os.environ)
    full_env["TMPDIR"] = tmp
    full_env.update(env or {})
    r = subprocess.run([HELDBY, "check"] + list(args) + ["--", HOG] + list(prog),
                       capture_output=True, text=True, timeout=120, env=full_env)
    r.tmp = tmp
    m = re.search(r"heldby report (\S+)", r.stderr)
    r.kept = m.group(1) if m else None
    return r


def leftovers(r):
    return [os.path.join(dp, f) for dp, _, fs in os.walk(r.tmp) for f in fs] + \
        [os.path.join(dp, d) for dp, ds, _ in os.walk(r.tmp) for d in ds]


def one_line(r):
    return len(r.stderr.strip().splitlines()) == 1


# Over --max-peak: exit 1, the limit, the measured value and the top holder.
r = heldby_check("--max-peak", "50MiB")
check("check_over_max_peak_exits_1", r.returncode == 1, r.stderr)
m = re.search(r"peak .* \((\d+) bytes\) is over --max-peak 50.0 MiB \(52428800 bytes\)", r.stderr)
measured = int(m.group(1)) if m else 0
check("check_names_the_limit_and_measured_peak", m is not None and BIG <= measured < BIG + 1000000,
      r.stderr)
holders = r.stderr.split("Top holders at peak", 1)[-1]
check("check_names_the_top_holder_at_the_peak",
      "Top holders at peak" in r.stderr and re.search(r"^\s+1\. 79\.\d MiB in 83 blocks", holders, re.M)
      and "hold_report_buffers" in holders.split("   2.")[0] and "memory_hog.c" in holders, r.stderr)
check("check_over_limit_keeps_the_trace", r.kept is not None and os.path.exists(r.kept), r.stderr)
if r.kept and os.path.exists(r.kept):
    j = report_json(r.kept)
    fns = [f.get("function") or "" for f in j["peak_holders"][0]["stack"]]
    check("check_kept_trace_reports_the_same_peak",
          j["summary"]["peak_bytes"] == measured and any("hold_report_buffers" in f for f in fns),
          (j["summary"], fns))
    end_bytes, end_blocks = j["summary"]["end_bytes"], j["summary"]["end_blocks"]
else:
    end_bytes, end_blocks = 10000, 10  # what the victim leaks, for the checks below

# Within the limit: exit 0, one line, nothing left behind.
r = heldby_check("--max-peak", "200MiB")
check("check_within_max_peak_exits_0", r.returncode == 0 and one_line(r)
      and "within limits" in r.stderr, r.stderr)
check("check_within_limits_removes_the_trace", leftovers(r) == [] and r.kept is None,
      (leftovers(r), r.stderr))
r = heldby_check("--max-peak", "200MiB", "--max-end", "1MiB", "--max-blocks", "1000")
check("check_within_all_three_limits_exits_0", r.returncode == 0 and one_line(r), r.stderr)
r = heldby_check("--max-peak", str(measured))
check("check_limit_equal_to_the_peak_is_within", r.returncode == 0, r.stderr)
r = heldby_check("--max-peak=%d" % (measured - 1))
check("check_one_byte_over_max_peak_fails", r.returncode == 1, r.stderr)

# --max-end: bytes still held at exit, named by the holders at exit.
check("check_victim_leaks_what_it_says", end_bytes >= 10000 and end_blocks >= 10,
      (end_bytes, end_blocks))
r = heldby_check("--max-end", "5KB")
held = r.stderr.split("Held at exit", 1)[-1]
check("check_over_max_end_exits_1_naming_the_leak",
      r.returncode == 1 and re.search(r"held at exit .* \(%d bytes\) is over --max-end .* \(5000 bytes\)"
                                      % end_bytes, r.stderr) is not None
      and "Held at exit" in r.stderr and "leak_sessions" in held
      and "hold_report_buffers" not in r.stderr, r.stderr)
r = heldby_check("--max-end", str(end_bytes))
check("check_max_end_equal_is_within", r.returncode == 0, r.stderr)

# --max-blocks: blocks still held at exit.
r = heldby_check("--max-blocks", str(end_blocks - 1))
check("check_over_max_blocks_exits_1_naming_the_leak",
      r.returncode == 1 and ("%d blocks held at exit is over --max-blocks %d" % (end_blocks, end_blocks - 1))
      in r.stderr and "leak_sessions" in r.stderr, r.stderr)
r = heldby_check("--max-blocks", "0")
check("check_max_blocks_0_catches_any_leak", r.returncode == 1, r.stderr)
r = heldby_check("--max-blocks", str(end_blocks))
check("check_max_blocks_equal_is_within", r.returncode == 0, r.stderr)

# -o PATTERN: the trace is the user's, kept even within the limits.
d = tempfile.mkdtemp(prefix="heldby-check-o-")
made.append(d)
r = heldby_check("-o", os.path.join(d, "t.%p.hbt"), "--max-peak", "1GiB")
kept = [f for f in os.listdir(d) if f.startswith("t.")]
check("check_output_pattern_keeps_the_trace", r.returncode == 0 and len(kept) == 1, (kept, r.stderr))

# --follow: the programs PROG runs are checked too, each on its own.
script = ("sh", "-c", '"$0" ok && "$0" ok', HOG)


def heldby_check_script(*args):
    tmp = tempfile.mkdtemp(prefix="heldby-check-test-")
    made.append(tmp)
    r = subprocess.run([HELDBY, "check"] + list(args) + ["--"] + list(script), capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, TMPDIR=tmp))
    r.tmp = tmp
    return r


r = heldby_check_script("--no-follow", "--max-peak", "50MiB")
check("check_no_follow_measures_only_prog", r.returncode == 0 and "hold_report_buffers" not in r.stderr,
      r.stderr)
check("check_no_follow_names_the_untraced_programs", r.stderr.count(HOG) == 2 and "--follow" in r.stderr,
      r.stderr)
for flag in ([], ["--follow"]):  # following is the default
    r = heldby_check_script(*flag, "--max-peak", "50MiB")
    over = re.findall(r"memory_hog \(pid \d+\): peak .* is over --max-peak", r.stderr)
    check(f"check{'_follow' if flag else ''}_checks_each_child", r.returncode == 1 and len(over) == 2
          and r.stderr.count("hold_report_buffers") == 2 and "the traces are kept in" in r.stderr, r.stderr)
r = heldby_check_script("--follow", "--max-peak", "200MiB")
m = re.search(r"within limits \(the largest of (\d+) processes\): peak 79\.\d MiB", r.stderr)
check("check_follow_within_limits", r.returncode == 0 and m is not None and int(m.group(1)) >= 3
      and leftovers(r) == [], (r.stderr, leftovers(r)))
d = tempfile.mkdtemp(prefix="heldby-check-o-")
made.append(d)
r = heldby_check_script("-o", os.path.join(d, "x.%p.hbt"), "--max-peak", "50MiB")
over = re.findall(r"memory_hog \(pid \d+\): peak .* is over --max-peak", r.stderr)
check("check_follow_with_output_pattern_checks_each_child", r.returncode == 1 and len(over) == 2
      and len(os.listdir(d)) == 3, (os.listdir(d), r.stderr))

# The program's own failure is passed on and said to be its own.
r = heldby_check("--max-peak", "200MiB", prog=("fail", "3"))
check("check_passes_on_the_program_exit_status", r.returncode == 3
      and "failed with exit status 3" in r.stderr and leftovers(r) == [], (r.returncode, r.stderr))
r = heldby_check("--max-peak", "50MiB", prog=("fail", "4"))
check("check_failing_program_over_limit_reports_both", r.returncode == 4
      and "failed with exit status 4" in r.stderr and "is over --max-peak" in r.stderr, r.stderr)
r = heldby_check("--max-peak", "200MiB", prog=("abort",))
check("check_program_killed_by_signal_is_reported", r.returncode == 128 + 6
      and "killed by signal 6" in r.stderr, (r.returncode, r.stderr))
r = subprocess.run([HELDBY, "check", "--max-peak", "1M", "--", "/nonexistent/prog"],
                   capture_output=True, text=True, timeout=60)
check("check_missing_program_exits_127", r.returncode == 127 and one_line(r), r.stderr)

# Bad sizes and options: one line, exit 2, the program never runs.
for bad in ["10XB", "-5", "1e3", "", "1.", "abc", "99999999999999999999", "16EiB", "10 M B", "0x10"]:
    r = heldby_check("--max-peak", bad)
    check("check_bad_size_%r_exits_2_with_one_line" % bad, r.returncode == 2 and one_line(r)
          and "--max-peak" in r.stderr and leftovers(r) == [], r.stderr)
for bad in ["1k", "-1", "", "1.5"]:
    r = heldby_check("--max-blocks", bad)
    check("check_bad_block_count_%r_exits_2" % bad, r.returncode == 2 and one_line(r), r.stderr)
r = heldby_check("--max-end", "10XB")
check("check_bad_max_end_exits_2", r.returncode == 2 and one_line(r) and "--max-end" in r.stderr, r.stderr)
r = heldby_check("--max-peek", "10M")
check("check_unknown_option_exits_2", r.returncode == 2 and one_line(r)
      and "unknown option --max-peek" in r.stderr, r.stderr)
r = heldby_check()
check("check_without_a_limit_exits_2", r.returncode == 2 and one_line(r), r.stderr)
r = subprocess.run([HELDBY, "check", "--max-peak", "1M"], capture_output=True, text=True, timeout=60)
check("check_without_a_program_exits_2", r.returncode == 2 and one_line(r), r.stderr)
r = subprocess.run([HELDBY, "check", "--max-peak"], capture_output=True, text=True, timeout=60)
check("check_option_without_value_exits_2", r.returncode == 2 and one_line(r), r.stderr)

# Help.
r = subprocess.run([HELDBY, "check", "--help"], capture_output=True, text=True, timeout=60)
check("check_help", r.returncode == 0 and "--max-blocks" in r.stdout and "KiB" in r.stdout, r)
r = subprocess.run([HELDBY, "--help"], capture_output=True, text=True, timeout=60)
check("help_lists_check", r.returncode == 0 and "heldby check" in r.stdout, r)
for t in made:
    shutil.rmtree(t, ignore_errors=True)
done()
