#!/usr/bin/env bash
# Training throughput, Offramp against the PyTorch reference, same data (the
# first 1,280 MR training sentences), batch 32, max length 64, joint training
# of mean-pooled linear heads, 2 threads each, one after the other.
#   bench/train-throughput.sh [PREPARED_DIR]   (default: runs/bench-data, made if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/flags
swift build "${SWIFT_FLAGS[@]}" --product offramp >&2
BIN="$(swift build "${SWIFT_FLAGS[@]}" --show-bin-path)/offramp"
DATA="${1:-runs/bench-data}"
[ -f "$DATA/mr/train.tsv" ] || "$BIN" data prepare --out "$DATA" >&2
head -n 1280 "$DATA/mr/train.tsv" > "$DATA/mr/train-1280.tsv"
PY="$OFFRAMP_HOME/venv-peers/bin/python"
TMP=$(mktemp -d)
"$BIN" train --model "$OFFRAMP_HOME/models/minilm-l6" --train "$DATA/mr/train-1280.tsv" --mode joint --head linear --pooling mean \
  --epochs 1 --batch-size 32 --max-length 64 --head-lr 3e-5 --out "$TMP/offramp" 2> "$TMP/offramp.log"
swift_rate=$(grep -o 'done in [0-9]* s, [0-9.]* training examples/s' "$TMP/offramp.log" | grep -o '[0-9.]* training' | cut -d' ' -f1)
mkdir -p "$TMP/pt/mr" && cp "$DATA/mr/train-1280.tsv" "$TMP/pt/mr/train.tsv" && cp "$DATA/mr/dev.tsv" "$DATA/mr/test.tsv" "$TMP/pt/mr/"
"$PY" bench/train_reference.py --data "$TMP/pt/mr" --mode joint --head linear --pooling mean --epochs 1 --batch-size 32 \
  --max-length 64 --threads 2 --json 2> "$TMP/pt.log" > "$TMP/pt.json"
torch_rate=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["train_examples_per_s"])' "$TMP/pt.json")
echo "| engine | training examples/s |"
echo "|---|---:|"
echo "| offramp | $swift_rate |"
echo "| pytorch | $torch_rate |"
"$PY" -c "print('| ratio offramp/pytorch | %.2fx |' % ($swift_rate / $torch_rate))"
rm -rf "$TMP"
