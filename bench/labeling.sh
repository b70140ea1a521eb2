#!/usr/bin/env bash
# Measures token-level exit on real data: accuracy (WSJ POS) and entity F1
# (WNUT-16 NER) against FLOPs and wall-clock speed-up for SENTEE and TOKEE
# with MiniLM-L6, after joint training and after TOKEE fine-tuning
# (docs/results.md#token-level-exit).
#
# For each corpus: joint training (10 epochs, lr 5e-5, heads 5e-4); then,
# from that model, 5 more epochs at lr 1e-5 (heads 1e-4) in three ways:
# tokee-self (self-sampling), tokee-random, and plain joint (the control:
# the same extra training without halting). Each model is swept on the test
# split (and on dev+test for WNUT, whose 153 test entities make F1 coarse),
# batch 32; tables, --json lines and plots go to $OUT, and a summary
# compares the curves at equal FLOPs speed-up. A model already in $OUT is
# reused (delete it to retrain).
#   OUT   where results go (default: runs/labeling)
source "$(dirname "$0")/prepare.sh" labeling
cat "$OUT/data/wnut16/dev.conll" "$OUT/data/wnut16/test.conll" > "$OUT/data/wnut16/devtest.conll"

for corpus in wsj-pos wnut16; do
  D="$OUT/data/$corpus"
  [ -f "$OUT/$corpus-joint/config.json" ] || "$BIN" train --model "$MODEL" --task label --mode joint --train "$D/train.conll" --dev "$D/dev.conll" \
    --test "$D/test.conll" --epochs 10 --lr 5e-5 --head-lr 5e-4 --max-length 128 --out "$OUT/$corpus-joint" \
    2> "$OUT/$corpus-joint.log" | tee "$OUT/$corpus-joint.test.txt"
  for mode in tokee-self tokee-random joint; do
    [ -f "$OUT/$corpus-then-$mode/config.json" ] || "$BIN" train --model "$OUT/$corpus-joint" --task label --mode "$mode" --train "$D/train.conll" --dev "$D/dev.conll" \
      --test "$D/test.conll" --epochs 5 --lr 1e-5 --head-lr 1e-4 --max-length 128 --out "$OUT/$corpus-then-$mode" \
      2> "$OUT/$corpus-then-$mode.log" | tee "$OUT/$corpus-then-$mode.test.txt"
  done
  sets=(test)
  [ "$corpus" = wnut16 ] && sets+=(devtest)
  for set in "${sets[@]}"; do
    for m in joint then-tokee-self then-tokee-random then-joint; do
      "$BIN" sweep --model "$OUT/$corpus-$m" --data "$D/$set.conll" --batch-size 32 --policies sentee,tokee \
        --windows 0,1,2,4 --plot "$OUT/$corpus-$m-$set.svg" --json 2> /dev/null > "$OUT/$corpus-$m-$set.jsonl"
    done
  done
done
OFFRAMP_BIN="$BIN" python3 bench/summarize_sweeps.py "$OUT" | tee "$OUT/summary.md"
