"""Finding and declaring libOfframpC (Sources/OfframpC/offramp.h).

The library is the one bundled next to this file (a wheel built by
scripts/wheel), or the one OFFRAMP_LIBRARY names (development: the
.build/release/libOfframpC.so of `swift build --product OfframpC`).
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from ctypes import POINTER, c_char_p, c_double, c_float, c_int32, c_int64, c_ssize_t, c_void_p
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

from .errors import InputTypeError, ModelNotFoundError, OfframpError

ABI_VERSION = 1
OK, INVALID, NOT_FOUND, BAD_HANDLE, BUFFER_TOO_SMALL, FAILED = range(6)
NO_SETTING = -(2**63)  # OFFRAMP_NO_SETTING: an integer setting not given
MESSAGE_BYTES = 4096

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None


def library_path() -> Path:
    """Where the library is loaded from: $OFFRAMP_LIBRARY, else next to this package."""
    env = os.environ.get("OFFRAMP_LIBRARY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "libOfframpC.so"


# Kernel sets without AVX-512 (BLASKernels.pre512 in the Swift library).
_PRE_512 = {"", "haswell", "zen", "sandybridge", "nehalem", "prescott", "core2", "penryn", "dunnington", "atom"}


def prefer_blas_kernels(cpuinfo: Optional[str] = None) -> None:
    """Chooses OpenBLAS's AVX-512 kernels as the offramp command does
    (BLASKernels.preferredCoreType): OpenBLAS reads OPENBLAS_CORETYPE once,
    when the library loads it, so this runs before. Without it an AVX-512
    CPU may run the AVX2 kernels: half the speed, and products rounded
    differently from the command's. OFFRAMP_KEEP_BLAS_CORETYPE keeps the setting."""
    if "OFFRAMP_KEEP_BLAS_CORETYPE" in os.environ or os.environ.get("OPENBLAS_CORETYPE", "").lower() not in _PRE_512:
        return
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return
    line = next((l for l in cpuinfo.splitlines() if l.startswith("flags")), "")
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= set(line.split()):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"


def _declare(lib: ctypes.CDLL) -> None:
    texts = POINTER(c_char_p)
    sizes = POINTER(c_ssize_t)
    load = [c_char_p, c_char_p, POINTER(c_void_p), c_char_p, c_ssize_t]
    lib.offramp_abi_version.argtypes = []
    lib.offramp_abi_version.restype = c_int32
    lib.offramp_handle_info.argtypes = [c_void_p, c_char_p, c_ssize_t]
    lib.offramp_handle_info.restype = c_ssize_t
    lib.offramp_handle_free.argtypes = [c_void_p]
    lib.offramp_handle_free.restype = None
    for name in ("offramp_encoder_load", "offramp_classifier_load", "offramp_tagger_load"):
        getattr(lib, name).argtypes = load
        getattr(lib, name).restype = c_int32
    lib.offramp_encoder_embed.argtypes = [
        c_void_p, texts, sizes, c_ssize_t, c_ssize_t, c_char_p, c_int32, c_ssize_t,
        POINTER(c_float), c_ssize_t, c_char_p, c_ssize_t,
    ]
    lib.offramp_encoder_embed.restype = c_int32
    lib.offramp_classifier_predict.argtypes = [
        c_void_p, texts, sizes, texts, sizes, c_ssize_t, c_ssize_t, c_char_p, c_double, c_int64, c_int64, c_ssize_t,
        POINTER(c_int32), POINTER(c_float), c_ssize_t, POINTER(c_int32), c_char_p, c_ssize_t,
    ]
    lib.offramp_classifier_predict.restype = c_int32
    lib.offramp_tagger_tag.argtypes = [
        c_void_p, texts, sizes, c_ssize_t, sizes, c_ssize_t, c_ssize_t, c_char_p, c_double, c_int64, c_int64, c_ssize_t,
        POINTER(c_int32), POINTER(c_float), POINTER(c_int32), c_char_p, c_ssize_t,
    ]
    lib.offramp_tagger_tag.restype = c_int32


def library() -> ctypes.CDLL:
    """The loaded library (loaded once, on first use)."""
    global _library
    with _lock:
        if _library is None:
            path = library_path()
            if not path.is_file():
                hint = "set OFFRAMP_LIBRARY to a built libOfframpC.so" if "OFFRAMP_LIBRARY" not in os.environ else "OFFRAMP_LIBRARY names no file"
                raise ModelNotFoundError(f"{path}: the Offramp library is not there ({hint})")
            prefer_blas_kernels()
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as e:  # e.g. libopenblas.so.0 missing: apt install libopenblas0
                raise OfframpError(f"{path}: cannot load the Offramp library: {e}") from e
            _declare(lib)
            version = lib.offramp_abi_version()
            if version != ABI_VERSION:
                raise OfframpError(f"{path}: C ABI version {version}, this package needs {ABI_VERSION}")
            _library = lib
        return _library


def message_buffer() -> "ctypes.Array[ctypes.c_char]":
    """A fresh buffer for one call's error message (so threads never share one)."""
    return ctypes.create_string_buffer(MESSAGE_BYTES)


def check(status: int, message: "ctypes.Array[ctypes.c_char]") -> None:
    """Raises the exception a status stands for, with the library's message."""
    if status == OK:
        return
    text = message.value.decode("utf-8", errors="replace")
    if status == NOT_FOUND:
        raise ModelNotFoundError(text)
    raise OfframpError(text)


def load(function: str, path: Any, precision: Optional[str]) -> int:
    """Loads a handle with `offramp_<kind>_load`; returns it as an int."""
    lib = library()
    try:
        encoded_path = os.fsencode(os.fspath(path))
    except TypeError as e:
        raise InputTypeError(f"path must be a str or os.PathLike, got {type(path).__name__}") from e
    if precision is not None and not isinstance(precision, str):
        raise InputTypeError(f"precision must be a str or None, got {type(precision).__name__}")
    handle = c_void_p()
    message = message_buffer()
    status = getattr(lib, function)(
        encoded_path, None if precision is None else precision.encode(), ctypes.byref(handle), message, MESSAGE_BYTES
    )
    check(status, message)
    assert handle.value is not None
    return handle.value


def info(handle: int) -> Dict[str, Any]:
    """The handle's model as a dict (offramp_handle_info)."""
    lib = library()
    n = lib.offramp_handle_info(handle, None, 0)
    buffer = ctypes.create_string_buffer(n + 1)
    lib.offramp_handle_info(handle, buffer, n + 1)
    result: Dict[str, Any] = json.loads(buffer.value.decode("utf-8"))
    return result


def floats(array: "npt.NDArray[np.float32]") -> "ctypes._Pointer[c_float]":
    """A float32 array's data as the ABI's float*."""
    return array.ctypes.data_as(POINTER(c_float))


def int32s(array: "npt.NDArray[np.int32]") -> "ctypes._Pointer[c_int32]":
    """An int32 array's data as the ABI's int32_t*."""
    return array.ctypes.data_as(POINTER(c_int32))


def element(array: "ctypes.Array[Any]", index: int, kind: Any) -> Any:
    """A pointer to element `index` of a ctypes array of `kind`."""
    return ctypes.cast(ctypes.addressof(array) + index * ctypes.sizeof(kind), POINTER(kind))
