# SPDX-License-Identifier: MIT
"""Never the wrong process, and the supervisor sees what it would see natively
(issue 18): exec followed by default, check follows the programs a launcher
runs, daemons named, command lines recorded, signals passed on, dispositions
and environment kept, death by signal passed on, traces found where the shim
wrote them."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from harness import HELDBY, check, describe, done, report_json, run_native, victim

MiB = 1 << 20
SUP = victim("supervised")
HOG = victim("memory_hog")


def run(args, cwd=None, env=None, timeout=120, **kw):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([HELDBY] + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=full_env, **kw)


def traces_in(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if ".hbt" in f)


def held_at_peak(trace):
    return report_json(trace)["summary"]["peak_bytes"]


# ---- 1. exec is followed by default: a script that execs the service ----
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = run(["run", "-o", os.path.join(d, "t.%p.hbt"), "--", "sh", "-c", f"exec {SUP} hold 24"])
ts = traces_in(d)
check("exec_in_sh_c_program_ran", r.returncode == 0 and "held 24 MiB" in r.stdout, r.stderr)
if check("exec_in_sh_c_two_traces", len(ts) == 2, (ts, r.stderr)):
    sh, prog = sorted(ts, key=len)
    j = report_json(prog)
    check("exec_in_sh_c_prog_recorded_as_prog", j["summary"]["peak_bytes"] >= 24 * MiB
          and j["trace"]["cmdline"] == [SUP, "hold", "24"], (j["summary"], j["trace"]))
    check("exec_in_sh_c_shell_trace_is_the_shell", report_json(sh)["trace"]["cmdline"][:2] == ["sh", "-c"],
          report_json(sh)["trace"])
    check("exec_in_sh_c_summary_is_the_programs", f"trace written to {prog}" in r.stderr
          and re.search(r"peak +24\.\d+ MiB", r.stderr) is not None, r.stderr)
    check("exec_in_sh_c_summary_names_what_ran_before", "before it, the same process ran sh -c" in r.stderr
          and sh in r.stderr, r.stderr)

# A forked child is still not followed by default, and is named with the hint.
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = run(["run", "-o", os.path.join(d, "t.%p.hbt"), "--", "sh", "-c", f"{SUP} hold 1; {SUP} hold 2"])
check("fork_not_followed_one_trace", len(traces_in(d)) == 1, traces_in(d))
check("run_names_untraced_programs_with_the_hint", "not traced: 2 programs" in r.stderr
      and f"{SUP} hold 1" in r.stderr and f"{SUP} hold 2" in r.stderr and "--follow" in r.stderr, r.stderr)

# ---- 2. check measures the programs a launcher runs, each on its own ----
r = run(["check", "--max-peak", "50MiB", "--", "sh", "-c", f"{SUP} hold 1; {SUP} hold 80"])
check("check_sh_c_a_b_over_limit_exits_1", r.returncode == 1
      and re.search(r"supervised \(pid \d+\): peak 80\.\d+ MiB .* is over --max-peak", r.stderr) is not None,
      r.stderr)
r = run(["check", "--max-peak", "512K", "--", "sh", "-c", f"{SUP} hold 1; {SUP} hold 1"])
check("check_sh_c_children_of_1MiB_over_512K_exit_1", r.returncode == 1
      and len(re.findall(r"is over --max-peak", r.stderr)) == 2, r.stderr)
r = run(["check", "--no-follow", "--max-peak", "50MiB", "--", "sh", "-c", f"{SUP} hold 80"])
check("check_no_follow_measures_the_shell_alone", r.returncode == 0 and "within limits" in r.stderr
      and "not traced: 1 program" in r.stderr, r.stderr)

# ---- 3. a daemon: the launcher forks and leaves ----
for follow in (True, False):
    d = tempfile.mkdtemp(prefix="heldby-rp-")
    stop = os.path.join(d, "stop")
    name = "daemon_follow" if follow else "daemon"
    r = run(["run", "-o", os.path.join(d, "t.%p.hbt")] + (["--follow"] if follow else []) +
            ["--", SUP, "daemon", stop])
    m = re.search(r"daemon (\d+)", r.stdout)
    dpid = int(m.group(1)) if m else None
    try:
        check(f"{name}_run_returns_with_the_launcher", r.returncode == 0 and dpid, (r.stdout, r.stderr))
        check(f"{name}_run_says_it_daemonised", "daemonised" in r.stderr, r.stderr)
        if follow:
            dtrace = [t for t in traces_in(d) if f".{dpid}." in t]
            check(f"{name}_names_the_daemons_trace_still_running", len(dtrace) == 1 and
                  re.search(rf"{dpid} .*still running +{re.escape(dtrace[0])}", r.stderr) is not None,
                  (dtrace, r.stderr))
        else:
            check(f"{name}_says_the_daemon_is_not_traced", "not traced" in r.stderr and "--follow" in r.stderr,
                  r.stderr)
    finally:
        open(stop, "w").close()
    if follow and dpid:
        for _ in range(500):
            if not os.path.exists(f"/proc/{dpid}"):
                break
            time.sleep(0.01)
        dtrace = [t for t in traces_in(d) if f".{dpid}." in t]
        if dtrace:
            check("daemon_follow_trace_holds_its_8MiB", held_at_peak(dtrace[0]) >= 8 * MiB,
                  report_json(dtrace[0])["summary"])

# ---- 4. command lines as given, a table in pid order ----
d = tempfile.mkdtemp(prefix="heldby-rp-")
link = os.path.join(d, "my-service")
os.symlink(SUP, link)
r = run(["run", "-o", os.path.join(d, "t.%p.hbt"), "--", link, "hold", "3"])
j = report_json(traces_in(d)[0])
check("cmdline_is_argv_as_given_not_the_symlink_target", j["trace"]["cmdline"] == [link, "hold", "3"]
      and j["trace"]["exe"] == SUP and f"program  {link} hold 3" in r.stderr, (j["trace"], r.stderr))
d = tempfile.mkdtemp(prefix="heldby-rp-")
script = "; ".join(f"{SUP} hold {n}" for n in (3, 1, 2))
r = run(["run", "--follow", "-o", os.path.join(d, "t.%p.hbt"), "--", "sh", "-c", script])
rows = re.findall(r"^heldby: +(\d+)  (.{40})  +(\S+ \S+) +(\S+ \S+) +(complete|cut short|still running) +(\S+)$",
                  r.stderr, re.M)
pids = [int(x[0]) for x in rows]
check("follow_table_has_every_process", len(rows) == 4, r.stderr)
check("follow_table_in_pid_order", pids == sorted(pids), pids)
check("follow_table_names_each_program", sorted(x[1].strip() for x in rows if x[1].startswith("supervised"))
      == ["supervised hold 1", "supervised hold 2", "supervised hold 3"], rows)
check("follow_table_peaks_are_each_programs", sorted(x[2] for x in rows if x[1].startswith("supervised"))
      == ["1.00 MiB", "2.00 MiB", "3.00 MiB"] or all(
          float(x[2].split()[0]) >= int(x[1].split()[2]) for x in rows if x[1].startswith("supervised")), rows)

# ---- 6. signals sent to heldby run reach the program ----
d = tempfile.mkdtemp(prefix="heldby-rp-")
p = subprocess.Popen([HELDBY, "run", "-o", os.path.join(d, "t.%p.hbt"), "--", SUP, "signals"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ready = p.stdout.readline().strip() == "ready"
got = []
if ready:
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        p.send_signal(sig)
        got.append(p.stdout.readline().strip())
    p.send_signal(signal.SIGTERM)
try:
    out, err = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
check("signals_reach_the_program", ready and got == ["got User defined signal 1", "got User defined signal 2",
                                                     "got Hangup", "got Interrupt", "got Quit"], got)
check("term_reaches_the_program_which_ends_normally", "got Terminated" in out and p.returncode == 0, (out, err))
check("term_heldby_summarises_after", "trace written to" in err and re.search(r"peak +2\.\d+ MiB", err), err)

# ---- 7. dispositions, mask and environment as natively ----
def ignore_int_quit_block_usr1():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})


native = subprocess.run([SUP, "state"], capture_output=True, text=True, preexec_fn=ignore_int_quit_block_usr1)
d = tempfile.mkdtemp(prefix="heldby-rp-")
traced = subprocess.run([HELDBY, "run", "-o", os.path.join(d, "t.%p.hbt"), "--", SUP, "state"],
                        capture_output=True, text=True, preexec_fn=ignore_int_quit_block_usr1)
check("state_natively_has_int_ignored", "sig 2 ignored" in native.stdout and "blocked 10" in native.stdout,
      native.stdout)
# The shim's own crash handler (SEGV BUS ILL FPE ABRT, over the default
# only: docs/lifecycle.md) is the one difference, and not heldby run's doing.
CRASH = {f"sig {int(s)} " for s in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT)}


def state(out):
    return [line for line in out.splitlines() if not any(line.startswith(c) for c in CRASH)]


check("state_dispositions_mask_environment_as_natively", state(native.stdout) == state(traced.stdout),
      "\n".join(sorted(set(state(native.stdout)) ^ set(state(traced.stdout)))))

# ---- 8. death by signal is passed on as death by signal ----
native = subprocess.run([victim("dies"), "fault-segv"], capture_output=True)
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = subprocess.run([HELDBY, "run", "-o", os.path.join(d, "t.%p.hbt"), "--", victim("dies"), "fault-segv"],
                   capture_output=True)
check("sigsegv_heldby_run_dies_of_sigsegv", native.returncode == -signal.SIGSEGV == r.returncode,
      (native.returncode, r.returncode))

# ---- 9. traces land where they are said to land ----
d = tempfile.mkdtemp(prefix="heldby-rp-")
dangling = os.path.join(d, "t.hbt")
os.symlink(os.path.join(d, "nowhere"), dangling)
r = run(["run", "-o", dangling, "--", SUP, "hold", "1"])
check("dangling_symlink_trace_is_name_1_and_said", os.path.exists(dangling + ".1")
      and f"trace written to {dangling}.1" in r.stderr and "no trace was written" not in r.stderr
      and not os.path.exists(os.path.join(d, "nowhere")), r.stderr)

d = tempfile.mkdtemp(prefix="heldby-rp-")
long_pattern = os.path.join(d, "x" * 200, *(["y" * 200] * 19), "t.%p.hbt")
r = run(["run", "-o", long_pattern, "--", SUP, "hold", "1"])
check("too_long_pattern_refused_with_one_line", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
      and "too long" in r.stderr and "held" not in r.stdout, (r.returncode, r.stderr))

d = tempfile.mkdtemp(prefix="heldby-rp-")
sub = os.path.join(d, "elsewhere")
os.mkdir(sub)
r = run(["run", "--follow", "-o", "t.%p.hbt", "--", SUP, "chdir", sub], cwd=d)
ts = traces_in(d)
check("chdir_child_trace_lands_in_the_start_folder_and_is_listed", len(ts) == 2 and not traces_in(sub)
      and all(os.path.basename(t) in r.stderr for t in ts), (ts, traces_in(sub), r.stderr))

d = tempfile.mkdtemp(prefix="heldby-rp-")
old = os.path.join(d, "t.1.hbt")
subprocess.run([HELDBY, "run", "-o", old, "--", SUP, "hold", "1"], capture_output=True)
r = run(["run", "--follow", "-o", os.path.join(d, "t.%p.hbt"), "--", "sh", "-c", f"{SUP} hold 1"])
check("earlier_trace_of_the_same_second_not_listed", old not in r.stderr and "t.1.hbt" not in r.stderr, r.stderr)

# Where the trace goes, as a user would say it (issue 20, item 4).
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = run(["run", "-o", d, "--", SUP, "hold", "1"])
inside = [f for f in os.listdir(d) if f.startswith("heldby.")]
check("output_to_an_existing_folder_goes_inside", r.returncode == 0 and len(inside) == 1
      and not os.path.exists(d + ".1"), (os.listdir(d), r.stderr))
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = run(["run", "-o", os.path.join(d, "new", "sub", "t.%p.hbt"), "--", SUP, "hold", "1"])
check("output_into_a_missing_folder_makes_it", r.returncode == 0
      and len(traces_in(os.path.join(d, "new", "sub"))) == 1
      and os.stat(os.path.join(d, "new")).st_mode & 0o777 == 0o700, r.stderr)
d = tempfile.mkdtemp(prefix="heldby-rp-")
r = run(["run", "--", SUP, "hold", "1"], env={"HELDBY_OUTPUT": os.path.join(d, "env.%p.hbt")})
check("heldby_output_in_the_environment_is_honoured", r.returncode == 0 and len(traces_in(d)) == 1
      and os.path.basename(traces_in(d)[0]).startswith("env."), (traces_in(d), r.stderr))
for cmd, first in (("run", "usage: heldby run "), ("report", "usage: heldby report "),
                   ("check", "usage: heldby check ")):
    r = run([cmd, "--help"])
    check(f"{cmd}_help_is_its_own", r.returncode == 0 and r.stdout.startswith(first)
          and all(not line.startswith("       heldby") for line in r.stdout.splitlines()), r.stdout[:300])
d = tempfile.mkdtemp(prefix="heldby-rp-")
noexec = os.path.join(d, "not-executable")
with open(noexec, "w") as f:
    f.write("#!/bin/sh\necho hi\n")
r = run(["run", "--", noexec])
check("non_executable_program_exits_126", r.returncode == 126 and len(r.stderr.strip().splitlines()) == 1,
      (r.returncode, r.stderr))
r = run(["run", "--", os.path.join(d, "no-such-program")])
check("missing_program_exits_127", r.returncode == 127, (r.returncode, r.stderr))

done()
