#!/usr/bin/env python3
"""Peer benchmark: the MiniLM-L6 encoder under PyTorch and under ONNX Runtime (optimized).

Run:  bench/run-peers.sh            (sets up the venv, runs this, the Swift bench, compare.py)
  or  $OFFRAMP_HOME/venv-peers/bin/python bench/peers.py [--json] [--seconds S]
                                      [--engines pytorch,onnxruntime] [--cases b1-L16,mr-b32]

The inputs are defined so that `offramp bench encode` reproduces them exactly:
  synthetic "b{B}-L{L}", B in {1, 32}, L in {16, 64, 128}: sequence b (0-based) has
      ids[0] = 101 ([CLS]), ids[L-1] = 102 ([SEP]),
      ids[j] = 1000 + ((b*131 + j*71) % 28000) for 0 < j < L-1;
      attention mask all ones, token types all 0. Real tokens per batch = B*L.
  real "mr-b32": the first 1024 MR sentences in file order (text field of
      "id<TAB>rating<TAB>text", CRLF stripped), tokenized with BertTokenizerFast
      (truncation, max_length=128), in 32 consecutive batches of 32, each padded
      with [PAD]=0 to its own longest sequence (mask 0 on padding, token types 0).
      Real tokens = sum of the unpadded lengths.
Timing: each engine runs with 2 threads (torch.set_num_threads(2); ORT intra-op 2,
inter-op 1, sequential). One repetition is one forward pass of one batch (synthetic)
or one pass over all 32 MR batches (mr-b32); after warm-up, repetitions continue
until at least --seconds have passed and at least --min-reps were made, and the
MEDIAN repetition time t is reported:
  synthetic: ms_per_batch = t, sentences_per_s = B/t, tokens_per_s = B*L/t
  mr-b32:    ms_per_batch = t/32, sentences_per_s = 1024/t, tokens_per_s = real/t
Only the forward pass is timed (tokenization and tensor creation are done beforehand);
PyTorch returns last_hidden_state, ORT fetches last_hidden_state into numpy.

ONNX: BertModel (eager attention) is exported with the TorchScript exporter
(torch.onnx.export(dynamo=False), opset 17, dynamic batch and sequence axes) and then
optimized with onnxruntime.transformers.optimizer.optimize_model(model_type="bert").
The newer dynamo exporter produces a graph in which the ORT optimizer does not fuse
attention (no Attention / EmbedLayerNormalization nodes), which would handicap ORT;
--exporter dynamo is kept to check that. The optimized graph is cached under
$OFFRAMP_HOME/bench/ keyed by the model's sha256 and the torch/onnxruntime versions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# onnxruntime-int8: the fused graph through quantize_dynamic (QInt8 weights,
# per tensor); onnxruntime-int8-pc: the same per output channel.
ENGINES = ("pytorch", "onnxruntime", "onnxruntime-int8", "onnxruntime-int8-pc")
SYNTHETIC = [(b, l) for b in (1, 32) for l in (16, 64, 128)]
CASES = [f"b{b}-L{l}" for b, l in SYNTHETIC] + ["mr-b32"]
MR_SENTENCES = 1024
MR_BATCH = 32
MAX_LENGTH = 128
THREADS = 2
OPSET = 17


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def offramp_home() -> Path:
    home = os.environ.get("OFFRAMP_HOME")
    return Path(home) if home else Path.home() / ".cache/offramp"


# --- inputs -------------------------------------------------------------------------

class Batch:
    """One batch as int64 numpy arrays [B, L] plus its real token count."""

    def __init__(self, ids: np.ndarray, mask: np.ndarray):
        self.ids = ids
        self.mask = mask
        self.types = np.zeros_like(ids)
        self.real_tokens = int(mask.sum())
        self.torch = None  # filled lazily with torch tensors


def synthetic_batch(batch: int, length: int) -> Batch:
    ids = np.empty((batch, length), dtype=np.int64)
    j = np.arange(length, dtype=np.int64)
    for b in range(batch):
        ids[b] = 1000 + ((b * 131 + j * 71) % 28000)
        ids[b, 0] = 101
        ids[b, length - 1] = 102
    return Batch(ids, np.ones_like(ids))


def read_mr(path: Path, count: int) -> list[str]:
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for n, line in enumerate(lines[:count]):
        parts = line.rstrip("\r\n").split("\t", 2)
        if len(parts) != 3:
            raise SystemExit(f"{path}:{n + 1}: expected 3 TAB-separated fields")
        out.append(parts[2])
    if len(out) < count:
        raise SystemExit(f"{path}: only {len(out)} lines, need {count}")
    return out


def mr_batches(model_dir: Path, corpus: Path) -> list[Batch]:
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(str(model_dir))
    sentences = read_mr(corpus, MR_SENTENCES)
    seqs = tok(sentences, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    batches = []
    for start in range(0, len(seqs), MR_BATCH):
        chunk = seqs[start:start + MR_BATCH]
        longest = max(len(s) for s in chunk)
        ids = np.zeros((len(chunk), longest), dtype=np.int64)  # [PAD] = 0
        mask = np.zeros_like(ids)
        for r, s in enumerate(chunk):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        batches.append(Batch(ids, mask))
    return batches


# --- engines ------------------------------------------------------------------------

def load_torch_model(model_dir: Path, attn: str | None = None):
    import torch
    from transformers import BertModel

    kwargs = {"dtype": torch.float32}
    if attn:
        kwargs["attn_implementation"] = attn
    model = BertModel.from_pretrained(str(model_dir), **kwargs)
    return model.eval()


class TorchEngine:
    name = "pytorch"

    def __init__(self, model_dir: Path, attn: str | None):
        import torch

        self.torch = torch
        self.model = load_torch_model(model_dir, attn)
        self.info = f"torch {torch.__version__}, attention={self.model.config._attn_implementation}, " \
                    f"threads={torch.get_num_threads()}"

    def run(self, batch: Batch):
        torch = self.torch
        if batch.torch is None:
            batch.torch = (torch.from_numpy(batch.ids), torch.from_numpy(batch.mask),
                           torch.from_numpy(batch.types))
        ids, mask, types = batch.torch
        with torch.inference_mode():
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_onnx(model_dir: Path, cache: Path, exporter: str) -> Path:
    """Exports and optimizes the model once; returns the cached optimized graph."""
    import onnxruntime
    import torch

    config = json.loads((model_dir / "config.json").read_text())
    heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
    key = (f"{model_dir.name}-{sha256(model_dir / 'model.safetensors')[:12]}-{exporter}-opset{OPSET}"
           f"-torch{torch.__version__.split('+')[0]}-ort{onnxruntime.__version__}")
    optimized = cache / f"{key}.opt.onnx"
    if optimized.exists():
        return optimized
    cache.mkdir(parents=True, exist_ok=True)
    raw = cache / f".{key}.{os.getpid()}.raw.onnx"
    tmp = cache / f".{key}.{os.getpid()}.opt.onnx"
    log(f"exporting {model_dir} to ONNX ({exporter} exporter, opset {OPSET}) ...")

    model = load_torch_model(model_dir, "eager")

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    # eval() matters: the exporter restores the wrapper's training flag recursively,
    # which would otherwise leave dropout switched on in the wrapped model.
    wrapper = LastHidden(model).eval()
    # Dummy input with padding, so the mask path is traced as data, not as a constant.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    try:
        if exporter == "dynamo":
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
            torch.onnx.export(wrapper, (ids, mask, torch.zeros_like(ids)), str(raw), dynamo=True,
                              input_names=names, output_names=["last_hidden_state"],
                              opset_version=OPSET,
                              dynamic_shapes={n: {0: batch, 1: seq} for n in names})
        else:
            axes = {0: "batch", 1: "sequence"}
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(wrapper, (ids, mask, torch.zeros_like(ids)), str(raw), dynamo=False,
                                  input_names=names, output_names=["last_hidden_state"],
                                  opset_version=OPSET,
                                  dynamic_axes={n: axes for n in names + ["last_hidden_state"]})

        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden)
        fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
        log(f"ORT optimizer fused: {fused}")
        if exporter == "torchscript" and not fused.get("Attention"):
            raise SystemExit("ORT optimizer did not fuse attention; the ONNX baseline would be weak")
        opt.save_model_to_file(str(tmp))
        os.replace(tmp, optimized)
    finally:
        for p in (raw, tmp, Path(str(raw) + ".data")):
            if p.exists():
                p.unlink()
    log(f"optimized graph cached at {optimized}")
    return optimized


def quantize_onnx(optimized: Path, per_channel: bool) -> Path:
    """ORT's dynamic int8 (quantize_dynamic, QInt8) of the fused graph, cached beside it.
    DefaultTensorType: the fused graph's ops carry no type information the
    quantizer can read, and it refuses without it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = optimized.with_suffix(f".int8{'-pc' if per_channel else ''}.onnx")
    if out.exists():
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    try:
        quantize_dynamic(str(optimized), str(tmp), weight_type=QuantType.QInt8, per_channel=per_channel,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def cpu_description() -> str:
    """The CPU's model name and the flags that decide which kernels run, for every record."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    relevant = [f for f in ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
                if f in flags]
    return f"{model}, {os.cpu_count()} cores ({' '.join(relevant)})"


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, model_dir: Path, cache: Path, exporter: str, quantize: str | None = None):
        import onnxruntime as ort

        self.path = build_onnx(model_dir, cache, exporter)
        if quantize:
            self.path = quantize_onnx(self.path, per_channel=quantize == "per-channel")
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.info = f"onnxruntime {ort.__version__}, {self.path.name}, intra_op={THREADS}"

    def run(self, batch: Batch):
        feeds = {"input_ids": batch.ids, "attention_mask": batch.mask, "token_type_ids": batch.types}
        return self.session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self.inputs})[0]


# --- timing -------------------------------------------------------------------------

def measure(run_once, seconds: float, min_reps: int, warmup: int) -> tuple[float, int]:
    for _ in range(warmup):
        run_once()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def pooled_cosines(torch_engine: TorchEngine, engine: OrtEngine, batches: list[Batch]) -> tuple[float, float]:
    """Mean-pooled embeddings' cosine to PyTorch fp32 per sentence: (mean, min)."""
    cos = []
    for batch in batches:
        ref, got = torch_engine.run(batch).numpy(), engine.run(batch)
        m = batch.mask[..., None].astype(np.float32)
        a, b = (ref * m).sum(1) / m.sum(1), (got * m).sum(1) / m.sum(1)
        cos += list((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    return float(np.mean(cos)), float(np.min(cos))


def check_ort(torch_engine: TorchEngine, ort_engine: OrtEngine, batches: list[Batch]) -> float:
    worst = 0.0
    for batch in batches:
        ref = torch_engine.run(batch).numpy()
        got = ort_engine.run(batch)
        real = batch.mask.astype(bool)
        worst = max(worst, float(np.abs(ref - got)[real].max()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description="MiniLM-L6 encoder under PyTorch and ONNX Runtime",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", type=Path, default=offramp_home() / "models/minilm-l6")
    ap.add_argument("--corpus", type=Path,
                    default=offramp_home() / "corpora/mr/movieReviewSnippets_GroundTruth.txt")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: pytorch,onnxruntime")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per case")
    ap.add_argument("--min-reps", type=int, default=3, help="minimum timed repetitions per case")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed repetitions first (batches; for mr-b32 passes, at most 1)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per line")
    ap.add_argument("--cosine-sentences", type=int, default=1024,
                    help="MR sentences (a multiple of 32, at most 1024) over which ORT int8's mean-pooled cosine "
                         "to fp32 is measured; 0 skips it")
    ap.add_argument("--cache", type=Path, default=offramp_home() / "bench",
                    help="where the optimized ONNX graph is kept")
    ap.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript")
    ap.add_argument("--torch-attn", default=None,
                    help="attn_implementation for the pytorch engine (default: transformers' default, sdpa)")
    args = ap.parse_args()

    engines = [e for e in args.engines.split(",") if e]
    cases = [c for c in args.cases.split(",") if c]
    if args.cosine_sentences < 0 or args.cosine_sentences > MR_SENTENCES or args.cosine_sentences % MR_BATCH:
        raise SystemExit(f"--cosine-sentences {args.cosine_sentences}: a multiple of {MR_BATCH} in 0...{MR_SENTENCES}")
    for e in engines:
        if e not in ENGINES:
            raise SystemExit(f"unknown engine {e!r}; known: {', '.join(ENGINES)}")
    for c in cases:
        if c not in CASES:
            raise SystemExit(f"unknown case {c!r}; known: {', '.join(CASES)}")

    import torch

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)

    inputs: dict[str, list[Batch]] = {}
    for b, l in SYNTHETIC:
        if f"b{b}-L{l}" in cases:
            inputs[f"b{b}-L{l}"] = [synthetic_batch(b, l)]
    uses_ort = any(e.startswith("onnxruntime") for e in engines)
    if "mr-b32" in cases or uses_ort:
        mr = mr_batches(args.model, args.corpus)
        if "mr-b32" in cases:
            inputs["mr-b32"] = mr

    # PyTorch is always loaded when ORT runs, to check ORT's output against it.
    torch_engine = TorchEngine(args.model, args.torch_attn) \
        if ("pytorch" in engines or uses_ort) else None
    loaded = {}
    if "pytorch" in engines:
        loaded["pytorch"] = torch_engine
    if "onnxruntime" in engines:
        ort_engine = OrtEngine(args.model, args.cache, args.exporter)
        worst = check_ort(torch_engine, ort_engine, [synthetic_batch(2, 16), synthetic_batch(1, 128)] + mr[:2])
        verdict = "OK" if worst <= 1e-3 else "MISMATCH"
        log(f"check: onnxruntime vs pytorch last_hidden_state max |diff| = {worst:.2e} "
            f"over real tokens (tolerance 1e-3): {verdict}")
        if worst > 1e-3:
            raise SystemExit("onnxruntime output differs from pytorch by more than 1e-3")
        loaded["onnxruntime"] = ort_engine
    cosines = {}
    for e, mode in (("onnxruntime-int8", "per-tensor"), ("onnxruntime-int8-pc", "per-channel")):
        if e in engines:
            loaded[e] = OrtEngine(args.model, args.cache, args.exporter, quantize=mode)
            if args.cosine_sentences > 0:
                n = args.cosine_sentences // MR_BATCH
                cosines[e] = pooled_cosines(torch_engine, loaded[e], mr[:n])
                log(f"{e}: mean-pooled cosine to fp32 over {n * MR_BATCH} MR sentences: "
                    f"mean {cosines[e][0]:.4f}, min {cosines[e][1]:.4f}")
    cpu = cpu_description()
    log(f"CPU: {cpu}")
    for e in engines:
        log(f"{e}: {loaded[e].info}")

    rows = []
    if not args.json:
        print(f"{'engine':<12} {'case':<9} {'batch':>5} {'length':>6} {'sent/s':>10} "
              f"{'tokens/s':>11} {'ms/batch':>9} {'reps':>5}", flush=True)
    for case in cases:
        batches = inputs[case]
        sentences = sum(b.ids.shape[0] for b in batches)
        real = sum(b.real_tokens for b in batches)
        for e in engines:
            engine = loaded[e]

            def run_once(engine=engine, batches=batches):
                for batch in batches:
                    engine.run(batch)

            warmup = args.warmup if len(batches) == 1 else min(args.warmup, 1)
            t, reps = measure(run_once, args.seconds, args.min_reps, warmup)
            row = {
                "engine": e,
                "case": case,
                "batch": int(batches[0].ids.shape[0]),
                "seq_len": int(batches[0].ids.shape[1]) if len(batches) == 1 else "var",
                "sentences_per_s": round(sentences / t, 3),
                "tokens_per_s": round(real / t, 1),
                "ms_per_batch": round(1000 * t / len(batches), 4),
                "cpu": cpu,
            }
            if e in cosines:
                row["cosine_mean"], row["cosine_min"] = round(cosines[e][0], 5), round(cosines[e][1], 5)
                row["cosine_sentences"] = args.cosine_sentences
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{e:<12} {case:<9} {row['batch']:>5} {row['seq_len']:>6} "
                      f"{row['sentences_per_s']:>10.1f} {row['tokens_per_s']:>11.0f} "
                      f"{row['ms_per_batch']:>9.2f} {reps:>5}", flush=True)


if __name__ == "__main__":
    main()
