#!/usr/bin/env bash
# The "bring your own model" workflow on real data, end to end:
#  1. PyTorch + HF transformers fine-tune MiniLM-L6 on MR as a
#     BertForSequenceClassification (bench/hf_workflow.py's recipe) and save it
#     with save_pretrained; its test predictions are the reference;
#  2. Offramp loads that directory as it is: full-depth test predictions
#     against PyTorch's (same label share, accuracy difference);
#  3. exits are added by FastBERT self-distillation on the MR training texts
#     with their labels removed (`train --mode distill`; its default students
#     below a HF head are FastBERT heads: STUDENTS="--pooling mean" or
#     "--pooling cls" tries linear ones);
#  4. the exit policies are swept on MR test: the fastest wall-clock setting
#     within 1 point of the PyTorch model's accuracy;
#  5. the distilled model is exported (`export hf`), re-loaded by transformers,
#     and its predictions compared with Offramp's full depth and PyTorch's.
#   bench/hf-workflow.sh            writes runs/hf-workflow/ (summary.md and every step's output)
#   OUT=DIR EPOCHS=N bench/hf-workflow.sh
#   BENCH_LOCK=FILE: hold flock FILE around the timed sweep only (a machine
#   shared with builds: the untimed steps need no quiet)
# Needs the peers venv (bench/run-peers.sh makes it). About 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prepare.sh hf-workflow   # BIN, OUT, MODEL; $OUT/data
PY="$OFFRAMP_HOME/venv-peers/bin/python"
[ -x "$PY" ] || { echo "hf-workflow: $PY is missing; run bench/run-peers.sh once to create the venv" >&2; exit 1; }
DATA="$OUT/data/mr"
SUMMARY="$OUT/summary.md"
log() { echo "hf-workflow: $*" >&2; }

log "1. fine-tuning in PyTorch"
[ -f "$OUT/hf-mr/model.safetensors" ] || "$PY" bench/hf_workflow.py finetune --model "$MODEL" --train "$DATA/train.tsv" \
    --dev "$DATA/dev.tsv" --test "$DATA/test.tsv" --out "$OUT/hf-mr" --epochs "${EPOCHS:-3}" 2>&1 | tee "$OUT/finetune.log" >&2
cut -f2 "$DATA/test.tsv" > "$OUT/test-texts.txt"
cut -f2 "$DATA/train.tsv" > "$OUT/train-unlabeled.txt"

log "2. the PyTorch model in Offramp"
"$BIN" predict --model "$OUT/hf-mr" --policy full --file "$OUT/test-texts.txt" > "$OUT/offramp-hf-test.jsonl"
in_check=$("$PY" bench/hf_workflow.py compare --a "$OUT/pytorch-test.jsonl" --b "$OUT/offramp-hf-test.jsonl" --data "$DATA/test.tsv")
reference=$("$PY" -c 'import json,sys
rows=[l.split("\t",1)[0] for l in open(sys.argv[1]) if l.strip()]
p=[json.loads(l)["label"] for l in open(sys.argv[2]) if l.strip()]
print("%.4f" % (100*sum(a==b for a,b in zip(rows,p))/len(rows)))' "$DATA/test.tsv" "$OUT/pytorch-test.jsonl")

log "3. exits by self-distillation on unlabeled MR training texts"
# shellcheck disable=SC2086
"$BIN" train --model "$OUT/hf-mr" --mode distill ${STUDENTS:-} --train "$OUT/train-unlabeled.txt" --dev "$DATA/dev.tsv" \
    --batch-size 32 --max-length 64 --out "$OUT/hf-mr-distilled" 2>&1 | tee "$OUT/distill.log" >&2
"$BIN" eval --model "$OUT/hf-mr-distilled" --data "$DATA/test.tsv" > "$OUT/eval-distilled.md"

log "4. sweep"
LOCK=()
[ -n "${BENCH_LOCK:-}" ] && LOCK=(flock "$BENCH_LOCK")
"${LOCK[@]}" "$BIN" sweep --model "$OUT/hf-mr-distilled" --data "$DATA/test.tsv" --batch-size 32 --policies entropy,confidence,patience \
    --json --plot "$OUT/sweep.svg" > "$OUT/sweep.jsonl"
"$PY" bench/hf_workflow.py best --sweep "$OUT/sweep.jsonl" --reference "$reference" --within 1 --table > "$OUT/sweep.md"
best=$(tail -n 1 "$OUT/sweep.md")

log "5. export, and back into transformers"
"$BIN" export hf --model "$OUT/hf-mr-distilled" --out "$OUT/exported"
"$PY" bench/hf_workflow.py predict --model "$OUT/exported" --data "$DATA/test.tsv" --out "$OUT/exported-hf-test.jsonl" >&2
"$BIN" predict --model "$OUT/hf-mr-distilled" --policy full --file "$OUT/test-texts.txt" > "$OUT/offramp-distilled-test.jsonl"
out_check=$("$PY" bench/hf_workflow.py compare --a "$OUT/offramp-distilled-test.jsonl" --b "$OUT/exported-hf-test.jsonl" --data "$DATA/test.tsv")
out_vs_pt=$("$PY" bench/hf_workflow.py compare --a "$OUT/pytorch-test.jsonl" --b "$OUT/exported-hf-test.jsonl" --data "$DATA/test.tsv")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512f|avx512_vnni|avx512_bf16|amx_tile)$' | tr '\n' ' ')
{
    echo "# HF workflow on MR ($(date -u +%Y-%m-%d), $cpu, $(nproc) cores; $flags)"
    echo
    echo "PyTorch fine-tune: $(grep '^best dev' "$OUT/finetune.log" || echo 'kept from an earlier run')"
    echo
    echo "- In (PyTorch model, Offramp full depth): $in_check"
    echo "- Sweep of the distilled model on MR test: $best"
    echo "- Out (Offramp full depth vs the export in transformers): $out_check"
    echo "- Out (PyTorch's original vs the export in transformers): $out_vs_pt"
    echo
    echo "Exits after distillation (MR test):"
    echo
    cat "$OUT/eval-distilled.md"
    echo
    echo "Sweep ($OUT/sweep.svg):"
    echo
    cat "$OUT/sweep.md"
} > "$SUMMARY.tmp" && mv "$SUMMARY.tmp" "$SUMMARY"
cat "$SUMMARY"
