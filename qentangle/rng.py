"""Explicit randomness: one seed becomes independent generators for every party.

>>> from qentangle.rng import spawn_generators
>>> alice, bob = spawn_generators(7, 2)
>>> alice.integers(0, 2, 4).tolist() != bob.integers(0, 2, 4).tolist()
True
"""

from __future__ import annotations

import numpy as np

from qentangle.errors import ValidationError

SeedLike = int | np.random.SeedSequence | None


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn ``seed`` (int, SeedSequence or None for OS entropy) into a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValidationError(f"seed={seed!r} is not valid: expected a non-negative integer or None")
    return np.random.SeedSequence(int(seed))


def spawn_generators(seed: SeedLike, count: int) -> list[np.random.Generator]:
    """Return ``count`` independent generators spawned from one seed."""
    return [np.random.default_rng(child) for child in seed_sequence(seed).spawn(count)]


def child_seed(rng: np.random.Generator) -> int:
    """Draw a fresh 63-bit seed for a simulator run from ``rng`` (never reuse a fixed one)."""
    return int(rng.integers(0, 2**63 - 1))
