"""The exceptions the package raises: every library error is an OfframpError."""

from __future__ import annotations


class OfframpError(ValueError):
    """An error from Offramp, with the library's message.

    A ValueError: most are bad input (a blank text, an unknown policy, a
    threshold out of range, a model directory that is not a model).
    """


class ModelNotFoundError(OfframpError, FileNotFoundError):
    """The model directory does not exist (also a FileNotFoundError, so an OSError)."""


class InputTypeError(OfframpError, TypeError):
    """An input of the wrong type: a text that is not a str, None for a list (also a TypeError)."""
