#!/usr/bin/env bash
# Runs the peer benchmark (PyTorch and ONNX Runtime, bench/peers.py), the Swift
# benchmark (`offramp bench encode --json`, if .build/release/offramp exists) and
# prints the side-by-side table of bench/compare.py.
#
#   bench/run-peers.sh [peers.py options, e.g. --seconds 5 --cases b1-L16,mr-b32]
#
# Needs scripts/setup to have filled $OFFRAMP_HOME (default ~/.cache/offramp).
# Creates the Python venv $OFFRAMP_HOME/venv-peers with the pinned versions below
# if it is missing (or its pins changed). torch is the CPU build: pip resolves
# torch==X to X+cpu from a local wheel dir given by PIP_FIND_LINKS; elsewhere set
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu to avoid the CUDA build.
# Results go to $BENCH_OUT (default $OFFRAMP_HOME/bench/results/<timestamp>/).
# Extra arguments for the Swift bench: OFFRAMP_BENCH_ARGS="..." (word-split).
set -euo pipefail

cd "$(dirname "$0")/.."
HOME_DIR="${OFFRAMP_HOME:-$HOME/.cache/offramp}"
VENV="$HOME_DIR/venv-peers"
PY="$VENV/bin/python"
log() { echo "run-peers: $*" >&2; }

# Versions the committed fixtures and the reported numbers were made with.
PINS=(
  torch==2.13.0
  transformers==5.23.0
  tokenizers==0.23.3
  safetensors==0.8.0
  onnxruntime==1.31.1
  onnx==1.23.2
  onnxscript==0.7.2
  numpy==2.4.6
)

# --- the venv ----------------------------------------------------------------------
stamp="$VENV/.offramp-pins"
if [ ! -x "$PY" ]; then
    log "creating $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${PINS[*]}" ]; then
    log "installing ${PINS[*]}"
    "$PY" -m pip install -q --upgrade pip >&2 || true
    "$PY" -m pip install -q "${PINS[@]}" >&2
    echo "${PINS[*]}" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
fi

# --- the runs ----------------------------------------------------------------------
OUT="${BENCH_OUT:-$HOME_DIR/bench/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
log "peers: $PY bench/peers.py --json $*"
"$PY" bench/peers.py --json "$@" > "$OUT/peers.jsonl"
sources=("$OUT/peers.jsonl")

if [ -x .build/release/offramp ]; then
    log "offramp: .build/release/offramp bench encode --json ${OFFRAMP_BENCH_ARGS:-}"
    # shellcheck disable=SC2086
    if .build/release/offramp bench encode --json ${OFFRAMP_BENCH_ARGS:-} > "$OUT/offramp.jsonl"; then
        sources+=("$OUT/offramp.jsonl")
    else
        log "the Swift bench failed; comparing the peers only"
    fi
else
    log "no .build/release/offramp (swift build -c release makes it); comparing the peers only"
fi

"$PY" bench/compare.py "${sources[@]}" | tee "$OUT/compare.md"
log "results in $OUT"
