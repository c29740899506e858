# SPDX-License-Identifier: MIT
"""A damaged trace: cut at any byte, bytes flipped in its blocks, or not a
trace at all. `heldby report` (text and JSON) must never crash, must report
what the complete blocks hold, say when data is missing, and give one line
and a non-zero status when it cannot report at all."""
import json
import os
import struct
import subprocess
import tempfile
from harness import HELDBY, check, done, run_traced, skip, victim

work = tempfile.mkdtemp(prefix="heldby-tolerance-")


def report(path, *args):
    return subprocess.run([HELDBY, "report"] + list(args) + [path], capture_output=True,
                          timeout=120)


def write(name, data):
    p = os.path.join(work, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def blocks_of(data):
    """(offset, total length) of each block, following the framing."""
    hsize = struct.unpack_from("<I", data, 12)[0]
    out, off = [], hsize
    while off + 20 <= len(data):
        magic, _seq, stored = struct.unpack_from("<III", data, off)
        if magic != 0x4B4C4248 or off + 20 + stored > len(data):
            break
        out.append((off, 20 + stored))
        off += 20 + stored
    return hsize, out


class Outcome:
    """Both views of one file: how they ended and what the JSON said."""

    def __init__(self, path):
        self.text = report(path)
        self.json_run = report(path, "--json")
        self.doc = None
        self.problem = None
        for r, what in ((self.text, "text"), (self.json_run, "json")):
            if r.returncode not in (0, 1):
                self.problem = f"{what}: exit status {r.returncode}: {r.stderr[-300:]!r}"
            elif r.returncode == 1 and len(r.stderr.decode(errors="replace").strip().splitlines()) != 1:
                self.problem = f"{what}: failed without exactly one line: {r.stderr[-300:]!r}"
        if self.text.returncode != self.json_run.returncode and not self.problem:
            self.problem = f"text {self.text.returncode} but json {self.json_run.returncode}"
        if self.json_run.returncode == 0 and not self.problem:
            try:
                self.doc = json.loads(self.json_run.stdout)
            except ValueError as e:
                self.problem = f"json: exit 0 but invalid JSON: {e}"

    @property
    def ok(self):
        return self.problem is None

    def calls(self):
        return self.doc["summary"]["alloc_calls"] if self.doc else 0


# Things that are not traces at all: one line each, a non-zero status.
for name, path in (("nonexistent_path", os.path.join(work, "missing.hbt")),
                   # a folder is read for its traces (test_report_many): one
                   # without any
                   ("folder_without_traces", tempfile.mkdtemp(dir=work)),
                   ("empty_file", write("empty.hbt", b"")),
                   ("dev_null", "/dev/null"),
                   ("text_file", write("text.hbt", b"hello, this is not a trace\n" * 4))):
    r = report(path)
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    check(f"report_on_{name}_one_line_non_zero", r.returncode == 1 and len(lines) == 1
          and r.stdout == b"", (r.returncode, lines))

t = run_traced([victim("exit_with_threads")], env={"HELDBY_FLUSH_MS": "1"}, timeout=60)
if not check("tolerance_real_trace_recorded", t.trace is not None, t.proc.stderr):
    done()
data = open(t.trace, "rb").read()
hsize, blocks = blocks_of(data)
full = Outcome(t.trace)
check("tolerance_real_trace_has_several_blocks_and_reports",
      full.ok and full.doc and full.doc["summary"]["complete"] and len(blocks) >= 2
      and blocks[-1][0] + blocks[-1][1] == len(data),
      (full.problem, len(blocks), full.doc and full.doc["summary"]))
full_calls = full.calls()

# A newer format version, or a damaged magic: one clear line.
newer = bytearray(data)
struct.pack_into("<I", newer, 8, struct.unpack_from("<I", data, 8)[0] + 1)
r = report(write("newer.hbt", bytes(newer)))
err = r.stderr.decode(errors="replace").strip().splitlines()
check("report_on_newer_format_version_says_so", r.returncode == 1 and len(err) == 1
      and "newer" in err[0], err)
bad_magic = b"X" + data[1:]
r = report(write("badmagic.hbt", bad_magic))
err = r.stderr.decode(errors="replace").strip().splitlines()
check("report_on_damaged_magic_says_not_a_trace", r.returncode == 1 and len(err) == 1
      and "not a heldby trace" in err[0], err)

# Cut at every offset of the header and the first block header, at each
# block boundary and next to it, and at a sample across the file.
cuts = set(range(0, min(len(data), hsize + 21)))
# A few blocks stand for all: first, second, middle, last.
sample = sorted({0, 1, len(blocks) // 2, len(blocks) - 1} & set(range(len(blocks))))
for off, ln in (blocks[i] for i in sample):
    cuts.update({off - 1, off + 1, off + 20, off + ln // 2, off + ln - 1})
step = max(1, len(data) // 30)
cuts.update(range(0, len(data), step))
cuts = sorted(c for c in cuts if 0 <= c < len(data))
problems, not_monotone, over_full, refused = [], [], [], []
prev = -1
for cut in cuts:
    o = Outcome(write("cut.hbt", data[:cut]))
    if not o.ok:
        problems.append((cut, o.problem))
        continue
    if cut >= hsize and o.json_run.returncode != 0:
        refused.append((cut, o.json_run.stderr[-200:]))
    n = o.calls()
    if n > full_calls:
        over_full.append((cut, n))
    if n < prev:
        not_monotone.append((cut, n, prev))
    prev = max(prev, n)
    if o.doc and o.doc["summary"]["complete"]:
        over_full.append((cut, "claims complete"))
check(f"cut_at_{len(cuts)}_offsets_never_crashes_and_json_valid", not problems, problems[:10])
check("cut_with_whole_header_still_reports", not refused, refused[:10])
check("cut_reports_no_more_than_full_trace_and_never_complete", not over_full, over_full[:10])
check("cut_later_reports_no_fewer_events", not not_monotone, not_monotone[:10])

# Everything in the complete blocks is reported: cut right after block k.
if len(blocks) >= 2:
    off, ln = blocks[-2]
    o = Outcome(write("cut-last.hbt", data[:off + ln]))
    ok = o.ok and o.doc and o.doc["trace"]["blocks_read"] == len(blocks) - 1 \
        and not o.doc["summary"]["complete"] and o.doc["trace"]["blocks_damaged"] == 0
    check("cut_after_a_block_reads_every_complete_block", ok, (o.problem, o.doc and o.doc["trace"]))

# A flipped byte in a block's payload or header: that block is skipped,
# counted, and the report says data is missing.
problems, wrong = [], []
targets = []
for i in sample:
    off, ln = blocks[i]
    targets += [(i, off + 20 + (ln - 20) // 2), (i, off + 9), (i, off + ln - 1)]
for i, at in targets:
    damaged = bytearray(data)
    damaged[at] ^= 0x41
    o = Outcome(write("flip.hbt", bytes(damaged)))
    if not o.ok:
        problems.append((at, o.problem))
        continue
    if o.json_run.returncode != 0:
        wrong.append((at, "refused", o.json_run.stderr[-200:]))
        continue
    tr, sm = o.doc["trace"], o.doc["summary"]
    text = o.text.stdout.decode(errors="replace")
    if tr["blocks_damaged"] < 1 or sm["complete"] or tr["blocks_read"] != len(blocks) - 1 \
            or sm["alloc_calls"] > full_calls or "Damaged" not in text or b"damaged" not in o.text.stderr:
        wrong.append((i, at, tr, sm["complete"], sm["alloc_calls"]))
check(f"flipped_byte_in_{len(targets)}_places_never_crashes", not problems, problems[:10])
check("flipped_byte_skips_and_counts_only_that_block", not wrong, wrong[:10])

# Many flips at once, anywhere after the header: still never a crash.
import random
rng = random.Random(4242)
problems = []
for k in range(15):
    damaged = bytearray(data)
    for _ in range(1 + k % 6):
        damaged[rng.randrange(hsize, len(data))] = rng.randrange(256)
    o = Outcome(write("noise.hbt", bytes(damaged)))
    if not o.ok:
        problems.append((k, o.problem))
    elif o.calls() > full_calls:
        problems.append((k, "more calls than the full trace", o.calls()))
check("random_damage_never_crashes", not problems, problems[:10])
done()
