#!/usr/bin/env bash
# Measures PoWER-BERT word-vector elimination on MR with MiniLM-L6, alone and
# with early exit: the configuration found per λ, accuracy, FLOPs and
# wall-clock speed-up (docs/results.md#power-bert).
#
# Base: the main job's model (joint, mean-pooled linear exits, 3 epochs).
# For each λ: configuration search (soft extract, 2 epochs, r at lr 3e-3),
# then re-training at the configuration found (hard extract, 2 epochs).
# At the middle λ's configuration, re-training also with Head-WS and
# Rand-WS, for Attn-WS against both at equal retention. Every model is then
# swept on the MR test split (batch 32): elimination alone ("power") and
# with the entropy and confidence exit policies, FLOPs and wall clock
# against full depth without elimination in the same run. All sweeps run
# after all training, on a quiet machine. A model already in $OUT is reused.
#   OUT   where results go (default: runs/power)
source "$(dirname "$0")/prepare.sh" power
D="$OUT/data/mr"
LAMBDAS="${LAMBDAS:-1e-3 1.5e-3 2e-3 3e-3 1e-2}"
MIDDLE="${MIDDLE:-3e-3}"

[ -f "$OUT/base/config.json" ] || "$BIN" train --model "$MODEL" --task classify --mode joint --head linear --pooling mean \
  --train "$D/train.tsv" --dev "$D/dev.tsv" --epochs 3 --batch-size 32 --max-length 64 --lr 3e-5 --head-lr 3e-5 --out "$OUT/base" \
  2> "$OUT/base.log"
for lambda in $LAMBDAS; do
  [ -f "$OUT/search-$lambda/config.json" ] || "$BIN" power search --model "$OUT/base" --train "$D/train.tsv" --dev "$D/dev.tsv" \
    --lambda "$lambda" --epochs 2 --retention-lr 3e-3 --out "$OUT/search-$lambda" 2> "$OUT/search-$lambda.log"
  [ -f "$OUT/retrain-$lambda/config.json" ] || "$BIN" power retrain --model "$OUT/search-$lambda" --train "$D/train.tsv" \
    --dev "$D/dev.tsv" --epochs 2 --out "$OUT/retrain-$lambda" 2> "$OUT/retrain-$lambda.log"
done
for selection in head random; do
  [ -f "$OUT/retrain-$MIDDLE-$selection/config.json" ] || "$BIN" power retrain --model "$OUT/search-$MIDDLE" \
    --train "$D/train.tsv" --dev "$D/dev.tsv" --epochs 2 --selection "$selection" --out "$OUT/retrain-$MIDDLE-$selection" \
    2> "$OUT/retrain-$MIDDLE-$selection.log"
done

# Sweeps, after all training.
"$BIN" sweep --model "$OUT/base" --data "$D/test.tsv" --policies entropy,confidence --json --plot "$OUT/base.svg" \
  2> /dev/null > "$OUT/base.jsonl"
for lambda in $LAMBDAS; do
  "$BIN" sweep --model "$OUT/retrain-$lambda" --data "$D/test.tsv" --policies entropy,confidence --json \
    --plot "$OUT/retrain-$lambda.svg" 2> /dev/null > "$OUT/retrain-$lambda.jsonl"
done
for selection in head random; do
  "$BIN" sweep --model "$OUT/retrain-$MIDDLE-$selection" --data "$D/test.tsv" --policies confidence --thresholds 0.99 --json \
    --plot "$OUT/retrain-$MIDDLE-$selection.svg" 2> /dev/null > "$OUT/retrain-$MIDDLE-$selection.jsonl"
done
OFFRAMP_BIN="$BIN" python3 bench/summarize_power.py "$OUT" | tee "$OUT/summary.md"
