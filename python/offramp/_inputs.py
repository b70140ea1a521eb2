"""Python values checked and turned into what the C ABI takes."""

from __future__ import annotations

import math
import numbers
from ctypes import c_char_p, c_ssize_t
from typing import Any, List, Optional, Sequence, Tuple

from ._native import NO_SETTING, element
from .errors import InputTypeError, OfframpError


class Strings:
    """UTF-8 strings as the ABI takes them: pointers and byte lengths (kept alive here)."""

    def __init__(self, encoded: List[bytes]) -> None:
        self.count = len(encoded)
        self.pointers = (c_char_p * max(self.count, 1))(*encoded)
        self.lengths = (c_ssize_t * max(self.count, 1))(*map(len, encoded))

    def slice(self, start: int, stop: int) -> Tuple[Any, Any]:
        """Pointers to elements start..<stop of both arrays."""
        return element(self.pointers, start, c_char_p), element(self.lengths, start, c_ssize_t)


def sequence(value: Any, name: str) -> Sequence[Any]:
    """A list (or tuple) argument; None, a str or anything else is a TypeError naming it."""
    if value is None:
        raise InputTypeError(f"{name} must be a list, got None")
    if isinstance(value, (str, bytes)):
        raise InputTypeError(f"{name} must be a list, got a {type(value).__name__} (put one text in a list)")
    try:
        return list(value)
    except TypeError:
        raise InputTypeError(f"{name} must be a list, got {type(value).__name__}") from None


def encode(value: Any, what: str, position: int) -> bytes:
    """One text as UTF-8; errors name its 1-based position as the library's do."""
    if not isinstance(value, str):
        raise InputTypeError(f"{what} {position} is not a str (got {type(value).__name__})")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise OfframpError(f"{what} {position} is not valid Unicode ({e.reason} at character {e.start})") from None


def texts(value: Any, name: str = "texts", what: str = "text") -> Strings:
    return Strings([encode(t, what, i + 1) for i, t in enumerate(sequence(value, name))])


def batch_size(value: Any) -> int:
    n = integer(value, "batch_size")
    if n < 1:
        raise OfframpError(f"batch_size {n} must be at least 1")
    return n


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def setting(value: Any, name: str) -> int:
    """An optional integer policy setting (None: not given)."""
    if value is None:
        return NO_SETTING
    n = integer(value, name)
    if not -(2**62) < n < 2**62:
        raise OfframpError(f"{name} {n} is out of range")
    return n


def threshold(value: Any) -> float:
    """The optional threshold (None: not given, NaN to the ABI)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"threshold must be a number, got {type(value).__name__}")
    t = float(value)
    if math.isnan(t):
        raise OfframpError("threshold nan is out of range: it must be in [0, 1]")
    return t


def name(value: Optional[Any], what: str) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputTypeError(f"{what} must be a str or None, got {type(value).__name__}")
    return value.encode("utf-8")
