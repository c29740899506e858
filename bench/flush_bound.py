#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a kill -9 loses, on a quiet and on a loaded machine (issue 19).

usage: bench/flush_bound.py [--build build] [--runs 10] [--loads 0,4,16]

A program that allocates all the time (bench/churn.c, built here) runs with
libheldby preloaded and HELDBY_FLUSH_MS at its default (200); after a random
0.3 to 1.5 s it is killed with SIGKILL. What it lost is the time between the
kill and the last event its trace holds (trace.start_real_ns +
summary.duration_ns). Each load is that many busy loops of our own (sh
`while :`), started before the runs and left running through them. Prints a
line per load: median, 90th percentile and worst loss, and how many runs
lost more than the flush period. Numbers, not pass/fail: docs/lifecycle.md
quotes them.
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_churn(work):
    out = os.path.join(work, "churn")
    subprocess.run(["cc", "-O2", "-g", "-pthread", "-o", out, os.path.join(HERE, "churn.c")], check=True)
    return out


def one_run(heldby, shim, churn, work, rng):
    d = tempfile.mkdtemp(dir=work)
    env = dict(os.environ, LD_PRELOAD=shim, HELDBY_OUTPUT=os.path.join(d, "t.%p.hbt"))
    p = subprocess.Popen([churn, "1", "4000000000"], env=env, stdout=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 1.5))
    killed_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
    p.send_signal(signal.SIGKILL)
    p.wait()
    traces = [os.path.join(d, f) for f in os.listdir(d)]
    if len(traces) != 1:
        return None
    r = subprocess.run([heldby, "report", "--json", "--top", "1", traces[0]], capture_output=True, text=True)
    shutil.rmtree(d)
    if r.returncode != 0:
        return None
    j = json.loads(r.stdout)
    last_ns = j["trace"]["start_real_ns"] + j["summary"]["duration_ns"]
    return (killed_ns - last_ns) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--loads", default="0,4,16")
    a = ap.parse_args()
    heldby = os.path.join(a.build, "tools", "heldby")
    shim = os.path.join(a.build, "shim", "libheldby.so")
    work = tempfile.mkdtemp(prefix="heldby-flush-")
    churn = build_churn(work)
    rng = random.Random(1)
    print(f"machine: {os.cpu_count()} CPUs; HELDBY_FLUSH_MS 200; {a.runs} runs per load")
    for load in [int(x) for x in a.loads.split(",")]:
        busy = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(load)]
        try:
            losses = [x for x in (one_run(heldby, shim, churn, work, rng) for _ in range(a.runs))
                      if x is not None]
        finally:
            for b in busy:
                b.kill()
                b.wait()
        if not losses:
            print(f"load {load:3d}: no readable trace")
            continue
        losses.sort()
        p90 = losses[min(len(losses) - 1, int(0.9 * len(losses)))]
        over = sum(x > 200 for x in losses)
        print(f"load {load:3d}: lost median {statistics.median(losses):6.0f} ms, p90 {p90:6.0f} ms, "
              f"worst {losses[-1]:6.0f} ms; over 200 ms: {over} of {len(losses)}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
