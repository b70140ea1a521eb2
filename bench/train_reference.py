#!/usr/bin/env python3
"""Reference training of a multi-exit BERT in PyTorch + HF transformers.

Offramp's Swift training is compared against this script, for accuracy and for
training throughput. It implements docs/methods.md#multi-exit (exit heads)
and docs/methods.md#training (training modes) for sequence classification:

  backbone  HF BertModel (fp32, dropout as in config.json), hidden_states[l] of
            every layer l = 1..L go to an exit head f_l (L = num_hidden_layers)
  heads     --head linear  : pooler dense(H->H)+tanh on [CLS] (--pooling cls) or on
                             the attention-mask-weighted mean of the layer's tokens
                             (--pooling mean), dropout(hidden_dropout_prob), linear(H->N).
                             The last head's pooler starts from the checkpoint's
                             pooler.dense.* when the checkpoint has one (both poolings).
            --head fastbert: dense(H->128)+tanh on every token, one self-attention
                             layer (2 heads, width 128, q/k/v/output linears 128->128,
                             additive padding mask -10000, softmax, dropout(attention
                             probs) on the probabilities, no residual, no LayerNorm),
                             first token, dense(128->128)+tanh, linear(128->N).
            Parameter names are Offramp's (ExitHead.parameterSpecs): linear: pooler,
            classifier; fastbert: reduce, attention.{query,key,value,output}, dense,
            classifier. New linears: weight ~ normal(0, initializer_range=0.02), bias 0,
            drawn from a torch.Generator seeded with --seed (exits 1..L, parameters in
            module order); --dump-init FILE writes them as exits.<layer>.<name>
            (safetensors, layer 1-based, as in an Offramp checkpoint).
  modes     joint     loss = sum_l l*CE_l / sum_l l, backbone + all heads trained
            finetune  CE of the last head; backbone + last head trained
            two-stage finetune, then backbone + last head frozen and heads 1..L-1
                      trained with sum_{l<L} CE_l  (DeeBERT)
            distill   finetune, then backbone + last head frozen and heads 1..L-1
                      trained with sum_{l<L} KL(p_L || p_l), batch-mean (FastBERT's
                      KLDivLoss(log p_l, p_L)); --kl student-teacher gives
                      KL(p_l || p_L). Labels are not used in this stage.
            In a second stage the frozen backbone and teacher run under no_grad but in
            train mode, i.e. with dropout, as DeeBERT's and FastBERT's code do
            (--frozen-dropout off runs them in eval mode).
  optimizer AdamW (torch, betas 0.9/0.999, eps 1e-8), weight decay --weight-decay on
            everything except biases and LayerNorm weights; --head-lr for the exit heads
            (default --lr); gradient clipping to --max-grad-norm over the trained
            parameters; linear warm-up for ceil(warmup * steps) steps then linear decay
            to 0 (transformers.get_linear_schedule_with_warmup), one schedule per stage;
            second stage lr = --stage2-lr (default --lr for two-stage, --distill-lr-factor
            (10) x --lr for distill), --stage2-epochs (default --epochs).
  data      DIR/{train,dev,test}.tsv, lines label<TAB>text[<TAB>pair] (a first line
            "label<TAB>text" is a header; blank lines skipped); labels are the sorted set
            of the training labels (as Offramp's LabelSet.collect). BertTokenizerFast
            from the model dir, truncation to --max-length, padded per batch to the
            batch's longest. Each epoch shuffles with torch.randperm(n, generator=g),
            g = torch.Generator().manual_seed(seed) created once (per stage); the last,
            partial batch is kept.
  output    accuracy of every exit on dev after each epoch and on test at the end (a
            table), training examples/s = examples processed / wall seconds of the
            training loops (tokenization done beforehand; batching, forward, backward,
            optimizer included; evaluation excluded). --json: the human output goes to
            stderr and one JSON line to stdout.

Run (see bench/README.md, "Training reference"):
  $OFFRAMP_HOME/venv-peers/bin/python bench/train_reference.py --data /tmp/prepared/mr \\
      --mode joint --head linear --pooling cls [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
import torch.nn as nn
import torch.nn.functional as F

FASTBERT_WIDTH = 128
FASTBERT_HEADS = 2
MASK_VALUE = -10000.0  # additive padding mask of the FastBERT head (UER's value)


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def offramp_home() -> Path:
    home = os.environ.get("OFFRAMP_HOME")
    return Path(home) if home else Path.home() / ".cache/offramp"


# --- data -----------------------------------------------------------------------------

def load_tsv(path: Path):
    """(texts, pairs or None, labels) of a label<TAB>text[<TAB>pair] file."""
    texts, pairs, labels = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if number == 1 and fields[:2] == ["label", "text"]:
                continue
            if len(fields) < 2 or not fields[0]:
                raise SystemExit(f"{path}:{number}: expected label<TAB>text[<TAB>pair]")
            labels.append(fields[0])
            texts.append(fields[1])
            pairs.append(fields[2] if len(fields) > 2 else None)
    if not texts:
        raise SystemExit(f"{path}: no examples")
    has_pairs = any(p is not None for p in pairs)
    if has_pairs and not all(p is not None for p in pairs):
        raise SystemExit(f"{path}: some lines have a text pair, some do not")
    return texts, (pairs if has_pairs else None), labels


class Split:
    """A tokenized split: unpadded ids / token types per example, label indices."""

    def __init__(self, name, path, tokenizer, label_index, max_length):
        texts, pairs, labels = load_tsv(path)
        enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        self.name = name
        self.ids = enc["input_ids"]
        self.types = enc["token_type_ids"]
        try:
            self.labels = torch.tensor([label_index[l] for l in labels], dtype=torch.long)
        except KeyError as e:
            raise SystemExit(f"{path}: label {e} is not among the training labels")
        self.pad = tokenizer.pad_token_id

    def __len__(self):
        return len(self.ids)

    def batch(self, indices):
        """input_ids, token_type_ids, attention_mask [B, T] (T = longest), labels [B]."""
        width = max(len(self.ids[i]) for i in indices)
        ids = torch.full((len(indices), width), self.pad, dtype=torch.long)
        types = torch.zeros((len(indices), width), dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            n = len(self.ids[i])
            ids[row, :n] = torch.tensor(self.ids[i])
            types[row, :n] = torch.tensor(self.types[i])
            mask[row, :n] = 1
        return ids, types, mask, self.labels[indices]


# --- exit heads -----------------------------------------------------------------------

class LinearExit(nn.Module):
    """DeeBERT highway / PABEE head: pooler dense+tanh, dropout, classifier."""

    def __init__(self, hidden, labels, dropout, pooling):
        super().__init__()
        self.pooling = pooling
        self.pooler = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, labels)

    def forward(self, h, mask):
        if self.pooling == "cls":
            x = h[:, 0]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            x = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        x = torch.tanh(self.pooler(x))
        return self.classifier(self.dropout(x))


class ExitSelfAttention(nn.Module):
    """UER MultiHeadedAttention as FastBERT's student uses it, only for query 0.

    The head keeps just the first token, so only the first query row is computed:
    identical to computing all rows and taking row 0 (keys/values: all tokens)."""

    def __init__(self, width, heads, dropout):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.output = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        b, t, w = x.shape
        d = w // self.heads
        q = self.query(x[:, :1]).view(b, 1, self.heads, d).transpose(1, 2)   # [B,h,1,d]
        k = self.key(x).view(b, t, self.heads, d).transpose(1, 2)             # [B,h,T,d]
        v = self.value(x).view(b, t, self.heads, d).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)                      # [B,h,1,T]
        scores = scores + (1.0 - mask[:, None, None, :].to(x.dtype)) * MASK_VALUE
        probs = self.dropout(torch.softmax(scores, dim=-1))
        ctx = (probs @ v).transpose(1, 2).reshape(b, w)                       # [B,w]
        return self.output(ctx)


class FastBertExit(nn.Module):
    def __init__(self, hidden, labels, dropout, width=FASTBERT_WIDTH, heads=FASTBERT_HEADS):
        super().__init__()
        self.reduce = nn.Linear(hidden, width)
        self.attention = ExitSelfAttention(width, heads, dropout)
        self.dense = nn.Linear(width, width)
        self.classifier = nn.Linear(width, labels)

    def forward(self, h, mask):
        x = torch.tanh(self.reduce(h))
        x = self.attention(x, mask)
        x = torch.tanh(self.dense(x))
        return self.classifier(x)


def init_heads(exits: nn.ModuleList, std: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in exits.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=g) * std)


def checkpoint_pooler(model_dir: Path):
    """(weight, bias) of the checkpoint's pooler.dense, or None."""
    names = ("pooler.dense.weight", "pooler.dense.bias")
    st = model_dir / "model.safetensors"
    if st.exists():
        from safetensors import safe_open
        with safe_open(str(st), framework="pt") as f:
            keys = set(f.keys())
            for prefix in ("", "bert."):
                if all(prefix + n in keys for n in names):
                    return tuple(f.get_tensor(prefix + n) for n in names)
        return None
    pt = model_dir / "pytorch_model.bin"
    if pt.exists():
        sd = torch.load(str(pt), map_location="cpu", weights_only=True)
        for prefix in ("", "bert."):
            if all(prefix + n in sd for n in names):
                return tuple(sd[prefix + n] for n in names)
    return None


class MultiExitBert(nn.Module):
    def __init__(self, args, num_labels):
        super().__init__()
        from transformers import BertModel
        self.bert = BertModel.from_pretrained(
            str(args.model), add_pooling_layer=False, attn_implementation=args.attn,
            dtype=torch.float32)
        c = self.bert.config
        self.layers = c.num_hidden_layers
        if args.head == "linear":
            make = lambda: LinearExit(c.hidden_size, num_labels, c.hidden_dropout_prob, args.pooling)
        else:
            make = lambda: FastBertExit(c.hidden_size, num_labels, c.attention_probs_dropout_prob)
        self.exits = nn.ModuleList([make() for _ in range(self.layers)])
        init_heads(self.exits, c.initializer_range, args.seed)
        self.pooler_from_checkpoint = False
        if args.head == "linear":
            pooler = checkpoint_pooler(Path(args.model))
            if pooler is not None:
                with torch.no_grad():
                    self.exits[-1].pooler.weight.copy_(pooler[0])
                    self.exits[-1].pooler.bias.copy_(pooler[1])
                self.pooler_from_checkpoint = True

    def hidden(self, ids, types, mask, all_layers=True):
        out = self.bert(input_ids=ids, token_type_ids=types, attention_mask=mask,
                        output_hidden_states=all_layers)
        # hidden_states[0] is the embedding output; index l = after layer l.
        return out.hidden_states if all_layers else (None,) * self.layers + (out.last_hidden_state,)

    def logits(self, hs, mask, exits):
        """Logits of the given exits (1-based layer numbers)."""
        return {l: self.exits[l - 1](hs[l], mask) for l in exits}


# --- training -------------------------------------------------------------------------

def param_groups(named, lr, weight_decay):
    decay, no_decay = [], []
    for n, p in named:
        (no_decay if n.endswith("bias") or "LayerNorm.weight" in n else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "lr": lr, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    return groups


def evaluate(model, split, batch_size):
    model.eval()
    correct = torch.zeros(model.layers, dtype=torch.long)
    exits = range(1, model.layers + 1)
    with torch.inference_mode():
        for start in range(0, len(split), batch_size):
            ids, types, mask, y = split.batch(list(range(start, min(start + batch_size, len(split)))))
            out = model.logits(model.hidden(ids, types, mask), mask, exits)
            for l in exits:
                correct[l - 1] += (out[l].argmax(-1) == y).sum()
    return [c / len(split) for c in correct.tolist()]


def fmt_accs(accs):
    return " ".join(f"{a * 100:5.2f}" for a in accs)


def fmt_time(s):
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def run_stage(name, model, args, train, dev, loss_kind, epochs, lr, head_lr, history):
    """One training stage; returns its stats. loss_kind: joint | last | lower-ce | lower-kl."""
    from transformers import get_linear_schedule_with_warmup
    L = model.layers
    backbone_trained = loss_kind in ("joint", "last")
    if loss_kind == "joint":
        trained_exits = list(range(1, L + 1))
    elif loss_kind == "last":
        trained_exits = [L]
    else:
        trained_exits = list(range(1, L))
    weights = {l: float(l) if args.joint_weights == "layer" else 1.0 for l in range(1, L + 1)}

    for p in model.parameters():
        p.requires_grad_(False)
    groups = []
    if backbone_trained:
        for p in model.bert.parameters():
            p.requires_grad_(True)
        groups += param_groups(model.bert.named_parameters(), lr, args.weight_decay)
    head_named = [(f"exits.{l - 1}.{n}", p) for l in trained_exits
                  for n, p in model.exits[l - 1].named_parameters()]
    for _, p in head_named:
        p.requires_grad_(True)
    groups += param_groups(head_named, head_lr, args.weight_decay)
    trained = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)

    n = len(train)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = epochs * steps_per_epoch
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup_steps = math.ceil(args.warmup * total)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total)
    g = torch.Generator().manual_seed(args.seed)
    frozen_train_mode = args.frozen_dropout == "on"

    log(f"[{name}] {len(trained)} tensors / {sum(p.numel() for p in trained):,} parameters "
        f"trained (exits {trained_exits[0]}..{trained_exits[-1]}, backbone "
        f"{'trained' if backbone_trained else 'frozen'}), lr {lr:g} (heads {head_lr:g}), "
        f"{total} steps, {warmup_steps} warm-up")

    step, examples, seconds = 0, 0, 0.0
    window_loss, window_n, last_loss = 0.0, 0, float("nan")
    for epoch in range(1, epochs + 1):
        if step >= total:
            break
        order = torch.randperm(n, generator=g).tolist()
        for start in range(0, n, args.batch_size):
            if step >= total:
                break
            t0 = time.perf_counter()
            model.train()
            ids, types, mask, y = train.batch(order[start:start + args.batch_size])
            if backbone_trained:
                hs = model.hidden(ids, types, mask, all_layers=loss_kind == "joint")
                out = model.logits(hs, mask, trained_exits)
                if loss_kind == "joint":
                    loss = sum(weights[l] * F.cross_entropy(out[l], y) for l in trained_exits) \
                        / sum(weights[l] for l in trained_exits)
                else:
                    loss = F.cross_entropy(out[L], y)
            else:
                if not frozen_train_mode:
                    model.bert.eval()
                    model.exits[L - 1].eval()
                with torch.no_grad():
                    hs = model.hidden(ids, types, mask)
                    if loss_kind == "lower-kl":
                        teacher = model.exits[L - 1](hs[L], mask)
                out = model.logits(hs, mask, trained_exits)
                if loss_kind == "lower-ce":
                    loss = sum(F.cross_entropy(out[l], y) for l in trained_exits)
                else:
                    log_t = F.log_softmax(teacher, -1)
                    loss = 0.0
                    for l in trained_exits:
                        log_s = F.log_softmax(out[l], -1)
                        if args.kl == "teacher-student":   # KL(p_t || p_s)
                            kl = (log_t.exp() * (log_t - log_s)).sum(-1)
                        else:                              # KL(p_s || p_t)
                            kl = (log_s.exp() * (log_s - log_t)).sum(-1)
                        loss = loss + kl.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trained, args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            last_loss = loss.item()
            seconds += time.perf_counter() - t0
            step += 1
            examples += len(y)
            window_loss += last_loss
            window_n += 1
            if step % args.log_every == 0 or step == total:
                rate = examples / seconds
                eta = (total - step) * seconds / step
                log(f"[{name}] epoch {epoch} step {step}/{total} loss {window_loss / window_n:.4f} "
                    f"lr {scheduler.get_last_lr()[0]:.3g} {rate:.1f} ex/s ETA {fmt_time(eta)}")
                window_loss, window_n = 0.0, 0
        accs = evaluate(model, dev, args.eval_batch_size)
        history.append({"stage": name, "epoch": epoch, "step": step, "dev_acc": accs})
        log(f"[{name}] epoch {epoch} dev acc per exit: {fmt_accs(accs)}")
    return {"stage": name, "steps": step, "examples": examples, "seconds": seconds,
            "examples_per_s": examples / seconds if seconds else 0.0, "last_loss": last_loss}


def dump_init(model, path, args, labels):
    from safetensors.torch import save_file
    # Offramp's names (ExitHead.parameterSpecs): exits.<layer>.*, layer 1-based.
    tensors = {f"exits.{i + 1}.{n}": p.detach().clone().contiguous()
               for i, e in enumerate(model.exits) for n, p in e.named_parameters()}
    meta = {"head": args.head, "pooling": args.pooling, "labels": json.dumps(labels),
            "seed": str(args.seed), "layers": str(model.layers),
            "last_pooler_from_checkpoint": str(model.pooler_from_checkpoint).lower()}
    save_file(tensors, str(path), metadata=meta)
    log(f"wrote the initial head weights ({len(tensors)} tensors) to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with train/dev/test.tsv (e.g. /tmp/prepared/mr)")
    ap.add_argument("--model", type=Path, default=offramp_home() / "models/minilm-l6")
    ap.add_argument("--mode", choices=["joint", "finetune", "two-stage", "distill"], default="joint")
    ap.add_argument("--head", choices=["linear", "fastbert"], default="linear")
    ap.add_argument("--pooling", choices=["cls", "mean"], default="cls", help="linear head only")
    ap.add_argument("--joint-weights", choices=["layer", "uniform"], default="layer",
                    help="joint loss weights w_l = l (default) or 1")
    ap.add_argument("--kl", choices=["teacher-student", "student-teacher"], default="teacher-student",
                    help="distill: KL(p_t||p_s) (default, FastBERT's code) or KL(p_s||p_t)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stage2-epochs", type=int, default=None, help="two-stage/distill second stage (default --epochs)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--head-lr", type=float, default=None, help="exit heads' lr in the first stage (default --lr)")
    ap.add_argument("--stage2-lr", type=float, default=None,
                    help="second-stage lr (default --lr for two-stage, --distill-lr-factor x --lr for distill)")
    ap.add_argument("--distill-lr-factor", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=0.1, help="warm-up fraction of each stage's steps")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--frozen-dropout", choices=["on", "off"], default="on",
                    help="second stage: run the frozen backbone/teacher with dropout (train mode, as the references) or in eval mode")
    ap.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa")
    ap.add_argument("--flush-denormal", choices=["on", "off"], default="off",
                    help="torch.set_flush_denormal (default off = PyTorch's default)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=0, help="stop each stage after this many steps (smoke runs)")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--dump-init", type=Path, default=None, help="write the initial exit-head weights (safetensors)")
    ap.add_argument("--json", action="store_true", help="one JSON summary line on stdout (the rest on stderr)")
    args = ap.parse_args()
    if args.head == "fastbert" and args.pooling != "cls":
        ap.error("--pooling applies to the linear head only (the fastbert head takes the first token)")
    head_lr = args.head_lr if args.head_lr is not None else args.lr
    stage2_lr = args.stage2_lr if args.stage2_lr is not None else args.lr * (args.distill_lr_factor if args.mode == "distill" else 1)
    stage2_epochs = args.stage2_epochs if args.stage2_epochs is not None else args.epochs

    wall0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(args.flush_denormal == "on")
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import transformers
    from transformers import BertTokenizerFast
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    out = sys.stderr if args.json else sys.stdout
    tokenizer = BertTokenizerFast.from_pretrained(str(args.model))
    _, _, train_labels = load_tsv(args.data / "train.tsv")
    labels = sorted(set(train_labels))
    index = {l: i for i, l in enumerate(labels)}
    splits = {s: Split(s, args.data / f"{s}.tsv", tokenizer, index, args.max_length)
              for s in ("train", "dev", "test")}
    torch.manual_seed(args.seed)  # dropout
    model = MultiExitBert(args, len(labels))
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"attention {model.bert.config._attn_implementation}, threads {torch.get_num_threads()}; "
        f"labels {labels}; train/dev/test {len(splits['train'])}/{len(splits['dev'])}/{len(splits['test'])}; "
        f"{model.layers} exits, head {args.head}"
        + (f" pooling {args.pooling}, last pooler from checkpoint: {model.pooler_from_checkpoint}"
           if args.head == "linear" else ""))
    if args.dump_init:
        dump_init(model, args.dump_init, args, labels)

    history, stages = [], []
    if args.mode == "joint":
        stages.append(run_stage("joint", model, args, splits["train"], splits["dev"], "joint",
                                args.epochs, args.lr, head_lr, history))
    else:
        stages.append(run_stage("finetune", model, args, splits["train"], splits["dev"], "last",
                                args.epochs, args.lr, head_lr, history))
        if args.mode in ("two-stage", "distill"):
            kind = "lower-ce" if args.mode == "two-stage" else "lower-kl"
            stages.append(run_stage(args.mode, model, args, splits["train"], splits["dev"], kind,
                                    stage2_epochs, stage2_lr, stage2_lr, history))
    dev_acc = history[-1]["dev_acc"]
    test_acc = evaluate(model, splits["test"], args.eval_batch_size)

    train_seconds = sum(s["seconds"] for s in stages)
    train_examples = sum(s["examples"] for s in stages)
    rate = train_examples / train_seconds if train_seconds else 0.0
    print(f"\nmode {args.mode}, head {args.head}"
          + (f", pooling {args.pooling}" if args.head == "linear" else "")
          + f", {args.epochs} epoch(s), batch {args.batch_size}, max length {args.max_length}", file=out)
    print("| exit | dev acc | test acc |\n|---:|---:|---:|", file=out)
    for l in range(model.layers):
        print(f"| {l + 1} | {dev_acc[l] * 100:.2f} | {test_acc[l] * 100:.2f} |", file=out)
    for s in stages:
        print(f"{s['stage']}: {s['steps']} steps, {s['examples']} examples in {s['seconds']:.1f} s "
              f"= {s['examples_per_s']:.1f} examples/s, last loss {s['last_loss']:.4f}", file=out)
    print(f"training: {train_examples} examples in {train_seconds:.1f} s = {rate:.1f} examples/s", file=out)
    if args.json:
        print(json.dumps({
            "engine": "pytorch", "mode": args.mode, "head": args.head,
            "pooling": args.pooling, "epochs": args.epochs,
            "train_examples_per_s": round(rate, 2),
            "dev_acc": [round(a, 6) for a in dev_acc],
            "test_acc": [round(a, 6) for a in test_acc],
            "seconds": round(train_seconds, 2),
            "batch_size": args.batch_size, "max_length": args.max_length, "lr": args.lr,
            "seed": args.seed, "threads": args.threads, "max_steps": args.max_steps,
            "stages": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in stages],
            "dev_history": history,
            "wall_seconds": round(time.perf_counter() - wall0, 2),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "attention": model.bert.config._attn_implementation,
        }), flush=True)


if __name__ == "__main__":
    main()
