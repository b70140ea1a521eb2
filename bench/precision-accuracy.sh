#!/usr/bin/env bash
# What reduced precision costs in accuracy (docs/results.md#precision): each
# model trained once in fp32, then evaluated at fp32, bf16 and int8 (int8
# with SmoothQuant calibrated on the first 256 training texts of its corpus).
#   MR        the main job's model (joint, linear mean-pooled exits, 3 epochs):
#             full depth, and the exit `calibrate` chooses on dev in fp32
#             (Learn-then-Test, delta 0.1, accuracy risk <= 1 point)
#   WSJ POS   joint 10 epochs, then tokee-self 5 epochs: full depth and TOKEE
#   PoWER     the MR model, configuration search at lambda 3e-3, re-trained
#   WNUT-16   joint 10 epochs, entity F1 on dev + test: full depth and TOKEE
# One JSON line per run in $OUT/<name>-<precision>.jsonl, a table in
# $OUT/summary.md. A model already in $OUT is reused (delete it to retrain).
#   OUT   where results go (default: runs/precision-accuracy)
source "$(dirname "$0")/prepare.sh" precision-accuracy
D="$OUT/data"
# The words of each CoNLL sentence as one line of text (SmoothQuant's calibration texts).
conll_text() { awk 'NF==0{if(s!="")print s; s=""; next}{s=(s==""?$1:s" "$1)}END{if(s!="")print s}' "$1" | sed -n 1,256p; }
# evaluate NAME MODEL DATA CALIBRATION-TEXTS eval-options...: the policy's line at each precision.
evaluate() {
  local name=$1 model=$2 data=$3 calib=$4; shift 4
  for p in fp32 bf16 int8; do
    local sq=(); [ "$p" = int8 ] && sq=(--smooth-quant "$calib")
    "$BIN" eval --model "$model" --data "$data" --precision "$p" "${sq[@]}" --json "$@" 2>> "$OUT/eval.log" \
      | tail -1 > "$OUT/$name-$p.jsonl"
    echo "$name $p: $(cat "$OUT/$name-$p.jsonl")"
  done
}
train() { local out=$1; shift; [ -f "$OUT/$out/config.json" ] || "$BIN" train "$@" --out "$OUT/$out" 2> "$OUT/$out.log"; }

train mr --model "$MODEL" --task classify --mode joint --head linear --pooling mean --train "$D/mr/train.tsv" --dev "$D/mr/dev.tsv" \
  --epochs 3 --batch-size 32 --max-length 64 --lr 3e-5 --head-lr 3e-5
head -256 "$D/mr/train.tsv" | cut -f2 > "$OUT/mr-calibration.txt"
if [ ! -f "$OUT/mr-calibrated/config.json" ]; then
  rm -rf "$OUT/mr-calibrated.tmp"; cp -r "$OUT/mr" "$OUT/mr-calibrated.tmp"
  "$BIN" calibrate --model "$OUT/mr-calibrated.tmp" --dev "$D/mr/dev.tsv" --delta 0.1 --max-drop 1 > "$OUT/mr-calibrate.txt" 2> "$OUT/mr-calibrate.log"
  mv "$OUT/mr-calibrated.tmp" "$OUT/mr-calibrated"
fi
# The calibrated policy as eval options (eval without --policy reports every exit).
exit_policy=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["offramp"]["policy"])' "$OUT/mr-calibrated/config.json")
kind=${exit_policy%%:*}; threshold=${exit_policy#*:}
evaluate mr-full "$OUT/mr" "$D/mr/test.tsv" "$OUT/mr-calibration.txt" --policy full
evaluate mr-exit "$OUT/mr" "$D/mr/test.tsv" "$OUT/mr-calibration.txt" --policy "$kind" --threshold "$threshold"

P="$D/wsj-pos"
train wsj-joint --model "$MODEL" --task label --mode joint --train "$P/train.conll" --dev "$P/dev.conll" --epochs 10 --lr 5e-5 --head-lr 5e-4 --max-length 128
train wsj-tokee --model "$OUT/wsj-joint" --task label --mode tokee-self --train "$P/train.conll" --dev "$P/dev.conll" --epochs 5 --lr 1e-5 --head-lr 1e-4 --max-length 128
conll_text "$P/train.conll" > "$OUT/wsj-calibration.txt"
evaluate wsj-full "$OUT/wsj-tokee" "$P/test.conll" "$OUT/wsj-calibration.txt" --policy full
evaluate wsj-tokee "$OUT/wsj-tokee" "$P/test.conll" "$OUT/wsj-calibration.txt" --policy tokee --threshold 0.25 --window 0

[ -f "$OUT/power-search/config.json" ] || "$BIN" power search --model "$OUT/mr" --train "$D/mr/train.tsv" --dev "$D/mr/dev.tsv" \
  --lambda 3e-3 --epochs 2 --retention-lr 3e-3 --out "$OUT/power-search" 2> "$OUT/power-search.log"
[ -f "$OUT/power/config.json" ] || "$BIN" power retrain --model "$OUT/power-search" --train "$D/mr/train.tsv" --dev "$D/mr/dev.tsv" \
  --epochs 2 --out "$OUT/power" 2> "$OUT/power.log"
evaluate power "$OUT/power" "$D/mr/test.tsv" "$OUT/mr-calibration.txt" --policy full

W="$D/wnut16"
train wnut-joint --model "$MODEL" --task label --mode joint --train "$W/train.conll" --dev "$W/dev.conll" --epochs 10 --lr 5e-5 --head-lr 5e-4 --max-length 128
cat "$W/dev.conll" "$W/test.conll" > "$W/devtest.conll"
conll_text "$W/train.conll" > "$OUT/wnut-calibration.txt"
evaluate wnut-full "$OUT/wnut-joint" "$W/devtest.conll" "$OUT/wnut-calibration.txt" --policy full
evaluate wnut-tokee "$OUT/wnut-joint" "$W/devtest.conll" "$OUT/wnut-calibration.txt" --policy tokee --threshold 0.3 --window 0

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, sys
out = sys.argv[1]
print("| run | setting | fp32 | bf16 | int8 + SmoothQuant | int8 - fp32 | exit layer (fp32 / int8) |")
print("|---|---|--:|--:|--:|--:|--:|")
for name in ["mr-full", "mr-exit", "wsj-full", "wsj-tokee", "power", "wnut-full", "wnut-tokee"]:
    r = {p: json.load(open(f"{out}/{name}-{p}.jsonl")) for p in ("fp32", "bf16", "int8")}
    key = "f1" if "f1" in r["fp32"] else "accuracy"
    v = {p: 100 * r[p][key] for p in r}
    print(f"| {name} ({key}) | {r['fp32']['policy']} {r['fp32']['setting']} | {v['fp32']:.2f} | {v['bf16']:.2f} | {v['int8']:.2f} "
          f"| {v['int8'] - v['fp32']:+.2f} | {r['fp32']['avg_exit_layer']:.2f} / {r['int8']['avg_exit_layer']:.2f} |")
PY
