"""A loaded model: a library handle, its lock, and closing it."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, List, Optional, Type, TypeVar, Union

from . import _native
from .errors import OfframpError

T = TypeVar("T")
M = TypeVar("M", bound="Model")


class Model:
    """The base of Encoder, Classifier and Tagger.

    Safe to share between threads: calls on one model run one at a time (a
    lock here, held while the library computes with the GIL released);
    different models run in parallel. Long calls go to the library one
    batch at a time, so Ctrl-C stops them between batches and leaves the
    model usable.
    """

    _load_function = ""

    def __init__(self, handle: int) -> None:
        self._handle: Optional[int] = handle
        self._lock = threading.Lock()
        self.info: Dict[str, Any] = _native.info(handle)
        """What the library reports of the model (kind, layers, labels, policy, ...)."""

    @classmethod
    def load(cls: Type[M], path: Union[str, "os.PathLike[str]"], precision: Optional[str] = None) -> M:
        """Loads a model directory ("~" expanded). `precision`: "fp32", "bf16"
        or "int8" for the layers' matrix products; None: a quantized
        checkpoint's saved one, else fp32."""
        if isinstance(path, (str, os.PathLike)):
            path = os.path.expanduser(os.fspath(path))
        return cls(_native.load(cls._load_function, path, precision))

    def _call(self, body: Callable[[int], T]) -> T:
        with self._lock:
            if self._handle is None:
                raise OfframpError(f"this {type(self).__name__} is closed")
            return body(self._handle)

    def close(self) -> None:
        """Frees the model now (otherwise when it is garbage-collected)."""
        with self._lock:
            if self._handle is not None:
                _native.library().offramp_handle_free(self._handle)
                self._handle = None

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class MultiExitModel(Model):
    """The base of Classifier and Tagger: a checkpoint with an exit after each layer."""

    @property
    def labels(self) -> List[str]:
        return list(self.info["labels"])

    @property
    def layers(self) -> int:
        return int(self.info["layers"])

    @property
    def default_policy(self) -> str:
        """The policy used when none is given: the calibrated one saved with
        the model ("entropy:0.3"), else "full"."""
        return str(self.info["policy"])
