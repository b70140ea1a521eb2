"""Sentences of words in, a label per word with SENTEE / TOKEE early exit out."""

from __future__ import annotations

import ctypes
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from . import _inputs, _native
from ._handle import MultiExitModel


class TaggedWord(NamedTuple):
    word: str
    label: Optional[str]
    """None when the word was cut off by the maximum length (no layer saw it)."""
    probability: float
    """The chosen label's probability."""
    exit_layer: int
    """The 1-based layer at which the word halted (0 when unlabeled)."""


class Tagger(MultiExitModel):
    """A multi-exit sequence labeler (POS, NER; `offramp train --task label`)
    whose words halt as soon as they, or their window, are sure enough.

    >>> tagger = Tagger.load("runs/pos-tagger")
    >>> tagger.tag([["Stocks", "rose", "sharply", "."]], policy="tokee", window=1, threshold=0.1)[0][0]
    TaggedWord(word='Stocks', label='NNS', probability=0.98, exit_layer=2)
    """

    _load_function = "offramp_tagger_load"

    def tag(self, sentences: Sequence[Sequence[str]], policy: Optional[str] = None, threshold: Optional[float] = None,
            window: Optional[int] = None, layer: Optional[int] = None, batch_size: int = 32) -> List[List[TaggedWord]]:
        """Labels pre-split sentences under "full", "budget" (layer), "sentee" /
        "sentee-confidence" (threshold) or "tokee" / "tokee-confidence"
        (threshold, window: half-width, default 2); None: `default_policy`."""
        words_of = [list(_inputs.sequence(s, f"sentence {i + 1}")) for i, s in enumerate(_inputs.sequence(sentences, "sentences"))]
        flat = _inputs.Strings([_inputs.encode(w, "word", i + 1) for i, w in enumerate(w for s in words_of for w in s)])
        counts = [len(s) for s in words_of]
        offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        policy_name = _inputs.name(policy, "policy")
        t = _inputs.threshold(threshold)
        k, b = _inputs.setting(window, "window"), _inputs.setting(layer, "layer")
        size = _inputs.batch_size(batch_size)
        n = flat.count
        label_ids = np.zeros(n, dtype=np.int32)
        probabilities = np.zeros(n, dtype=np.float32)
        exit_layers = np.zeros(n, dtype=np.int32)
        sentence_lengths = (ctypes.c_ssize_t * max(len(counts), 1))(*counts)
        lib = _native.library()

        def run(handle: int, start: int, stop: int) -> None:
            message = _native.message_buffer()
            w0, w1 = int(offsets[start]), int(offsets[stop])
            pointers, lengths = flat.slice(w0, w1)
            status = lib.offramp_tagger_tag(
                handle, pointers, lengths, w1 - w0,
                _native.element(sentence_lengths, start, ctypes.c_ssize_t),
                stop - start, start, policy_name, t, k, b, size,
                _native.int32s(label_ids[w0:]),
                _native.floats(probabilities[w0:]),
                _native.int32s(exit_layers[w0:]),
                message, _native.MESSAGE_BYTES,
            )
            _native.check(status, message)

        for start in range(0, max(len(counts), 1), size):
            stop = min(start + size, len(counts))
            self._call(lambda h: run(h, start, stop))
        names = self.labels
        out: List[List[TaggedWord]] = []
        for s, words in enumerate(words_of):
            base = int(offsets[s])
            out.append([TaggedWord(w, names[label_ids[base + j]] if label_ids[base + j] >= 0 else None,
                                   float(probabilities[base + j]), int(exit_layers[base + j])) for j, w in enumerate(words)])
        return out

    __call__ = tag
