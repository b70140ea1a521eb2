#!/usr/bin/env python3
"""Summarizes `offramp sweep --json` files written by bench/labeling.sh.

Files are named <corpus>-<model>-<set>.jsonl. For each corpus and set it prints
(1) the best score each model reaches at a FLOPs speed-up of at least 1.5x,
2x, 2.5x and 3x, per policy family (SENTEE; TOKEE over all windows), and
(2) the issue's target check: the fastest TOKEE setting (by FLOPs) that loses
at most 0.5 points of accuracy (POS) or 1.0 point of F1 (BIO tags) against
the same model at full depth, with its wall-clock speed-up.
Scores are F1 for BIO tag sets, else accuracy, in percent."""
import json
import sys
from collections import defaultdict
from pathlib import Path

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


def front(points):
    """The upper envelope: for each point, the best score at that FLOPs speed-up or more."""
    ps = sorted(points, key=lambda p: p["flops_speedup"])
    out = []
    for p in ps:
        best = max(q["score"] for q in ps if q["flops_speedup"] >= p["flops_speedup"])
        out.append((p["flops_speedup"], best))
    return out


def svg(title, curves, path):
    """A small SVG line plot: score against FLOPs speed-up, one curve per model."""
    w, h, m = 640, 400, 60
    xs = [x for c in curves.values() for x, _ in c]
    ys = [y for c in curves.values() for _, y in c]
    x0, x1 = 1.0, max(xs) * 1.05
    y0, y1 = max(min(ys), max(ys) - 12) - 0.5, max(ys) + 0.5
    sx = lambda x: m + (x - x0) / (x1 - x0) * (w - 2 * m)
    sy = lambda y: h - m - (y - y0) / (y1 - y0) * (h - 2 * m)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<text x="{w / 2}" y="{h - 15}" text-anchor="middle">speed-up in FLOPs (best score at this speed-up or more)</text>']
    for i in range(6):
        xv = x0 + i * (x1 - x0) / 5
        yv = y0 + i * (y1 - y0) / 5
        parts.append(f'<text x="{sx(xv)}" y="{h - m + 16}" text-anchor="middle">{xv:.1f}x</text>')
        parts.append(f'<text x="{m - 6}" y="{sy(yv) + 4}" text-anchor="end">{yv:.1f}</text>')
    for k, (name, c) in enumerate(curves.items()):
        col = colors[k % len(colors)]
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in c if y >= y0)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"/>')
        parts.append(f'<text x="{m + 12}" y="{h - m - 12 - 16 * (len(curves) - 1 - k)}" fill="{col}">{name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


for (corpus, dataset), models in sorted(runs.items()):
    metric = "F1" if "f1" in next(iter(models.values()))[0] else "accuracy"
    names = {"joint": "joint (10 epochs)", "then-joint": "+5 epochs joint", "then-tokee-random": "+5 epochs tokee-random",
             "then-tokee-self": "+5 epochs tokee-self"}
    curves = {f"TOKEE, {names.get(m, m)}": front([p for p in ps if p["policy"] in ("tokee", "full")]) for m, ps in models.items()}
    curves["SENTEE, joint (10 epochs)"] = front([p for p in models["joint"] if p["policy"] in ("sentee", "full")])
    path = out / f"{corpus}-{dataset}-tokee-fronts.svg"
    svg(f"{corpus} {dataset}: {metric} vs FLOPs speed-up (MiniLM-L6, batch 32)", curves, path)
    print(f"\nplot: {path}")
