"""Shared helpers for the distillation tests."""

from __future__ import annotations

import numpy as np
import pytest

from qentangle.channel import ClassicalChannel


def noisy_pair(rng: np.random.Generator, n: int, qber: float) -> tuple[np.ndarray, np.ndarray]:
    """Alice's random key and Bob's copy through a binary symmetric channel."""
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
    return alice, bob


@pytest.fixture
def channel() -> ClassicalChannel:
    return ClassicalChannel.with_random_key(np.random.default_rng(12345), nbytes=1 << 20)


@pytest.fixture
def make_pair():
    """The :func:`noisy_pair` helper as a fixture."""
    return noisy_pair
