#!/usr/bin/env python3
"""Side-by-side markdown table of encoder benchmark results.

Usage:
  bench/compare.py peers.jsonl offramp.jsonl      # files ("-" = stdin)
  cat *.jsonl | bench/compare.py                  # or everything on stdin

Each input line that is a JSON object with the keys engine, case, batch, seq_len,
sentences_per_s, tokens_per_s, ms_per_batch counts (bench/peers.py --json and
`offramp bench encode --json` print such lines); anything else is skipped. For each
case the table shows sentences/s of every engine and the ratios offramp/onnxruntime
and offramp/pytorch (> 1 means offramp is faster). If an (engine, case) pair comes
twice, the later line wins. Standard library only.
"""
from __future__ import annotations

import argparse
import json
import sys

CASE_ORDER = ["b1-L16", "b1-L64", "b1-L128", "b32-L16", "b32-L64", "b32-L128", "mr-b32"]
ENGINE_ORDER = ["offramp", "offramp-bf16", "offramp-int8", "onnxruntime", "onnxruntime-int8", "onnxruntime-int8-pc", "pytorch"]
KEYS = {"engine", "case", "batch", "seq_len", "sentences_per_s", "tokens_per_s", "ms_per_batch"}


def parse(lines, rows: list[dict]) -> None:
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and KEYS <= row.keys():
            # offramp at bf16 or int8 is a column of its own beside fp32's.
            if row["engine"] == "offramp" and row.get("precision", "fp32") != "fp32":
                row["engine"] = f"offramp-{row['precision']}"
            rows.append(row)


def read_rows(sources: list[str]) -> list[dict]:
    rows: list[dict] = []
    for source in sources or ["-"]:
        if source == "-":
            parse(sys.stdin, rows)
        else:
            with open(source, encoding="utf-8") as f:
                parse(f, rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("sources", nargs="*", help="JSON-lines files; '-' or nothing reads stdin")
    args = ap.parse_args()

    rows = read_rows(args.sources)
    if not rows:
        raise SystemExit("compare.py: no benchmark rows found")
    results: dict[tuple[str, str], dict] = {}
    shape: dict[str, tuple] = {}
    for row in rows:
        results[(row["engine"], row["case"])] = row
        shape.setdefault(row["case"], (row["batch"], row["seq_len"]))

    engines = sorted({e for e, _ in results},
                     key=lambda e: (ENGINE_ORDER.index(e) if e in ENGINE_ORDER else len(ENGINE_ORDER), e))
    cases = sorted({c for _, c in results},
                   key=lambda c: (CASE_ORDER.index(c) if c in CASE_ORDER else len(CASE_ORDER), c))
    ratios = [p for p in ("onnxruntime", "pytorch") if "offramp" in engines and p in engines]

    header = ["case", "batch", "length"] + [f"{e} sent/s" for e in engines] + [f"offramp/{p}" for p in ratios]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
    for case in cases:
        batch, seq_len = shape[case]
        cells = [case, str(batch), str(seq_len)]
        for e in engines:
            r = results.get((e, case))
            cells.append(f"{r['sentences_per_s']:.1f}" if r else "–")
        mine = results.get(("offramp", case))
        for p in ratios:
            peer = results.get((p, case))
            if mine and peer and peer["sentences_per_s"] > 0:
                cells.append(f"{mine['sentences_per_s'] / peer['sentences_per_s']:.2f}×")
            else:
                cells.append("–")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
