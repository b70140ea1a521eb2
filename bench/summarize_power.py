#!/usr/bin/env python3
"""Summarizes bench/power.sh: PoWER-BERT alone and with early exit on MR.

Accuracy drops are measured against the base model (no elimination, full
depth), the model everything started from. Speed-ups are each sweep's own:
against full depth without elimination, same inputs, same run."""
import json
import sys
from pathlib import Path

from plot import svg, xy

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/power")


def load(name):
    points = [json.loads(l) for l in (out / f"{name}.jsonl").read_text().splitlines() if l.strip()]
    for p in points:
        p["score"] = 100 * p["accuracy"]
    return points


def config(name):
    return json.loads((out / name / "config.json").read_text())["offramp"].get("retention")


base = load("base")
full = base[0]["score"]
print(f"Base model (joint, mean-pooled exits): full depth {full:.2f} on the MR test split.\n")


def best(points, allowed=1.0):
    ok = [p for p in points if p["score"] >= full - allowed - 1e-9]
    return max(ok, key=lambda p: p["wall_speedup"]) if ok else None


def row(label, p):
    if p is None:
        return f"| {label} | none within 1 point | | | | |"
    return (f"| {label} | {p['policy']} {p['setting']} | {p['score']:.2f} | {p['score'] - full:+.2f} | "
            f"{p['flops_speedup']:.2f}x | {p['wall_speedup']:.2f}x |")


print("| model | setting | accuracy | vs base | FLOPs speed-up | wall speed-up |")
print("|---|---|---:|---:|---:|---:|")
print(row("base, early exit alone", best([p for p in base if p["policy"] != "full"])))
lambdas = sorted((f.stem[len("retrain-"):] for f in out.glob("retrain-*.jsonl")
                  if not f.stem.endswith(("-head", "-random"))), key=float)
curves, markers = {"early exit alone (base)": xy(base, key="wall_speedup")}, {}
for lam in lambdas:
    ps = load(f"retrain-{lam}")
    power = next(p for p in ps if p["policy"] == "power")
    print(row(f"λ={lam}: elimination alone ({config(f'retrain-{lam}')})", power))
    print(row(f"λ={lam}: elimination + early exit", best([p for p in ps if p["policy"] not in ("full", "power")])))
    markers[f"elimination alone, λ={lam}"] = [(power["wall_speedup"], power["score"])]
    curves[f"elimination + early exit, λ={lam}"] = xy([p for p in ps if p["policy"] != "full"], key="wall_speedup")

middle = next((lam for lam in lambdas if (out / f"retrain-{lam}-head.jsonl").exists()), None)
if middle:
    print(f"\nAttn-WS against Head-WS and Rand-WS at equal retention ({config(f'retrain-{middle}')}, each re-trained 2 epochs):\n")
    print("| selection | accuracy | vs base | FLOPs speed-up | wall speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, label in ((f"retrain-{middle}", "Attn-WS"), (f"retrain-{middle}-head", "Head-WS"), (f"retrain-{middle}-random", "Rand-WS")):
        p = next(p for p in load(name) if p["policy"] == "power")
        print(f"| {label} | {p['score']:.2f} | {p['score'] - full:+.2f} | {p['flops_speedup']:.2f}x | {p['wall_speedup']:.2f}x |")

path = out / "mr-power.svg"
svg("MR test: accuracy vs wall-clock speed-up (MiniLM-L6, batch 32)", curves, path,
    "speed-up in wall-clock time (best accuracy at this speed-up or more)", "accuracy (%)", markers,
    hline=(full - 1, "base - 1 point"))
print(f"\nplot: {path}")
