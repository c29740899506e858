# SPDX-License-Identifier: MIT
"""heldby keeps the conventions of a Unix command (issue 20, item 4): each
command's own --help, 126 and 127, HELDBY_OUTPUT under `heldby run`, output
folders made as heaptrack makes them, a trace inside an existing folder, a
trace with no events said so, `report -` on a pipe, TERM=dumb, bad HELDBY_*
values with their range, and a man page and bash completion that
`meson install` installs, read by man and by bash themselves."""
import json
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import tempfile
from harness import (BUILD_ROOT, HELDBY, SOURCE_ROOT, check, done, run_native, run_traced, skip,
                     victim)

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")
tmp = tempfile.mkdtemp(prefix="heldby-conv-")


def heldby(*args, **kw):
    return subprocess.run([HELDBY] + list(args), capture_output=True, text=True, **kw)


# ---- each command its own usage ----
for cmd in ("run", "report", "check"):
    r = heldby(cmd, "--help")
    others = [o for o in ("run", "report", "check") if o != cmd]
    check(f"conv_{cmd}_help_is_its_own", r.returncode == 0 and r.stdout.startswith(f"usage: heldby {cmd} ")
          and not any(f"heldby {o} [" in r.stdout for o in others), r.stdout[:300])

# ---- 126 for a program that cannot be run, 127 for one not there ----
noexec = os.path.join(tmp, "noexec")
open(noexec, "w").write("#!/bin/sh\necho ran\n")
os.chmod(noexec, 0o644)
r = heldby("run", "-o", os.path.join(tmp, "n.%p.hbt"), "--", noexec)
check("conv_run_not_executable_exits_126", r.returncode == 126 and "ran" not in r.stdout,
      (r.returncode, r.stderr))
r = heldby("run", "-o", os.path.join(tmp, "n.%p.hbt"), "--", os.path.join(tmp, "not-there"))
check("conv_run_not_found_exits_127", r.returncode == 127, (r.returncode, r.stderr))

# ---- HELDBY_OUTPUT is honoured by heldby run ----
d = tempfile.mkdtemp(dir=tmp)
r = subprocess.run([HELDBY, "run", "--", victim("cxx_holders")],
                   env=dict(os.environ, HELDBY_OUTPUT=os.path.join(d, "env.%p.hbt")),
                   capture_output=True, text=True, cwd=tmp)
made = [f for f in os.listdir(d) if f.startswith("env.") and f.endswith(".hbt")]
check("conv_run_honours_heldby_output", r.returncode == 0 and len(made) == 1, (os.listdir(d), r.stderr))

# ---- -o into folders that are missing, one of them named by the pid ----
base = os.path.join(tmp, "out")
r = heldby("run", "-o", os.path.join(base, "sub", "%p", "t.hbt"), "--", victim("cxx_holders"))
found = []
for root, dirs, files in os.walk(base):
    found += [os.path.join(root, f) for f in files]
pid_dirs = os.listdir(os.path.join(base, "sub")) if os.path.isdir(os.path.join(base, "sub")) else []
check("conv_run_makes_missing_folders_with_the_pid",
      r.returncode == 0 and len(found) == 1 and found[0].endswith("/t.hbt")
      and len(pid_dirs) == 1 and pid_dirs[0].isdigit(), (found, r.stderr))
if found:
    modes = [stat.S_IMODE(os.stat(p).st_mode) for p in
             (base, os.path.join(base, "sub"), os.path.dirname(found[0]))]
    check("conv_made_folders_are_private", modes == [0o700] * 3 and
          stat.S_IMODE(os.stat(found[0]).st_mode) == 0o600, [oct(m) for m in modes])
    rep = heldby("report", "--json", found[0])
    check("conv_trace_in_made_folder_reads", rep.returncode == 0
          and json.loads(rep.stdout)["summary"]["alloc_calls"] > 0, rep.stderr)
# the same by LD_PRELOAD alone, without heldby run to make the first folders
pre = os.path.join(tmp, "pre")
r = run_native([victim("cxx_holders")], env={"LD_PRELOAD": SHIM,
                                             "HELDBY_OUTPUT": os.path.join(pre, "%p", "t.hbt")})
got = [os.path.join(root, f) for root, _, files in os.walk(pre) for f in files]
check("conv_preload_makes_missing_folders", r.returncode == 0 and len(got) == 1, (got, r.stderr))

# ---- -o DIR, an existing folder: the trace goes inside it ----
inside = tempfile.mkdtemp(dir=tmp)
r = heldby("run", "-o", inside, "--", "/bin/true")
check("conv_run_o_existing_folder_writes_inside",
      r.returncode == 0 and any(f.startswith("heldby.") for f in os.listdir(inside))
      and not os.path.exists(inside + ".1"), (os.listdir(inside), r.stderr))

# ---- a trace cut inside its first block has no events, and says so ----
t = run_traced([victim("cxx_holders")])
if check("conv_trace_for_cutting", t.trace is not None, t.proc.stderr):
    data = open(t.trace, "rb").read()
    cut = os.path.join(tmp, "cut.hbt")
    open(cut, "wb").write(data[:100])
    r = heldby("report", cut)
    check("conv_report_cut_in_first_block_says_no_events",
          r.returncode == 0 and "no events recorded" in r.stdout and "Peak" not in r.stdout
          and "0 ns" not in r.stdout + r.stderr and len(r.stderr.strip().splitlines()) == 1,
          (r.stdout, r.stderr))
    # ---- report - reads a pipe, and a file given on stdin ----
    want = heldby("report", "--color", "never", t.trace).stdout.split("\n", 1)[1]
    p = subprocess.Popen(["cat", t.trace], stdout=subprocess.PIPE)
    r = subprocess.run([HELDBY, "report", "--color", "never", "-"], stdin=p.stdout,
                       capture_output=True, text=True)
    p.wait()
    check("conv_report_dash_reads_a_pipe",
          r.returncode == 0 and r.stdout.split("\n", 1)[1:] == [want], (r.returncode, r.stderr))
    with open(t.trace, "rb") as f:
        r = subprocess.run([HELDBY, "report", "--json", "-"], stdin=f, capture_output=True, text=True)
    check("conv_report_dash_reads_a_redirected_file",
          r.returncode == 0 and json.loads(r.stdout)["summary"]["alloc_calls"] > 0, r.stderr)
    r = subprocess.run([HELDBY, "report", "-"], input=b"not a trace at all\n", capture_output=True)
    check("conv_report_dash_on_garbage_one_line", r.returncode == 1
          and len(r.stderr.strip().splitlines()) == 1, r.stderr)

    # ---- colour: on a terminal, not on TERM=dumb ----
    def on_terminal(term):
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env["TERM"] = term
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(HELDBY, [HELDBY, "report", t.trace], env)
        out = b""
        while True:
            try:
                r, _, _ = select.select([fd], [], [], 30)
                chunk = os.read(fd, 65536) if r else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
        return out
    check("conv_color_on_a_terminal", b"\033[" in on_terminal("xterm"))
    check("conv_no_color_on_term_dumb", b"\033[" not in on_terminal("dumb") and
          b"Top holders" in on_terminal("dumb"))

# ---- bad HELDBY_* values: the range that is valid ----
for var, val, rng in (("HELDBY_FLUSH_MS", "abc", "from 1 to 3600000"), ("HELDBY_DEPTH", "0", "from 1 to 256"),
                      ("HELDBY_FOLLOW", "7", "from 0 to 1")):
    r = run_native(["/bin/true"], env={"LD_PRELOAD": SHIM, var: val,
                                       "HELDBY_OUTPUT": os.path.join(tmp, "bad.%p.hbt")})
    err = r.stderr.decode()
    check(f"conv_bad_{var.lower()}_says_the_range",
          r.returncode == 0 and f"{var}={val}" in err and rng in err and "using" in err, err)

# ---- man page and bash completion, installed by meson install ----
intro = subprocess.run(["meson", "introspect", "--installed", BUILD_ROOT], capture_output=True, text=True)
installed = json.loads(intro.stdout) if intro.returncode == 0 else {}
man_src = os.path.join(SOURCE_ROOT, "docs", "heldby.1")
comp_src = os.path.join(SOURCE_ROOT, "completions", "heldby.bash")
dests = {os.path.realpath(k): v for k, v in installed.items()}
check("conv_meson_installs_man_page",
      dests.get(os.path.realpath(man_src), "").endswith("/man/man1/heldby.1"), sorted(installed.values())[:40])
check("conv_meson_installs_bash_completion",
      dests.get(os.path.realpath(comp_src), "").endswith("/bash-completion/completions/heldby"),
      sorted(installed.values())[:40])
if shutil.which("groff") and shutil.which("man"):
    g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man_src], capture_output=True, text=True)
    m = subprocess.run(["man", "-l", man_src], capture_output=True, text=True,
                       env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
    check("conv_man_page_renders_without_warnings", g.returncode == 0 and not g.stderr
          and m.returncode == 0 and "which call sites hold" in m.stdout, g.stderr + m.stderr)
    page = re.sub(r".\x08", "", m.stdout).replace("\u2010", "-").replace("\u2212", "-")
    page = re.sub(r"-\n\s+", "-", page)
    missing = []
    for cmd in ("run", "report", "check", "snapshot"):
        for opt in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", heldby(cmd, "--help").stdout)):
            if opt not in page:
                missing.append((cmd, opt))
    check("conv_man_page_has_every_option_of_the_help", not missing, missing)
else:
    skip("conv_man_page_renders_without_warnings", "no groff/man")
    skip("conv_man_page_has_every_option_of_the_help", "no groff/man")


def complete(line):
    """What bash offers for the last word of line, with heldby's completion."""
    words = line.split(" ")
    script = (f"source {comp_src}\n"
              f"COMP_WORDS=({' '.join(repr(w) if w else chr(39)*2 for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\nCOMP_LINE={line!r}\nCOMP_POINT=${{#COMP_LINE}}\n"
              "_heldby heldby\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                       cwd=tmp)
    return r.stdout.split(), r.stderr


got, err = complete("heldby re")
check("conv_completion_commands", got == ["report"], (got, err))
got, err = complete("heldby report --d")
check("conv_completion_report_options", got == ["--depth"], (got, err))
got, err = complete("heldby report --color a")
check("conv_completion_color_values", sorted(got) == ["all", "always", "auto"][1:], (got, err))
open(os.path.join(tmp, "x.123.hbt"), "w").close()
got, err = complete("heldby report x")
check("conv_completion_report_offers_traces", "x.123.hbt" in got and "x" not in got, (got, err))
got, err = complete("heldby snapshot --l")
check("conv_completion_snapshot_options", got == ["--label"], (got, err))
got, err = complete("heldby check --max")
check("conv_completion_check_options", sorted(got) == ["--max-blocks", "--max-end", "--max-peak"], (got, err))
done()
