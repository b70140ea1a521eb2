"""Texts (or sentence pairs) in, labels with early exit out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _inputs, _native
from ._handle import MultiExitModel
from .errors import InputTypeError

TextsOrPairs = Union[Sequence[str], Sequence[Tuple[str, str]]]


@dataclass(frozen=True)
class Predictions:
    """The predictions for n texts."""

    labels: List[str]
    """Each text's label."""
    label_ids: "npt.NDArray[np.int32]"
    """(n,) int32: each label's index in `Classifier.labels`."""
    probabilities: "npt.NDArray[np.float32]"
    """(n, classes) float32: each label's probability, in `Classifier.labels` order."""
    exit_layers: "npt.NDArray[np.int32]"
    """(n,) int32: the 1-based layer whose exit answered."""

    def __len__(self) -> int:
        return len(self.labels)


class Classifier(MultiExitModel):
    """A multi-exit text classifier (made by `offramp train`, or a HF
    sequence classifier with exits added) that lets easy texts leave early.

    >>> clf = Classifier.load("runs/mr-classifier")
    >>> p = clf.predict(["A gorgeous, witty film."], policy="entropy", threshold=0.3)
    >>> p.labels[0], int(p.exit_layers[0])
    ('pos', 2)
    """

    _load_function = "offramp_classifier_load"

    def predict(self, texts: TextsOrPairs, policy: Optional[str] = None, threshold: Optional[float] = None,
                patience: Optional[int] = None, layer: Optional[int] = None, batch_size: int = 32) -> Predictions:
        """Classifies texts, or sentence pairs given as (a, b) tuples, under an
        exit policy: "full", "budget" (layer), "entropy" / "confidence"
        (threshold), "patience" (patience), "patience-confidence" (both);
        None: `default_policy`. The same labels and exit layers as `offramp predict`."""
        items = _inputs.sequence(texts, "texts")
        pairs = bool(items) and not isinstance(items[0], str)
        if pairs:
            for i, item in enumerate(items):
                if isinstance(item, str) or not isinstance(item, (tuple, list)) or len(item) != 2:
                    raise InputTypeError(f"text {i + 1} is not a (text, text_pair) pair like the first"
                                         f" (got {type(item).__name__})")
            first = _inputs.Strings([_inputs.encode(a, "text", i + 1) for i, (a, _) in enumerate(items)])
            second: Optional[_inputs.Strings] = _inputs.Strings(
                [_inputs.encode(b, "text_pair", i + 1) for i, (_, b) in enumerate(items)])
        else:
            first, second = _inputs.texts(items), None
        policy_name = _inputs.name(policy, "policy")
        t = _inputs.threshold(threshold)
        p, k = _inputs.setting(patience, "patience"), _inputs.setting(layer, "layer")
        size = _inputs.batch_size(batch_size)
        n, classes = first.count, len(self.labels)
        label_ids = np.zeros(n, dtype=np.int32)
        probabilities = np.zeros((n, classes), dtype=np.float32)
        exit_layers = np.zeros(n, dtype=np.int32)
        lib = _native.library()

        def run(handle: int, start: int, stop: int) -> None:
            message = _native.message_buffer()
            a, a_lengths = first.slice(start, stop)
            b, b_lengths = second.slice(start, stop) if second is not None else (None, None)
            rows = probabilities[start:stop]
            status = lib.offramp_classifier_predict(
                handle, a, a_lengths, b, b_lengths, stop - start, start, policy_name, t, p, k, size,
                _native.int32s(label_ids[start:]),
                _native.floats(rows), rows.size,
                _native.int32s(exit_layers[start:]),
                message, _native.MESSAGE_BYTES,
            )
            _native.check(status, message)

        # One batch per call (Ctrl-C lands between batches); an empty list
        # goes to the library once, for its own error.
        for start in range(0, max(n, 1), size):
            stop = min(start + size, n)
            self._call(lambda h: run(h, start, stop))
        names = self.labels
        return Predictions([names[i] for i in label_ids], label_ids, probabilities, exit_layers)

    __call__ = predict
