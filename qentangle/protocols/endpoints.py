"""Endpoints that own their data, and the quantum phase that feeds them in chunks.

An :class:`Endpoint` (Alice or Bob) draws its own settings from its own generator and holds
only its own outcomes. :func:`measure_chunk` plays nature: for each round it asks the engine
for the joint outcome of the pair at the two chosen settings and hands each endpoint its own
bit, as a fresh array, so no array is shared between Alice and Bob.

>>> import numpy as np
>>> from qentangle.engines import ExactEngine
>>> from qentangle.pairs import PairSetup
>>> alice = Endpoint("alice", (0.0, np.pi / 2), np.random.default_rng(1))
>>> bob = Endpoint("bob", (0.0, np.pi / 2), np.random.default_rng(2))
>>> measure_chunk(PairSetup("phi+"), ExactEngine(), np.random.default_rng(3), alice, bob, 1000)
>>> same = alice.settings == bob.settings  # (in a real run they learn this over the channel)
>>> bool(np.all(alice.bits[same] == bob.bits[same]))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qentangle.engines import Engine
from qentangle.errors import ValidationError, check_finite
from qentangle.pairs import PairSetup

DEFAULT_CHUNK = 1 << 22


class Endpoint:
    """One party: its setting angles and choice probabilities, its generator, its data.

    ``settings`` and ``bits`` hold the current chunk only (long runs stream); ``key_parts``
    accumulates what the protocol keeps.
    """

    def __init__(
        self,
        name: str,
        angles: Sequence[float],
        rng: np.random.Generator,
        probabilities: Sequence[float] | None = None,
    ) -> None:
        if name not in ("alice", "bob"):
            raise ValidationError(f"name={name!r} is not valid: expected alice or bob")
        self.name = name
        self.angles = tuple(check_finite(f"{name} angle", a) for a in angles)
        if not 1 <= len(self.angles) <= 255:
            raise ValidationError(f"{name} needs between 1 and 255 setting angles")
        self.probabilities = _choice_probabilities(name, probabilities, len(self.angles))
        self.rng = rng
        self.settings = np.zeros(0, dtype=np.uint8)
        self.bits = np.zeros(0, dtype=np.uint8)
        self.key_parts: list[np.ndarray] = []

    def choose_settings(self, count: int) -> np.ndarray:
        """Draw this chunk's setting indices (uint8) from the endpoint's own generator."""
        k = len(self.angles)
        if np.allclose(self.probabilities, 1.0 / k):
            self.settings = self.rng.integers(0, k, count, dtype=np.uint8)
        else:
            cumulative = np.cumsum(self.probabilities)[:-1]
            self.settings = np.searchsorted(cumulative, self.rng.random(count), side="right").astype(np.uint8)
        return self.settings

    def detect(self, bits: np.ndarray) -> None:
        """Receive this chunk's own outcomes (an array nobody else holds)."""
        self.bits = bits

    def key(self) -> np.ndarray:
        """The bits kept so far, as one array."""
        return np.concatenate(self.key_parts) if self.key_parts else np.zeros(0, dtype=np.uint8)


def measure_chunk(
    setup: PairSetup,
    engine: Engine,
    rng: np.random.Generator,
    alice: Endpoint,
    bob: Endpoint,
    count: int,
) -> None:
    """Distribute ``count`` pairs: each endpoint chooses settings and receives its outcomes."""
    setting_a = alice.choose_settings(count)
    setting_b = bob.choose_settings(count)
    codes = engine.outcomes(setup, alice.angles, bob.angles, setting_a, setting_b, rng)
    alice.detect(codes >> 1)
    bob.detect(codes & 1)


def pack_settings(settings: np.ndarray, bits_per_setting: int) -> np.ndarray:
    """Pack setting indices into bytes, ``bits_per_setting`` (1, 2, 4 or 8) bit planes.

    >>> pack_settings(np.array([2, 1, 0], dtype=np.uint8), 2).tolist()
    [128, 64]
    """
    if bits_per_setting == 8:
        return settings.astype(np.uint8)
    planes = [np.packbits((settings >> plane) & 1) for plane in range(bits_per_setting - 1, -1, -1)]
    return np.concatenate(planes)


def unpack_settings(packed: np.ndarray, bits_per_setting: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_settings`."""
    if bits_per_setting == 8:
        return packed[:count].astype(np.uint8)
    planes = np.split(packed, bits_per_setting)
    settings = np.zeros(count, dtype=np.uint8)
    for plane in planes:
        settings = (settings << 1) | np.unpackbits(plane, count=count)
    return settings


def bits_per_setting(num_settings: int) -> int:
    """Smallest of 1, 2, 4, 8 bits that can index ``num_settings`` settings."""
    return next(b for b in (1, 2, 4, 8) if num_settings <= 1 << b)


def _choice_probabilities(name: str, probabilities: Sequence[float] | None, k: int) -> np.ndarray:
    if probabilities is None:
        return np.full(k, 1.0 / k)
    p = np.asarray(probabilities, dtype=float)
    if p.shape != (k,) or not np.all(np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValidationError(
            f"{name} setting probabilities {list(probabilities)!r} are not valid: "
            f"expected {k} non-negative numbers summing to 1"
        )
    return p / p.sum()
