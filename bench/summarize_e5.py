#!/usr/bin/env python3
"""Summarizes bench/e5.sh: `offramp sweep --json` of MiniLM-L6 (6 layers) and the
multilingual e5-small (12 layers) on the MR test split, each against its own full
depth in the same run. Prints (1) per model and policy, the fastest setting (by
FLOPs) within 1 point of the model's full-depth accuracy, (2) the best accuracy
each model keeps at a FLOPs speed-up of at least 1.5x ... 5x, and writes a plot
of accuracy against FLOPs speed-up (best accuracy at that speed-up or more)."""
import json
import sys
from pathlib import Path

from plot import svg, xy

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/e5")
models = {"MiniLM-L6 (6 layers)": "minilm", "multilingual e5-small (12 layers)": "e5"}
runs = {}
for label, stem in models.items():
    # <stem>.jsonl: the default grids; <stem>-more.jsonl: more entropy
    # thresholds, a separate run whose own full-depth line is left out.
    points = [json.loads(l) for l in (out / f"{stem}.jsonl").read_text().splitlines() if l.strip()]
    more = out / f"{stem}-more.jsonl"
    if more.exists():
        points += [p for p in map(json.loads, filter(str.strip, more.read_text().splitlines())) if p["policy"] != "full"]
    for p in points:
        p["score"] = 100 * p["accuracy"]
    runs[label] = points

print("| model | full depth | policy | setting | accuracy | avg exit layer | FLOPs speed-up | wall speed-up |")
print("|---|--:|---|---|--:|--:|--:|--:|")
for label, points in runs.items():
    full = next(p for p in points if p["policy"] == "full")
    for policy in ("entropy", "confidence", "patience"):
        ok = [p for p in points if p["policy"] == policy and p["score"] >= full["score"] - 1 - 1e-9]
        if not ok:
            continue
        b = max(ok, key=lambda p: p["flops_speedup"])
        print(f"| {label} | {full['score']:.2f} | {policy} | {b['setting']} | {b['score']:.2f} | {b['avg_exit_layer']:.2f} | "
              f"{b['flops_speedup']:.2f}x | {b['wall_speedup']:.2f}x |")

targets = [1.5, 2.0, 3.0, 4.0, 5.0]
print("\nBest accuracy at a FLOPs speed-up of at least (entropy and confidence policies):\n")
print("| model | full | " + " | ".join(f">= {t}x" for t in targets) + " |")
print("|---|--:|" + "--:|" * len(targets))
for label, points in runs.items():
    full = next(p for p in points if p["policy"] == "full")
    ps = [p for p in points if p["policy"] in ("entropy", "confidence")]
    cells = []
    for t in targets:
        ok = [p["score"] for p in ps if p["flops_speedup"] >= t]
        cells.append(f"{max(ok):.2f}" if ok else "-")
    print(f"| {label} | {full['score']:.2f} | " + " | ".join(cells) + " |")

curves = {label: xy([p for p in points if p["policy"] in ("entropy", "confidence", "full")]) for label, points in runs.items()}
path = out / "mr-e5-vs-minilm.svg"
svg("MR test: accuracy vs FLOPs speed-up (joint, mean-pooled linear exits, batch 32)", curves, path,
    "speed-up in FLOPs against the model's full depth (best accuracy at this speed-up or more)", "accuracy (%)")
print(f"\nplot: {path}")
