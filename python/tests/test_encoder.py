"""Embeddings equal the library's, as `offramp encode` prints them."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import List

import numpy as np
import pytest

import offramp
from conftest import json_lines, run


def reference(cli: Path, model: Path, texts: List[str], tmp_path: Path, *options: str) -> np.ndarray:
    f = tmp_path / "texts.txt"
    f.write_text("\n".join(texts) + "\n", encoding="utf-8")
    rows = json_lines(run(cli, "encode", "--model", str(model), "--file", str(f), *options))
    assert [r["text"] for r in rows] == texts
    return np.array([r["embedding"] for r in rows], dtype=np.float32)


@pytest.fixture(scope="module")
def encoder(minilm: Path) -> offramp.Encoder:
    return offramp.Encoder.load(minilm)


@pytest.mark.parametrize("pooling,normalize,batch_size", [("mean", False, 32), ("mean", True, 4), ("cls", False, 5)])
def test_embeddings_equal_the_command_line(encoder, cli, minilm, sentences, tmp_path, pooling, normalize, batch_size):
    options = ["--pooling", pooling, "--batch-size", str(batch_size)] + (["--normalize"] if normalize else [])
    expected = reference(cli, minilm, sentences, tmp_path, *options)
    got = encoder.embed(sentences, pooling=pooling, normalize=normalize, batch_size=batch_size)
    assert got.shape == (len(sentences), 384) and got.dtype == np.float32
    assert np.max(np.abs(got - expected)) <= 1e-6


def test_batching_changes_embeddings_by_rounding_only(encoder, sentences):
    # Other batches are other matrix shapes, so OpenBLAS sums in another
    # order: a few float32 ulps, as in the Swift library itself.
    whole = encoder.embed(sentences, batch_size=32)
    assert np.max(np.abs(encoder.embed(sentences, batch_size=1) - whole)) <= 1e-5
    assert np.max(np.abs(encoder.embed(sentences, batch_size=3) - whole)) <= 1e-5


def test_normalized_embeddings_have_unit_norm(encoder, sentences):
    norms = np.linalg.norm(encoder.embed(sentences, normalize=True), axis=1)
    assert np.allclose(norms, 1, atol=1e-5)


def test_blas_kernels_are_chosen_as_the_command_chooses_them(monkeypatch):
    from offramp import _native

    avx512 = "flags\t: fpu sse avx2 avx512f avx512bw avx512dq avx512vl avx512cd\n"
    for before, cpuinfo, after in [(None, avx512, "SkylakeX"), ("Haswell", avx512, "SkylakeX"),
                                   ("Zen", "flags : avx2 fma\n", "Zen"), ("Cooperlake", avx512, "Cooperlake")]:
        if before is None:
            monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_CORETYPE", before)
        _native.prefer_blas_kernels(cpuinfo)
        assert os.environ.get("OPENBLAS_CORETYPE") == after


def test_info_describes_the_model(encoder):
    assert encoder.hidden_size == 384
    assert encoder.max_length == 256  # sentence-transformers' max_seq_length
    assert encoder.info["layers"] == 6 and encoder.info["precision"] == "fp32"


def test_threads_share_an_encoder(encoder, sentences):
    """Several threads on one encoder (serialized by its lock) get what one thread gets."""
    expected = encoder.embed(sentences)
    results: List[np.ndarray] = []
    errors: List[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(encoder.embed(sentences))
        except BaseException as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    for r in results:
        assert np.array_equal(r, expected)


def test_closed_encoder_is_an_error(minilm):
    e = offramp.Encoder.load(minilm)
    with e:
        assert e.embed(["fine"]).shape == (1, 384)
    with pytest.raises(offramp.OfframpError, match="closed"):
        e.embed(["too late"])


def test_ctrl_c_between_batches_leaves_the_encoder_usable(encoder, sentences):
    """KeyboardInterrupt lands between two batches (each one library call);
    the encoder's lock is released and its next call is exact."""
    import _thread

    expected = encoder.embed(sentences)
    timer = threading.Timer(0.05, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(10_000):
            encoder.embed(sentences, batch_size=1)
    timer.cancel()
    assert np.array_equal(encoder.embed(sentences), expected)
