#!/usr/bin/env python3
"""Compares a fresh peer benchmark with the recorded one and fails when any
ratio fell by more than 10%.

    bench/check_regression.py [RECORDED.jsonl] FRESH_DIR_OR_JSONL...

RECORDED defaults to the newest file in bench/recorded/. FRESH is what
bench/run-peers.sh wrote (its results directory, or JSON lines files). The
ratios are offramp/onnxruntime and offramp/pytorch per case, each from one
run, so machine speed cancels out; a ratio below 0.9x its recorded value is
a regression. Run by hand (after bench/run-peers.sh), not in CI."""
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
args = [Path(a) for a in sys.argv[1:]]
if args and args[0].suffix == ".jsonl" and args[0].parent.resolve() == (here / "recorded").resolve():
    recorded, fresh = args[0], args[1:]
else:
    recorded, fresh = sorted((here / "recorded").glob("*.jsonl"))[-1], args
if not fresh:
    sys.exit(__doc__)


def ratios(files):
    speed = {}
    for f in files:
        for path in (sorted(f.glob("*.jsonl")) if f.is_dir() else [f]):
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    speed[(r["case"], r["engine"])] = r["sentences_per_s"]
    out = {}
    for (case, engine), v in speed.items():
        if engine != "offramp":
            ours = speed.get((case, "offramp"))
            if ours:
                out[(case, engine)] = ours / v
    return out


old, new = ratios([recorded]), ratios(fresh)
print(f"recorded: {recorded.name}")
print("| case | peer | recorded | fresh | change |")
print("|---|---|--:|--:|--:|")
failed = []
for key in sorted(old):
    if key not in new:
        print(f"| {key[0]} | {key[1]} | {old[key]:.2f}x | missing | |")
        failed.append(key)
        continue
    change = new[key] / old[key]
    mark = " **regression**" if change < 0.9 else ""
    print(f"| {key[0]} | {key[1]} | {old[key]:.2f}x | {new[key]:.2f}x | {change - 1:+.0%}{mark} |")
    if change < 0.9:
        failed.append(key)
if failed:
    sys.exit(f"{len(failed)} ratio(s) fell more than 10% (or are missing)")
print("no ratio fell more than 10%")
