"""Small helpers shared by the distillation modules: bit-array validation and packing."""

from __future__ import annotations

from typing import Any

import numpy as np

from qentangle.errors import ValidationError


def as_bits(name: str, value: Any, *, min_length: int = 0) -> np.ndarray:
    """Return ``value`` as a 1-D ``uint8`` array of 0/1 or raise naming ``name``.

    The message never contains the bits themselves (they may be key material).

    >>> as_bits("key", [0, 1, 1]).tolist()
    [0, 1, 1]
    """
    try:
        array = np.asarray(value)
    except Exception:  # pragma: no cover - exotic inputs
        raise ValidationError(f"{name} is not an array of bits") from None
    if array.ndim != 1:
        raise ValidationError(f"{name} has shape {array.shape}: expected a 1-D array of bits")
    if array.size and array.dtype.kind not in "biu":
        if array.dtype.kind == "f" and np.all((array == 0) | (array == 1)):
            array = array.astype(np.uint8)
        else:
            raise ValidationError(f"{name} has dtype {array.dtype}: expected integer bits 0/1")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValidationError(f"{name} contains values other than 0 and 1: expected bits")
    if array.size < min_length:
        raise ValidationError(
            f"{name} has {array.size} bits: expected at least {min_length} bits"
        )
    return array.astype(np.uint8, copy=True)


def pack(bits: np.ndarray) -> np.ndarray:
    """Pack 0/1 bits into bytes for the channel (``np.packbits``)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8))


def unpack(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`pack` for ``count`` bits."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=count)


def random_bits(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` uniformly random bits as ``uint8``."""
    return rng.integers(0, 2, size=count, dtype=np.uint8)


def check_rng(name: str, value: Any) -> np.random.Generator:
    """Return ``value`` if it is a numpy Generator, else raise naming ``name``."""
    if not isinstance(value, np.random.Generator):
        raise ValidationError(
            f"{name}={type(value).__name__} is not valid: expected a numpy.random.Generator"
        )
    return value
