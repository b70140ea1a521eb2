#!/usr/bin/env python3
"""Summarizes `offramp sweep --json` files written by bench/labeling.sh.

Files are named <corpus>-<model>-<set>.jsonl. For each corpus and set it prints
(1) the best score each model reaches at a FLOPs speed-up of at least 1.5x,
2x, 2.5x and 3x, per policy family (SENTEE; TOKEE over all windows), and
(2) the target check: the fastest TOKEE setting (by FLOPs) that loses
at most 0.5 points of accuracy (POS) or 1.0 point of F1 (BIO tags) against
the same model at full depth, with its wall-clock speed-up.
Scores are F1 for BIO tag sets, else accuracy, in percent."""
import json
import sys
from collections import defaultdict
from pathlib import Path

from plot import svg, xy

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/labeling")
runs = defaultdict(dict)  # (corpus, set) -> model -> points
for f in sorted(out.glob("*.jsonl")):
    stem = f.stem
    corpus = next(c for c in ("wsj-pos", "wnut16") if stem.startswith(c))
    model, dataset = stem[len(corpus) + 1:].rsplit("-", 1)
    points = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    for p in points:
        p["score"] = 100 * p.get("f1", p["accuracy"])
    runs[(corpus, dataset)][model] = points

targets = [1.5, 2.0, 2.5, 3.0]
for (corpus, dataset), models in sorted(runs.items()):
    metric = "F1" if "f1" in next(iter(models.values()))[0] else "accuracy"
    allowed = 1.0 if metric == "F1" else 0.5
    print(f"\n## {corpus} {dataset} ({metric})\n")
    print("| model | policy | full | " + " | ".join(f">= {t}x" for t in targets) + " |")
    print("|---|---|---:|" + "---:|" * len(targets))
    for model, points in models.items():
        full = next(p for p in points if p["policy"] == "full")
        for family in ("sentee", "tokee"):
            ps = [p for p in points if p["policy"] == family]
            cells = []
            for t in targets:
                ok = [p["score"] for p in ps if p["flops_speedup"] >= t]
                cells.append(f"{max(ok):.2f}" if ok else "-")
            print(f"| {model} | {family} | {full['score']:.2f} | " + " | ".join(cells) + " |")
    print(f"\nFastest TOKEE setting within {allowed} point(s) of the model's own full depth:\n")
    print("| model | setting (k@tau) | full | score | avg exit layer | FLOPs | wall | wall/FLOPs |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model, points in models.items():
        full = next(p for p in points if p["policy"] == "full")
        ok = [p for p in points if p["policy"] == "tokee" and p["score"] >= full["score"] - allowed - 1e-9]
        if not ok:
            print(f"| {model} | none | {full['score']:.2f} | | | | | |")
            continue
        b = max(ok, key=lambda p: p["flops_speedup"])
        print(f"| {model} | {b['setting']} | {full['score']:.2f} | {b['score']:.2f} | {b['avg_exit_layer']:.2f} | "
              f"{b['flops_speedup']:.2f}x | {b['wall_speedup']:.2f}x | {b['wall_speedup'] / b['flops_speedup']:.0%} |")


for (corpus, dataset), models in sorted(runs.items()):
    metric = "F1" if "f1" in next(iter(models.values()))[0] else "accuracy"
    names = {"joint": "joint (10 epochs)", "then-joint": "+5 epochs joint", "then-tokee-random": "+5 epochs tokee-random",
             "then-tokee-self": "+5 epochs tokee-self"}
    curves = {f"TOKEE, {names.get(m, m)}": xy([p for p in ps if p["policy"] in ("tokee", "full")]) for m, ps in models.items()}
    curves["SENTEE, joint (10 epochs)"] = xy([p for p in models["joint"] if p["policy"] in ("sentee", "full")])
    path = out / f"{corpus}-{dataset}-tokee-fronts.svg"
    svg(f"{corpus} {dataset}: {metric} vs FLOPs speed-up (MiniLM-L6, batch 32)", curves, path,
        "speed-up in FLOPs (best score at this speed-up or more)", f"{metric} (%)")
    print(f"\nplot: {path}")
