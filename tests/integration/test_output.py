# SPDX-License-Identifier: MIT
"""Where the trace goes. The file is created new (O_EXCL, O_NOFOLLOW, mode
0600): an existing file or a symlink at the name is never written through;
the shim takes NAME.1 … instead and `heldby run` reports that one. A folder
that cannot be written, or a disk that fills up, stops the recording with
one warning while the program runs on unharmed: same output, same status."""
import os
import stat
import subprocess
import tempfile
from harness import (BUILD_ROOT, HELDBY, check, done, report_json, run_native, run_traced, skip,
                     victim)

SHIM = os.path.join(BUILD_ROOT, "shim", "libheldby.so")
work = tempfile.mkdtemp(prefix="heldby-output-")


def heldby_run(out, argv, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([HELDBY, "run", "-o", out, "--"] + argv, capture_output=True, text=True,
                          timeout=120, env=e)


def preloaded(out, argv):
    """The shim alone, as a user with LD_PRELOAD would use it."""
    return run_native(argv, env={"LD_PRELOAD": SHIM, "HELDBY_OUTPUT": out})


def heldby_lines(stderr):
    text = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
    return [ln for ln in text.splitlines() if ln.startswith("heldby:")]


def is_trace(path):
    with open(path, "rb") as f:
        return f.read(8) == b"HELDBYT\n"


# Mode 0600.
t = run_traced([victim("known_peak")])
check("trace_file_mode_is_0600", t.trace is not None
      and stat.S_IMODE(os.lstat(t.trace).st_mode) == 0o600, t.trace and oct(os.lstat(t.trace).st_mode))

# An existing file is not clobbered: heldby run takes NAME.1 and says so.
precious = os.path.join(work, "precious.hbt")
with open(precious, "w") as f:
    f.write("precious data\n")
r = heldby_run(precious, [victim("known_peak")])
ok = r.returncode == 0 and open(precious).read() == "precious data\n" \
    and os.path.exists(precious + ".1") and is_trace(precious + ".1")
check("run_does_not_clobber_an_existing_file", ok, r.stderr)
check("run_says_the_name_existed_and_reports_the_new_one",
      "existed" in r.stderr and precious + ".1" in r.stderr, r.stderr)
r = heldby_run(precious, [victim("known_peak")])
check("run_takes_the_next_free_suffix", r.returncode == 0 and os.path.exists(precious + ".2")
      and precious + ".2" in r.stderr, r.stderr)

# A symlink at the name is not followed, whether its target exists or not.
target = os.path.join(work, "target-file")
with open(target, "w") as f:
    f.write("do not touch\n")
link = os.path.join(work, "link.hbt")
os.symlink(target, link)
dangling = os.path.join(work, "dangling.hbt")
dangling_target = os.path.join(work, "created-through-symlink")
os.symlink(dangling_target, dangling)
r = heldby_run(link, [victim("known_peak")])
check("run_does_not_write_through_a_symlink", r.returncode == 0
      and open(target).read() == "do not touch\n" and os.path.islink(link)
      and is_trace(link + ".1"), r.stderr)
r = heldby_run(dangling, [victim("known_peak")])
check("run_does_not_create_a_dangling_symlinks_target", r.returncode == 0
      and not os.path.exists(dangling_target) and is_trace(dangling + ".1"), r.stderr)

# The shim on its own does the same.
plain = os.path.join(work, "shim-only.hbt")
with open(plain, "w") as f:
    f.write("keep\n")
p = preloaded(plain, [victim("known_peak")])
check("shim_does_not_clobber_an_existing_file", p.returncode == 0 and open(plain).read() == "keep\n"
      and is_trace(plain + ".1"), p.stderr)
shim_link = os.path.join(work, "shim-link.hbt")
os.symlink(target, shim_link)
p = preloaded(shim_link, [victim("known_peak")])
check("shim_does_not_write_through_a_symlink", p.returncode == 0
      and open(target).read() == "do not touch\n" and is_trace(shim_link + ".1"), p.stderr)

# Folders that cannot be written. Tests run as root, who ignores permission
# bits: use a parent that is a regular file, and a folder inside /proc. (A
# missing folder is made, as heaptrack does: test_conventions.py.)
native = run_native([victim("known_peak")])
not_a_dir = os.path.join(target, "t.%p.hbt")
for name, out in (("parent_is_a_file", not_a_dir), ("folder_in_proc", "/proc/self/t.%p.hbt"),
                  ("missing_folder_under_a_file", os.path.join(target, "no", "t.%p.hbt"))):
    p = preloaded(out, [victim("known_peak")])
    lines = heldby_lines(p.stderr)
    check(f"shim_unwritable_{name}_program_unharmed", p.returncode == native.returncode
          and p.stdout == native.stdout, p.stderr)
    check(f"shim_unwritable_{name}_one_warning", len(lines) == 1 and "not recording" in lines[0], lines)
marker = os.path.join(work, "ran")
r = heldby_run(not_a_dir, ["/bin/sh", "-c", f"touch {marker}"])
lines = heldby_lines(r.stderr)
check("run_into_unwritable_folder_fails_before_running", r.returncode == 2 and len(lines) == 1
      and "cannot write" in lines[0] and not os.path.exists(marker), r.stderr)


# A full disk: a small tmpfs (needs root and mount).
def try_mount(path, size):
    try:
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return m.returncode == 0


full = os.path.join(work, "full")
os.mkdir(full)
if os.geteuid() != 0 or not try_mount(full, "64k"):
    skip("full_disk_program_unharmed", "cannot mount a small tmpfs (needs root)")
    skip("full_disk_one_warning", "cannot mount a small tmpfs (needs root)")
    skip("full_disk_trace_reports_as_cut_short", "cannot mount a small tmpfs (needs root)")
    skip("full_disk_at_start_one_warning_and_no_empty_file", "cannot mount a small tmpfs (needs root)")
else:
    try:
        native = run_native([victim("xthread_reuse")])
        p = preloaded(os.path.join(full, "t.%p.hbt"), [victim("xthread_reuse")])
        lines = heldby_lines(p.stderr)
        check("full_disk_program_unharmed", p.returncode == native.returncode
              and p.stdout == native.stdout, p.stderr)
        check("full_disk_one_warning", len(lines) == 1 and "recording stopped" in lines[0], lines)
        traces = [os.path.join(full, f) for f in os.listdir(full)]
        ok = len(traces) == 1
        if ok:
            doc = report_json(traces[0])
            ok = doc["summary"]["complete"] is False and doc["summary"]["alloc_calls"] < 400000
        check("full_disk_trace_reports_as_cut_short", ok, traces)
        # Now the disk is full from the start: not even a header fits. (The
        # trace gave back what its last block took: fill that up first.)
        fd = os.open(os.path.join(full, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"x" * 512):
                pass
        except OSError:
            pass
        os.close(fd)
        traces.append(os.path.join(full, "filler"))
        p = preloaded(os.path.join(full, "again.%p.hbt"), [victim("known_peak")])
        lines = heldby_lines(p.stderr)
        check("full_disk_at_start_one_warning_and_no_empty_file", p.returncode == 0
              and len(lines) == 1 and "not recording" in lines[0]
              and sorted(os.listdir(full)) == sorted(os.path.basename(t) for t in traces),
              (lines, os.listdir(full)))
    finally:
        subprocess.run(["umount", full], capture_output=True, timeout=30)
done()
