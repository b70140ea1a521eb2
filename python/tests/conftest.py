"""Shared fixtures: the built library and command, the real MiniLM model,
and tiny multi-exit models trained by the command itself (as the Swift
suites' CommandLineFixtures make them), once per session.

Nothing here skips: a missing library, command or model is an error that
says what to build or fetch (scripts/test sets all of them up).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(35)]


def required_path(variable: str, default: Path, what: str) -> Path:
    path = Path(os.environ.get(variable, default))
    if not path.exists():
        pytest.fail(f"{path} is missing ({what}; or set {variable})", pytrace=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def library() -> Path:
    """The libOfframpC.so under test: $OFFRAMP_LIBRARY (scripts/test sets it)."""
    path = required_path("OFFRAMP_LIBRARY", ROOT / ".build/release/libOfframpC.so",
                         "build it: swift build -c release --product OfframpC")
    os.environ["OFFRAMP_LIBRARY"] = str(path)
    return path


@pytest.fixture(scope="session")
def cli() -> Path:
    """The offramp command, the reference the Python results must equal."""
    return required_path("OFFRAMP_CLI", ROOT / ".build/release/offramp", "build it: swift build -c release --product offramp")


@pytest.fixture(scope="session")
def minilm() -> Path:
    home = Path(os.environ.get("OFFRAMP_HOME", Path.home() / ".cache/offramp"))
    return required_path("OFFRAMP_MINILM", home / "models/minilm-l6", "fetch it: scripts/setup")


@pytest.fixture(scope="session")
def sentences() -> List[str]:
    """The fixture sentences: short and long (one past 256 tokens, cut), accents, CJK, emoji, punctuation."""
    return [line for line in (FIXTURES / "sentences.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def run(cli: Path, *arguments: str, stdin: str = "") -> str:
    """Runs the command; a failure shows its stderr."""
    r = subprocess.run([str(cli), *arguments], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"offramp {' '.join(arguments)} failed ({r.returncode}):\n{r.stderr}", pytrace=False)
    return r.stdout


def json_lines(text: str) -> List[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- tiny models ------------------------------------------------------------

def write_safetensors(path: Path, tensors: Dict[str, np.ndarray]) -> None:
    """The safetensors format: an 8-byte header length, a JSON header, the raw float32 data."""
    header: Dict[str, dict] = {}
    offset, blobs = 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def tiny_pretrained(directory: Path, layers: int = 4) -> Path:
    """A random 4-layer BERT, 16 wide, 16 positions, over the w0...w34 vocabulary (TestModels.tinyPretrained)."""
    rng = np.random.default_rng(7)
    h, ffn, v = 16, 24, len(TINY_VOCABULARY)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape) * 0.2

    t: Dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": normal(v, h),
        "embeddings.position_embeddings.weight": normal(16, h),
        "embeddings.token_type_embeddings.weight": normal(2, h),
        "embeddings.LayerNorm.weight": np.ones(h), "embeddings.LayerNorm.bias": np.zeros(h),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            t[p + name + ".weight"], t[p + name + ".bias"] = normal(h, h), np.zeros(h)
        t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = normal(ffn, h), np.zeros(ffn)
        t[p + "output.dense.weight"], t[p + "output.dense.bias"] = normal(h, ffn), np.zeros(h)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + name + ".weight"], t[p + name + ".bias"] = np.ones(h), np.zeros(h)
    t["pooler.dense.weight"], t["pooler.dense.bias"] = normal(h, h), np.zeros(h)
    directory.mkdir(parents=True)
    write_safetensors(directory / "model.safetensors", t)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": v, "hidden_size": h,
              "num_hidden_layers": layers, "num_attention_heads": 2, "intermediate_size": ffn, "hidden_act": "gelu",
              "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "initializer_range": 0.2}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCABULARY) + "\n")
    return directory


def tiny_text(i: int) -> tuple:
    """A text whose label is one marker word (w10 or w20) among others (CommandLineFixtures.text)."""
    positive = i % 2 == 1
    words = [f"w{5 + (k * 7 + i) % 30}" for k in range(2 + i % 4)]
    words = [w for w in words if w not in ("w10", "w20")]
    return ("pos" if positive else "neg", " ".join(words + ["w20" if positive else "w10"]))


def tiny_sentence(s: int) -> List[tuple]:
    """A tagged sentence: each word's tag follows its number, mod 3."""
    return [(f"w{5 + (s * 5 + w * 3) % 30}", "ABC"[(5 + (s * 5 + w * 3) % 30) % 3]) for w in range(3 + s % 4)]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, cli: Path) -> Dict[str, Path]:
    """Data files, a jointly trained classifier and a tagger, by `offramp train`."""
    d = tmp_path_factory.mktemp("tiny")
    pretrained = tiny_pretrained(d / "pretrained")
    for name, r in (("train.tsv", range(0, 24)), ("dev.tsv", range(24, 36)), ("test.tsv", range(36, 60))):
        (d / name).write_text("".join("%s\t%s\n" % tiny_text(i) for i in r))
    for name, r in (("train.conll", range(0, 20)), ("dev.conll", range(20, 30)), ("test.conll", range(30, 50))):
        (d / name).write_text("".join("".join(f"{w}\t{t}\n" for w, t in tiny_sentence(s)) + "\n" for s in r))
    common = ["train", "--model", str(pretrained), "--max-length", "16", "--batch-size", "6", "--lr", "5e-3", "--mode", "joint"]
    run(cli, *common, "--pooling", "mean", "--epochs", "6", "--train", str(d / "train.tsv"), "--dev", str(d / "dev.tsv"),
        "--out", str(d / "classifier"))
    run(cli, *common, "--task", "label", "--epochs", "6", "--train", str(d / "train.conll"), "--dev", str(d / "dev.conll"),
        "--out", str(d / "tagger"))
    return {"dir": d, "classifier": d / "classifier", "tagger": d / "tagger"}
