# SPDX-License-Identifier: MIT
"""The shim's side of `heldby snapshot` (shim/control.c, docs/lifecycle.md,
"Snapshots"): a request file PATH.ctl beside a running trace gets a MARK at
that moment, on disk, and an answer in the same file; a request that is
malformed, a symlink or writable by others is left alone; the program
notices nothing. The test plays the tool's part of the protocol itself."""
import ctypes
import errno
import os
import queue
import re
import struct
import subprocess
import tempfile
import threading
import time
from harness import HELDBY, check, done, report_json, run_native, skip, victim

PROG = victim("phases")
# The documented bound is the writer's next wake (50 ms while events flow,
# a fraction of HELDBY_FLUSH_MS idle); this is it with room for a loaded
# machine. Answers are waited for much longer, so that slow and never differ.
ANSWER_BOUND_S = 2.0
ANSWER_WAIT_S = 30.0
IN_OPEN = 0x20


class Watch:
    """inotify on a folder: who opened which file in it, so that a check
    that a request was left alone knows the writer did look at it."""

    def __init__(self, folder):
        self.fd = -1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd >= 0 and libc.inotify_add_watch(fd, folder.encode(), IN_OPEN) >= 0:
                self.fd = fd
        except (OSError, AttributeError):
            pass

    def opened(self, name, timeout):
        """True once name is opened within timeout s; None without inotify."""
        if self.fd < 0:
            time.sleep(1.0)
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            at = 0
            while at + 16 <= len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, at)
                got = buf[at + 16:at + 16 + n].rstrip(b"\0").decode(errors="replace")
                at += 16 + n
                if mask & IN_OPEN and got == name:
                    return True
        return False

    def drain(self):
        if self.fd >= 0:
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass


def put_file(path, content, mode=0o600, owner=None):
    """As the tool does: a temporary beside it, renamed into place."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, content)
    os.fchmod(fd, mode)
    if owner is not None:
        os.fchown(fd, owner, owner)
    os.close(fd)
    os.rename(tmp, path)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_answer(ctl, timeout=ANSWER_WAIT_S):
    """(answer, seconds) once ctl holds a whole answer line; (content, None)
    when none came."""
    start = time.monotonic()
    content = b""
    while time.monotonic() - start < timeout:
        content = read(ctl)
        if content.startswith((b"done\t", b"failed\t")) and content.endswith(b"\n"):
            return content, time.monotonic() - start
        time.sleep(0.005)
    return content, None


def snapshot(ctl, label):
    """One request by the protocol; (answer, seconds)."""
    put_file(ctl, b"snapshot\t" + label.encode() + b"\n")
    answer, took = wait_answer(ctl)
    os.unlink(ctl)
    return answer, took


def parse_done(answer):
    """(label, t_ns) of a done answer, else None."""
    m = re.fullmatch(rb"done\t(.*)\t(\d+)\n", answer, re.S)
    return (m.group(1).decode(), int(m.group(2))) if m else None


def proc_state(pid):
    """What the program could notice: its threads and its signal state."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: fields[k].strip() for k in ("Threads", "SigBlk", "SigIgn", "SigCgt")}


class Lines:
    """The program's stdout, line by line, without blocking the test."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.all = []
        self.eof = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put(None)

    def until(self, want, timeout=60):
        """True once a line is want; False at the end or after timeout s."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self.eof = True
                break
            self.all.append(line)
            if line.decode(errors="replace").strip() == want:
                return True
        return False

    def text(self):
        """Everything, once the program closed its output."""
        self.until(None)
        return b"".join(self.all)

    def held(self, phase):
        for line in self.all:
            m = re.fullmatch(rf"{phase} holds (\d+) bytes in (\d+) blocks\n", line.decode())
            if m:
                return int(m.group(1)), int(m.group(2))
        return None


def mark(report, label):
    found = [m for m in report["marks"] if m["label"] == label]
    return found[0] if len(found) == 1 else None


def phase1(out, trace, watch, answers):
    """Snapshots while phase 1 holds its blocks, and the requests left alone."""
    ctl = trace + ".ctl"
    ctl_name = os.path.basename(ctl)
    pid = int(os.path.basename(trace).split(".")[1])
    before = proc_state(pid)

    # ---- answered: a default label, numbered from 1 ----
    answer, took = snapshot(ctl, "")
    answers["snapshot-1"] = a = parse_done(answer)
    check("default_label_answer_is_done_snapshot_1", a is not None and a[0] == "snapshot-1", answer)
    check("answered_within_the_bound", took is not None and took < ANSWER_BOUND_S, took)

    # The trace is still being written, and has the mark, with the bytes
    # phase 1 holds (and what libc holds besides: the same at every mark).
    r = report_json(trace)
    m = mark(r, "snapshot-1")
    held = out.held("phase1")
    check("running_trace_has_the_mark_at_the_answered_time",
          m is not None and a is not None and m["time_ns"] == a[1], (m, a))
    check("running_trace_not_complete", r["summary"]["complete"] is False, r["summary"])
    check("mark_holds_phase1_bytes", m is not None and held is not None
          and 0 <= m["bytes"] - held[0] < 65536, (m, held))

    # ---- left alone: not a request, writable by others, a symlink ----
    def left_alone(name, content, mode=0o600, owner=None):
        put_file(ctl, content, mode, owner)
        watch.drain()  # our own opens; the writer opens it again each poll
        looked = watch.opened(ctl_name, ANSWER_WAIT_S)
        time.sleep(0.2)  # an answer, had there been one, is written by now
        now = read(ctl)
        check(f"{name}_left_alone", looked is not False and now == content, (looked, now))
        os.unlink(ctl)

    for name, content in (("no_newline", b"snapshot\tx"), ("no_tab", b"snapshot x\n"),
                          ("other_verb", b"status\tx\n"), ("nul_in_label", b"snapshot\ta\0b\n"),
                          ("two_lines", b"snapshot\ta\nb\n"),
                          ("label_over_200_bytes", b"snapshot\t" + b"x" * 201 + b"\n")):
        left_alone(f"malformed_{name}", content)
    for mode in (0o602, 0o620, 0o666):
        left_alone(f"writable_by_others_{mode:o}", b"snapshot\tshared\n", mode)
    if os.geteuid() == 0:  # the traced process is root's too: only root may chown
        left_alone("owned_by_another_user", b"snapshot\tnobody\n", owner=65534)
    else:
        skip("owned_by_another_user_left_alone", "needs root to give a file away")
    target = os.path.join(os.path.dirname(trace), "target")
    put_file(target, b"snapshot\tvia-symlink\n")
    os.symlink(target, ctl)
    time.sleep(1.0)  # O_NOFOLLOW: the open fails, nothing tells when it was
    check("symlink_not_followed", read(target) == b"snapshot\tvia-symlink\n" and os.path.islink(ctl),
          read(target))
    os.unlink(ctl)

    # ---- answered again: the number counts the trace's snapshots ----
    answer, took = snapshot(ctl, "")
    answers["snapshot-2"] = a = parse_done(answer)
    check("second_default_label_is_snapshot_2", a is not None and a[0] == "snapshot-2", answer)
    check("second_answered_within_the_bound", took is not None and took < ANSWER_BOUND_S, took)
    check("program_noticed_nothing_threads_and_signals", proc_state(pid) == before,
          (before, proc_state(pid)))


def phase2(trace, answers):
    ctl = trace + ".ctl"
    label = "phase two\t\u00fcber "  # a tab, UTF-8: only newline and NUL are out
    label += "x" * (200 - len(label.encode()))
    answer, _ = snapshot(ctl, label)
    answers[label] = a = parse_done(answer)
    check("explicit_label_of_200_bytes_answered", a is not None and a[0] == label, answer)
    answer, _ = snapshot(ctl, "")
    answers["snapshot-4"] = a = parse_done(answer)
    check("default_label_counts_labelled_snapshots_too", a is not None and a[0] == "snapshot-4",
          answer)
    return label


def finished(trace, out, answers, label):
    """The trace once the program ended: complete, with every mark."""
    r = report_json(trace)
    check("trace_complete", r["summary"]["complete"] is True, r["summary"])
    check("marks_are_the_answered_snapshots_in_order",
          [m["label"] for m in r["marks"]] == ["snapshot-1", "snapshot-2", label, "snapshot-4"],
          r["marks"])
    times = {m["label"]: m["time_ns"] for m in r["marks"]}
    check("mark_times_are_the_answered_times",
          all(a is not None and times.get(k) == a[1] for k, a in answers.items()), (times, answers))
    m1, m2, m3, m4 = (mark(r, k) for k in ("snapshot-1", "snapshot-2", label, "snapshot-4"))
    held1, held2 = out.held("phase1"), out.held("phase2")
    if not check("all_four_marks_and_phase_sizes", None not in (m1, m2, m3, m4, held1, held2),
                 (r["marks"], out.all)):
        return
    check("phase1_marks_hold_the_same", (m1["bytes"], m1["blocks"]) == (m2["bytes"], m2["blocks"]),
          (m1, m2))
    check("phase2_marks_hold_the_same", (m3["bytes"], m3["blocks"]) == (m4["bytes"], m4["blocks"]),
          (m3, m4))
    # What libc holds besides the phases' blocks (stdout's buffer) is the
    # same at both: each mark holds its phase's bytes exactly, plus that.
    check("marks_hold_exactly_each_phase",
          m1["bytes"] - held1[0] == m3["bytes"] - held2[0]
          and m1["blocks"] - held1[1] == m3["blocks"] - held2[1], (m1, m3, held1, held2))


def main():
    d = tempfile.mkdtemp(prefix="heldby-snap-")
    go1, go2 = os.path.join(d, "go1"), os.path.join(d, "go2")
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([HELDBY, "run", "-o", os.path.join(d, "t.%p.hbt"), "--", PROG, go1, go2],
                         stdout=subprocess.PIPE, stderr=err)
    out = Lines(p.stdout)
    answers, label, trace = {}, None, None
    try:
        ready = out.until("phase1 ready")
        traces = [f for f in os.listdir(d) if re.fullmatch(r"t\.\d+\.hbt", f)]
        if check("program_reached_phase1_with_one_trace", ready and len(traces) == 1,
                 (ready, os.listdir(d))):
            trace = os.path.join(d, traces[0])
            phase1(out, trace, Watch(d), answers)
            put_file(go1, b"")
            if check("program_reached_phase2", out.until("phase2 ready")):
                label = phase2(trace, answers)
    finally:
        for go in (go1, go2):
            if not os.path.exists(go):
                put_file(go, b"")
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    err.seek(0)
    err = err.read()
    native = run_native([PROG, go1, go2])
    check("program_output_unchanged", out.text() == native.stdout, (out.all, native.stdout))
    check("program_exit_status_unchanged", p.returncode == native.returncode == 0,
          (p.returncode, native.returncode, err))
    if trace and label:
        finished(trace, out, answers, label)
        check("no_request_file_left", not os.path.exists(trace + ".ctl"))


# ---- a trace that cannot be written: "failed" ----
# In a 1 MiB tmpfs of its own, filled up: each snapshot's block takes the
# trace's last page a little further, until a write fails (ENOSPC). That
# request, and every one after, is answered "failed"; the program goes on
# as natively. One request file is reused (a new one's content needs room).
FULL_SH = r"""
mount -t tmpfs -o size=1m heldby-snap "$1" || exit 97
d=$1 k=$2 heldby=$3 prog=$4
"$heldby" run -o "$d/t.%p.hbt" -- "$prog" "$d/go1" "$d/go2" >"$k/out" 2>"$k/err" &
wait_for() { # PATTERN FILE: 30 s at most
	i=0
	until grep -q "$1" "$2" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 3000 ] && exit 98; sleep 0.01
	done
}
wait_for '^phase1 ready$' "$k/out"
t=$(ls "$d" | grep -E '^t\.[0-9]+\.hbt$')
n=1
printf 'snapshot\tfull-%d\n' $n >"$d/req"
dd if=/dev/zero of="$d/fill" bs=4096 2>/dev/null
while [ $n -le 400 ] && [ "$(grep -c '^failed' "$k/answers" 2>/dev/null)" != 2 ]; do
	mv "$d/req" "$d/$t.ctl"
	wait_for '^\(done\|failed\)	.*$' "$d/$t.ctl"
	cat "$d/$t.ctl" >>"$k/answers"
	rm "$d/$t.ctl"
	n=$((n + 1))
	printf 'snapshot\tfull-%d\n' $n >"$d/req"
done
rm -f "$d/fill"
touch "$d/go1" "$d/go2"
wait $!
echo $? >"$k/status"
cp "$d/$t" "$k/trace"
"""


def full_disk():
    disk = tempfile.mkdtemp(prefix="heldby-snap-disk-")
    keep = tempfile.mkdtemp(prefix="heldby-snap-kept-")
    unshare = ["unshare", "--mount"] if os.geteuid() == 0 else \
        ["unshare", "--user", "--map-root-user", "--mount"]
    try:
        proc = subprocess.run(unshare + ["sh", "-c", FULL_SH, "sh", disk, keep, HELDBY, PROG],
                              capture_output=True, timeout=240)
    except (OSError, subprocess.TimeoutExpired) as e:
        return skip("full_disk", f"no tmpfs of our own here: {e}")
    if proc.returncode == 97 or b"unshare failed" in proc.stderr:
        return skip("full_disk", f"no tmpfs of our own here: {proc.stderr!r}")
    if not check("full_disk_script_ran", proc.returncode == 0, (proc.returncode, proc.stderr)):
        return

    def kept(name):
        with open(os.path.join(keep, name), "rb") as f:
            return f.read()

    answers = kept("answers").decode(errors="replace").splitlines()
    done_ = [a for a in answers if a.startswith("done\t")]
    failed = answers[len(done_):]
    reason = f"failed\t{os.strerror(errno.ENOSPC)}"
    check("full_disk_answers_done_then_failed_with_the_reason",
          len(done_) >= 1 and failed == [reason, reason]
          and [a.split("\t")[1] for a in done_] == [f"full-{i}" for i in range(1, len(done_) + 1)],
          answers[-5:])
    go = os.path.join(keep, "go")
    put_file(go, b"")
    native = run_native([PROG, go, go])
    check("full_disk_program_as_natively", kept("out") == native.stdout and kept("status") == b"0\n",
          (kept("out"), kept("status"), kept("err")))
    r = report_json(os.path.join(keep, "trace"))
    check("full_disk_trace_has_the_answered_marks",
          [(m["label"], m["time_ns"]) for m in r["marks"]]
          == [(a.split("\t")[1], int(a.split("\t")[2])) for a in done_], (r["marks"][-3:], done_[-3:]))


main()
full_disk()
done()
