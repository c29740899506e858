# SPDX-License-Identifier: MIT
"""bench/run workload: build a nested document, dump it to JSON, load it back.

Usage: /usr/bin/python3 json_roundtrip.py SCALE   (run with PYTHONMALLOC=malloc)

Stdlib only, fixed seed: the same SCALE does the same allocations every run.
Prints a digest of the text and a count so a broken run is visible."""
import hashlib
import json
import random
import sys


def build(rng, n):
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
             "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi"]
    users = []
    for i in range(n):
        users.append({
            "id": i,
            "name": f"user-{i:07d}",
            "score": round(rng.random() * 1000, 3),
            "active": rng.random() < 0.5,
            "tags": [rng.choice(words) for _ in range(rng.randrange(1, 6))],
            "history": [{"t": i * 10 + k, "v": rng.randrange(10000)} for k in range(rng.randrange(0, 8))],
            "address": {"street": f"{rng.randrange(1, 999)} {rng.choice(words).title()} St",
                        "zip": f"{rng.randrange(10000, 99999)}"},
        })
    return {"version": 1, "users": users}


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rng = random.Random(1)
    doc = build(rng, scale)
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    again = json.dumps(back, sort_keys=True, indent=1)
    back2 = json.loads(again)
    assert back2 == doc
    print(len(back2["users"]), len(text), hashlib.sha256(text.encode()).hexdigest()[:16])


if __name__ == "__main__":
    main()
