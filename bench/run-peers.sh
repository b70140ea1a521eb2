#!/usr/bin/env bash
# Runs the peer benchmark (PyTorch and ONNX Runtime, bench/peers.py), the Swift
# benchmark (`offramp bench encode --json`, if .build/release/offramp exists) and
# prints the side-by-side table of bench/compare.py.
#
#   bench/run-peers.sh [peers.py options, e.g. --seconds 5]
#
# Needs scripts/setup to have filled $OFFRAMP_HOME (default ~/.cache/offramp).
# Creates the Python venv $OFFRAMP_HOME/venv-peers with the pinned versions below
# if it is missing (or its pins changed). torch is the CPU build: pip resolves
# torch==X to X+cpu from a local wheel dir given by PIP_FIND_LINKS; elsewhere set
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu to avoid the CUDA build.
# Results go to $BENCH_OUT (default $OFFRAMP_HOME/bench/results/<timestamp>/).
# Extra arguments for the Swift bench: OFFRAMP_BENCH_ARGS="..." (word-split), e.g.
# "--precision fp32,bf16,int8 --smooth-quant FILE --seconds 2". Cases: BENCH_CASES
# (comma-separated, default the seven of peers.py); rounds: BENCH_ROUNDS (default 1).
# The two sides alternate case by case, so both share each moment's conditions.
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
# Case by case, the peers and then Offramp: a machine whose speed drifts during
# the run (other work, clocks) then shifts both sides of each ratio alike. Each
# round repeats every case; its own table shows how far two rounds differ.
OUT="${BENCH_OUT:-$HOME_DIR/bench/results/$(date +%Y%m%d-%H%M%S)}"
ROUNDS="${BENCH_ROUNDS:-1}"
CASES="${BENCH_CASES:-b1-L16,b1-L64,b1-L128,b32-L16,b32-L64,b32-L128,mr-b32}"
mkdir -p "$OUT"
have_offramp=0
if [ -x .build/release/offramp ]; then have_offramp=1
else log "no .build/release/offramp (swift build -c release makes it); measuring the peers only"; fi
for round in $(seq 1 "$ROUNDS"); do
    dir="$OUT/round-$round"; mkdir -p "$dir"
    : > "$dir/peers.jsonl"; : > "$dir/offramp.jsonl"
    first=1
    for case in ${CASES//,/ }; do
        # ORT int8's cosine to fp32 once per round (it does not depend on the case).
        cos=(); [ $first -eq 1 ] || cos=(--cosine-sentences 0)
        log "round $round, $case: peers ($PY bench/peers.py --json --cases $case $*)"
        "$PY" bench/peers.py --json --cases "$case" "${cos[@]}" "$@" >> "$dir/peers.jsonl"
        if [ $have_offramp -eq 1 ]; then
            log "round $round, $case: offramp bench encode --json --cases $case ${OFFRAMP_BENCH_ARGS:-}"
            # shellcheck disable=SC2086
            .build/release/offramp bench encode --json --cases "$case" ${OFFRAMP_BENCH_ARGS:-} >> "$dir/offramp.jsonl" \
                || log "the Swift bench failed on $case"
        fi
        first=0
    done
    echo "## round $round" | tee -a "$OUT/compare.md"
    "$PY" bench/compare.py "$dir/peers.jsonl" "$dir/offramp.jsonl" | tee -a "$OUT/compare.md"
done
log "results in $OUT"
