"""Texts in, embeddings out."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import numpy.typing as npt

from . import _inputs, _native
from ._handle import Model


class Encoder(Model):
    """A sentence encoder: a BERT-family model directory (config.json,
    model.safetensors, tokenizer.json or vocab.txt), e.g. all-MiniLM-L6-v2.

    >>> encoder = Encoder.load("~/.cache/offramp/models/minilm-l6")
    >>> encoder.embed(["A gorgeous, witty film."], normalize=True).shape
    (1, 384)
    """

    _load_function = "offramp_encoder_load"

    @property
    def hidden_size(self) -> int:
        return int(self.info["hidden_size"])

    @property
    def max_length(self) -> int:
        """Tokens per text, [CLS] and [SEP] included; longer texts are cut."""
        return int(self.info["max_length"])

    def embed(self, texts: Sequence[str], pooling: str = "mean", normalize: bool = False,
              batch_size: int = 32) -> "npt.NDArray[np.float32]":
        """Pooled embeddings, float32 of shape (len(texts), hidden_size), the
        same numbers `offramp encode` prints. `pooling`: "mean" (over the
        tokens, sentence-transformers' default) or "cls"; `normalize`: unit L2 norm."""
        strings = _inputs.texts(texts)
        pooling_name = _inputs.name(pooling, "pooling")
        size = _inputs.batch_size(batch_size)
        out = np.zeros((strings.count, self.hidden_size), dtype=np.float32)
        lib = _native.library()

        def run(handle: int, start: int, stop: int) -> None:
            message = _native.message_buffer()
            pointers, lengths = strings.slice(start, stop)
            rows = out[start:stop]
            status = lib.offramp_encoder_embed(
                handle, pointers, lengths, stop - start, start, pooling_name, int(bool(normalize)), size,
                _native.floats(rows), rows.size, message, _native.MESSAGE_BYTES,
            )
            _native.check(status, message)

        # One batch per call: Ctrl-C lands between batches. An empty list goes
        # to the library once, for its own error.
        for start in range(0, max(strings.count, 1), size):
            stop = min(start + size, strings.count)
            self._call(lambda h: run(h, start, stop))
        return out
