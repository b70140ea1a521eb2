"""The bench summaries' plots, drawn by `offramp plot` (the SVGPlot that
`offramp sweep` uses): the points go to FILE.plot.json next to the SVG, and
the binary draws them. It is $OFFRAMP_BIN (the bench scripts pass the one
they built), else built here the way they build it."""
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def offramp():
    if os.environ.get("OFFRAMP_BIN"):
        return os.environ["OFFRAMP_BIN"]
    build = 'source scripts/flags && swift build "${SWIFT_FLAGS[@]}" --product offramp >&2 && swift build "${SWIFT_FLAGS[@]}" --show-bin-path'
    out = subprocess.run(["bash", "-c", build], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return str(Path(out.strip().splitlines()[-1]) / "offramp")


def xy(points, key="flops_speedup"):
    """(speed-up, score) of sweep points, speed-up by `key`."""
    return [(p[key], p["score"]) for p in points]


def svg(title, curves, path, xlabel, ylabel, markers=None, hline=None):
    """One curve per entry of `curves` ({name: [(x, y)]}), each drawn as its
    upper envelope (the best score at that speed-up or more); `markers`
    ({name: [(x, y)]}) as single points; `hline` = (y, label) as a dashed
    reference line. The y axis shows at most 12 points below the top."""
    spec = {"curves": [{"name": n, "points": c, "envelope": True} for n, c in curves.items()]}
    if markers:
        spec["markers"] = [{"name": n, "points": c} for n, c in markers.items()]
    if hline:
        spec["hline"] = {"y": hline[0], "label": hline[1]}
    series = path.with_suffix(".plot.json")
    series.write_text(json.dumps(spec) + "\n")
    subprocess.run([offramp(), "plot", "--series", str(series), "--out", str(path), "--title", title,
                    "--x-label", xlabel, "--y-label", ylabel, "--y-span", "12"], check=True, stderr=subprocess.DEVNULL)
