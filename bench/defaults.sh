#!/usr/bin/env bash
# What a new user gets from `offramp train` with every option at its default
# (issue 18, item 7), but for the exit heads' learning rate, given both ways:
# equal to --lr (3e-5, the default before this measurement) and ten times it
# (3e-4, the default it chose).
# MR (classify, joint) and WSJ POS (label, joint); --epochs, --pooling and the
# rest left to their defaults (the run prints which it took). Each run's dev
# log and per-exit test table go to $OUT; summary.md lists the final exit's
# dev and test scores and the lowest exits'. A model already in $OUT is reused.
#   OUT   where results go (default: runs/defaults)
source "$(dirname "$0")/prepare.sh" defaults
run() {  # name task train dev test [options]
  local name=$1 task=$2 train=$3 dev=$4 test=$5; shift 5
  [ -f "$OUT/$name/config.json" ] || "$BIN" train --model "$MODEL" --task "$task" --mode joint --train "$train" --dev "$dev" \
    --test "$test" --out "$OUT/$name" "$@" 2> "$OUT/$name.log" > "$OUT/$name.test.txt"
}
D="$OUT/data"
for variant in head-lr-1x head-lr-10x; do
  extra=(--head-lr 3e-5); [ "$variant" = head-lr-10x ] && extra=(--head-lr 3e-4)
  run "mr-$variant" classify "$D/mr/train.tsv" "$D/mr/dev.tsv" "$D/mr/test.tsv" "${extra[@]}"
  run "wsj-pos-$variant" label "$D/wsj-pos/train.conll" "$D/wsj-pos/dev.conll" "$D/wsj-pos/test.conll" "${extra[@]}"
done
{
  echo "| run | defaults taken | test accuracy by exit (1..L) |"
  echo "|---|---|---|"
  for f in "$OUT"/*.test.txt; do
    name=$(basename "$f" .test.txt)
    taken=$(grep -m1 "defaults taken" "$OUT/$name.log" | sed 's/^defaults taken: //')
    acc=$(grep -m1 "^accuracy" "$f" | sed 's/^accuracy *//')
    echo "| $name | $taken | $acc |"
  done
} | tee "$OUT/summary.md"
