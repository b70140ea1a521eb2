#!/usr/bin/env python3
"""The PyTorch side of bench/hf-workflow.sh: a classifier fine-tuned with HF transformers, and its predictions.

    python bench/hf_workflow.py finetune --model MINILM_DIR --train train.tsv --dev dev.tsv --test test.tsv --out DIR
    python bench/hf_workflow.py predict --model DIR --data test.tsv --out predictions.jsonl

finetune: `BertForSequenceClassification.from_pretrained` on the encoder (a
new classifier over its pooler), the usual recipe (AdamW lr 5e-5, weight decay
0.01 but not on biases and LayerNorm, linear warm-up over 10% of the steps
then linear decay, batch 32, max length 64, 3 epochs, gradient clipping at 1.0,
seed 42), keeping the epoch with the best dev accuracy; saved with
`save_pretrained` (config with id2label, model.safetensors) and the
tokenizer, plus DIR/../pytorch-test.jsonl: test predictions of the saved model.
predict: test predictions of any saved classifier directory (an Offramp
export), one JSON line per sentence {label, probabilities}, untruncated
(MR sentences are far below 512 tokens), batches of 32.
compare: two prediction files of the same sentences (--a, --b; JSON lines
with "label" and "probabilities", as predict and `offramp predict` write
them): the share of equal labels, both accuracies and the largest
probability difference.
best: of `offramp sweep --json` lines, the setting with the largest wall-clock
speed-up whose accuracy is within --within points of --reference.
Both print accuracy; TSV lines are `label<TAB>text`.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForSequenceClassification


def read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


@torch.inference_mode()
def predict(model, tok, texts: list[str], max_length: int | None = None) -> list[dict]:
    model.eval()
    out = []
    for i in range(0, len(texts), 32):
        batch = tok(texts[i:i + 32], padding=True, truncation=max_length is not None, max_length=max_length,
                    return_tensors="pt")
        probs = torch.softmax(model(**batch).logits.float(), dim=-1)
        for p in probs:
            label = model.config.id2label[int(p.argmax())]
            out.append({"label": label, "probabilities": {model.config.id2label[j]: float(v) for j, v in enumerate(p)}})
    return out


def accuracy(predictions: list[dict], rows: list[tuple[str, str]]) -> float:
    return 100 * sum(p["label"] == r[0] for p, r in zip(predictions, rows)) / len(rows)


def finetune(args) -> None:
    torch.manual_seed(42)
    random.seed(42)
    torch.set_num_threads(2)
    train, dev, test = read_tsv(args.train), read_tsv(args.dev), read_tsv(args.test)
    labels = sorted({r[0] for r in train})
    tok = AutoTokenizer.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
        problem_type="single_label_classification")
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps = args.epochs * math.ceil(len(train) / 32)
    warm = math.ceil(0.1 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / (steps - warm)))
    best, step, start = -1.0, 0, time.time()
    for epoch in range(args.epochs):
        order = list(range(len(train)))
        random.shuffle(order)
        model.train()
        for i in range(0, len(order), 32):
            rows = [train[j] for j in order[i:i + 32]]
            batch = tok([r[1] for r in rows], padding=True, truncation=True, max_length=64, return_tensors="pt")
            loss = model(**batch, labels=torch.tensor([labels.index(r[0]) for r in rows])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 50 == 0:
                rate = step * 32 / (time.time() - start)
                print(f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.4f} {rate:.0f} examples/s "
                      f"ETA {(steps - step) * 32 / rate:.0f} s", flush=True)
        acc = accuracy(predict(model, tok, [r[1] for r in dev], 64), dev)
        print(f"epoch {epoch + 1}: dev accuracy {acc:.2f}", flush=True)
        if acc > best:
            best = acc
            model.save_pretrained(args.out, safe_serialization=True)
            tok.save_pretrained(args.out)
    saved = AutoModelForSequenceClassification.from_pretrained(args.out)
    predictions = predict(saved, tok, [r[1] for r in test])
    write(predictions, args.out.parent / "pytorch-test.jsonl")
    print(f"best dev {best:.2f}; saved model test accuracy {accuracy(predictions, test):.2f}")


def write(predictions: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    tmp.replace(path)


def predict_command(args) -> None:
    torch.set_num_threads(2)
    rows = read_tsv(args.data)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model)
    predictions = predict(model, tok, [r[1] for r in rows])
    write(predictions, args.out)
    print(f"{type(model).__name__}: test accuracy {accuracy(predictions, rows):.2f}")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def compare_command(args) -> None:
    rows = read_tsv(args.data)
    a, b = read_jsonl(args.a), read_jsonl(args.b)
    assert len(a) == len(b) == len(rows), (len(a), len(b), len(rows))
    same = sum(x["label"] == y["label"] for x, y in zip(a, b))
    diff = max(abs(x["probabilities"][k] - y["probabilities"][k]) for x, y in zip(a, b) for k in x["probabilities"])
    acc_a, acc_b = accuracy(a, rows), accuracy(b, rows)
    print(f"{args.a.name} vs {args.b.name}: same label on {same}/{len(rows)} = {100 * same / len(rows):.2f}%; "
          f"accuracy {acc_a:.2f} vs {acc_b:.2f} ({acc_b - acc_a:+.2f}); largest probability difference {diff:.1e}")


def best_command(args) -> None:
    points = read_jsonl(args.sweep)
    ok = [p for p in points if 100 * p["accuracy"] >= args.reference - args.within - 1e-9]
    b = max(ok, key=lambda p: p["wall_speedup"])
    if args.table:
        print("| policy | setting | accuracy | avg exit layer | FLOPs | wall |\n|---|---|--:|--:|--:|--:|")
        for p in points:
            print(f"| {p['policy']} | {p['setting']} | {100 * p['accuracy']:.2f} | {p['avg_exit_layer']:.2f} | "
                  f"{p['flops_speedup']:.2f}x | {p['wall_speedup']:.2f}x |")
        print()
    print(f"fastest within {args.within} point of {args.reference:.2f}: {b['policy']} {b['setting']}: "
          f"accuracy {100 * b['accuracy']:.2f}, exit layer {b['avg_exit_layer']:.2f}, "
          f"{b['flops_speedup']:.2f}x FLOPs, {b['wall_speedup']:.2f}x wall")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("finetune")
    for name in ("model", "train", "dev", "test", "out"):
        f.add_argument(f"--{name}", type=Path, required=True)
    f.add_argument("--epochs", type=int, default=3)
    f.add_argument("--lr", type=float, default=5e-5)
    p = sub.add_parser("predict")
    for name in ("model", "data", "out"):
        p.add_argument(f"--{name}", type=Path, required=True)
    c = sub.add_parser("compare")
    for name in ("a", "b", "data"):
        c.add_argument(f"--{name}", type=Path, required=True)
    b = sub.add_parser("best")
    b.add_argument("--sweep", type=Path, required=True)
    b.add_argument("--reference", type=float, required=True)
    b.add_argument("--within", type=float, default=1.0)
    b.add_argument("--table", action="store_true", help="print every setting as a markdown table first")
    args = ap.parse_args()
    {"finetune": finetune, "predict": predict_command, "compare": compare_command, "best": best_command}[args.command](args)


if __name__ == "__main__":
    main()
