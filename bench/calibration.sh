#!/usr/bin/env bash
# Calibration with a guarantee on real data (docs/results.md#calibration):
# does Learn-then-Test's bound hold on new data, and what does it cost
# against the point estimate? `offramp bench calibration` runs each model
# once per candidate setting on a pooled set, then calibrates on 1,000
# random halves and measures the chosen setting on the other halves.
#   - MR: the README's multi-exit MiniLM-L6 (joint, 3 epochs), dev + test
#     pooled (2,114 sentences); entropy, confidence, patience and
#     patience-confidence; risks consistency and accuracy; then the
#     guaranteed speed-up as the calibration set grows.
#   - WSJ POS with TOKEE (bench/labeling.sh's recipe: joint 10 epochs, then
#     tokee-self 5): token consistency on WSJ dev + test pooled (213
#     sentences), and, since that is too few for bounds of 0.5-2 points, on
#     the OANC POS dev texts (about 1,600 sentences; the same tag set, another corpus; the
#     consistency risk needs no labels, so the texts alone are read; TOKEE windows 0 and 1).
# FLOPs only, deterministic: the figures do not depend on the machine.
# A model already in $OUT is reused (delete it to retrain).
#   OUT   where results go (default: runs/calibration)
source "$(dirname "$0")/prepare.sh" calibration
D="$OUT/data"

[ -f "$OUT/mr-joint-mean/config.json" ] || "$BIN" train --model "$MODEL" --task classify --mode joint --head linear --pooling mean \
  --train "$D/mr/train.tsv" --dev "$D/mr/dev.tsv" --epochs 3 --batch-size 32 --max-length 64 --lr 3e-5 --head-lr 3e-5 \
  --out "$OUT/mr-joint-mean" 2> "$OUT/mr-joint-mean.log"
"$BIN" bench calibration --model "$OUT/mr-joint-mean" --data "$D/mr/dev.tsv,$D/mr/test.tsv" \
  --policies entropy,confidence,patience,patience-confidence --risks consistency,accuracy --out "$OUT/mr" 2> "$OUT/mr.log"

W="$D/wsj-pos"
[ -f "$OUT/wsj-pos-joint/config.json" ] || "$BIN" train --model "$MODEL" --task label --mode joint --train "$W/train.conll" \
  --dev "$W/dev.conll" --epochs 10 --lr 5e-5 --head-lr 5e-4 --max-length 128 --out "$OUT/wsj-pos-joint" 2> "$OUT/wsj-pos-joint.log"
[ -f "$OUT/wsj-pos-tokee/config.json" ] || "$BIN" train --model "$OUT/wsj-pos-joint" --task label --mode tokee-self --train "$W/train.conll" \
  --dev "$W/dev.conll" --epochs 5 --lr 1e-5 --head-lr 1e-4 --max-length 128 --out "$OUT/wsj-pos-tokee" 2> "$OUT/wsj-pos-tokee.log"
"$BIN" bench calibration --model "$OUT/wsj-pos-tokee" --data "$W/dev.conll,$W/test.conll" --policies tokee \
  --risks consistency --eps 0.5,1,2,5 --sizes 60,100,150,200 --out "$OUT/wsj-pos" 2> "$OUT/wsj-pos.log"
"$BIN" bench calibration --model "$OUT/wsj-pos-tokee" --data "$D/oanc-pos/dev.conll" --ignore-labels \
  --policies tokee --windows 0,1 --risks consistency --out "$OUT/wsj-pos-on-oanc" 2> "$OUT/wsj-pos-on-oanc.log"
for f in mr wsj-pos wsj-pos-on-oanc; do echo "## $f"; cat "$OUT/$f/validity.md"; done | tee "$OUT/summary.md"
