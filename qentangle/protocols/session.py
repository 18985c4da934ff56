"""What every protocol run shares: validated options, generators, endpoints and the channel."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.engines import Engine, get_engine
from qentangle.errors import ValidationError, check_positive_int
from qentangle.noise import NoiseConfig
from qentangle.pairs import CircuitStage, PairSetup
from qentangle.protocols.endpoints import DEFAULT_CHUNK, Endpoint
from qentangle.rng import SeedLike, spawn_generators


@dataclass
class Session:
    """The parties of one run: Alice, Bob, nature's generator, the engine and the channel."""

    setup: PairSetup
    engine: Engine
    alice: Endpoint
    bob: Endpoint
    nature: np.random.Generator
    channel: ClassicalChannel
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed_s(self) -> float:
        """Wall time since the session was opened."""
        return time.perf_counter() - self.started


def open_session(
    *,
    state: str,
    noise: NoiseConfig | None,
    attacks: Sequence[CircuitStage],
    engine: str | Engine,
    seed: SeedLike,
    angles_alice: Sequence[float],
    angles_bob: Sequence[float],
    probabilities_alice: Sequence[float] | None = None,
    probabilities_bob: Sequence[float] | None = None,
) -> Session:
    """Validate the common options and spawn independent generators from ``seed``."""
    setup = PairSetup(state, noise if noise is not None else NoiseConfig(), tuple(attacks))
    rng_alice, rng_bob, rng_nature, rng_channel = spawn_generators(seed, 4)
    return Session(
        setup=setup,
        engine=get_engine(engine),
        alice=Endpoint("alice", angles_alice, rng_alice, probabilities_alice),
        bob=Endpoint("bob", angles_bob, rng_bob, probabilities_bob),
        nature=rng_nature,
        channel=ClassicalChannel.with_random_key(rng_channel),
    )


def check_run_sizes(pairs: int, chunk_size: int | None) -> tuple[int, int]:
    """Validated ``pairs`` and ``chunk_size`` (default 2^22 rounds per chunk)."""
    pairs = check_positive_int("pairs", pairs)
    chunk = DEFAULT_CHUNK if chunk_size is None else check_positive_int("chunk_size", chunk_size)
    return pairs, chunk


def check_fraction(name: str, value: float) -> float:
    """A sampling fraction strictly between 0 and 1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={value!r} is not a number") from None
    if not 0.0 < number < 1.0:
        raise ValidationError(f"{name}={value!r} is out of range: expected 0 < {name} < 1")
    return number
