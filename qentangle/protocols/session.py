"""What every protocol run shares: validated options, generators, endpoints and the channel.

A run distributes its pairs in *segments*: consecutive rounds that share one
:class:`~qentangle.pairs.PairSetup`. A plain run is one segment; a satellite pass is one
segment per time slice, each with its own noise (accidental coincidences change with loss).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.engines import Engine, get_engine
from qentangle.errors import ValidationError, check_positive_int
from qentangle.limits import Cost
from qentangle.noise import NoiseConfig
from qentangle.pairs import CircuitStage, PairSetup
from qentangle.params import Param
from qentangle.progress import progress_bar
from qentangle.protocols.endpoints import (
    DEFAULT_CHUNK,
    Endpoint,
    bits_per_setting,
    measure_chunk,
    pack_settings,
    unpack_settings,
)
from qentangle.rng import SeedLike, party_streams

Schedule = Sequence[tuple[NoiseConfig, int]]
PAIRS = Param("pairs", int, low=1, default=1_000_000, metavar="N", help="entangled pairs distributed",
              # measured (2 cores): BBM92 12 B/pair and 1.2e6 pairs/s, E91 8 B/pair and 8e5 pairs/s
              cost=Cost(bytes_per_unit=16, units_per_second=7e5, fixed_bytes=600e6))


@dataclass
class Session:
    """The parties of one run: Alice, Bob, nature's generator, the engine and the channel."""

    segments: tuple[tuple[PairSetup, int], ...]
    engine: Engine
    alice: Endpoint
    bob: Endpoint
    nature: np.random.Generator
    channel: ClassicalChannel
    started: float = field(default_factory=time.perf_counter)

    @property
    def setup(self) -> PairSetup:
        """The setup of the first segment (the only one in a plain run)."""
        return self.segments[0][0]

    @property
    def pairs(self) -> int:
        """Rounds over all segments."""
        return sum(count for _, count in self.segments)

    @property
    def elapsed_s(self) -> float:
        """Wall time since the session was opened."""
        return time.perf_counter() - self.started

    def stream(self, chunk_size: int, *, progress: bool | None, label: str) -> Iterator[int]:
        """Measure all segments, ``chunk_size`` rounds at a time; yield each chunk's size.

        A chunk may span several segments (short slices of a pass are measured together).
        Between yields, Alice and Bob hold that chunk's settings and outcomes.
        """
        self.engine.prefetch([setup for setup, _ in self.segments], self.alice.angles, self.bob.angles)
        if self.engine.one_call_per_run:  # e.g. a backend: one job, one calibration
            chunk_size = max(chunk_size, self.pairs)
        pieces: list[tuple[PairSetup, int]] = []
        with progress_bar(self.pairs, progress=progress, label=label) as bar:
            for setup, count in self.segments:
                while count > 0:
                    room = chunk_size - sum(size for _, size in pieces)
                    pieces.append((setup, min(room, count)))
                    count -= pieces[-1][1]
                    if room <= pieces[-1][1]:
                        yield self._measure(pieces)
                        bar.update(chunk_size)
                        pieces = []
            if pieces:
                yield self._measure(pieces)
                bar.update(sum(size for _, size in pieces))

    def _measure(self, pieces: list[tuple[PairSetup, int]]) -> int:
        """Measure the pieces of one chunk; each endpoint joins its own parts."""
        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"alice": [], "bob": []}
        for setup, size in pieces:
            measure_chunk(setup, self.engine, self.nature, self.alice, self.bob, size)
            for endpoint in (self.alice, self.bob):
                parts[endpoint.name].append((endpoint.settings, endpoint.bits))
        if len(pieces) > 1:
            for endpoint in (self.alice, self.bob):
                own = parts[endpoint.name]
                endpoint.settings = np.concatenate([settings for settings, _ in own])
                endpoint.detect(np.concatenate([bits for _, bits in own]))
        return sum(size for _, size in pieces)

    def announce_settings(self, sender: str, kind: str = "sift/settings") -> np.ndarray:
        """``sender`` announces this chunk's setting indices; return the other party's copy.

        Settings are packed at the fewest bits per setting (1 for two settings, 2 for three).
        """
        endpoint = self.alice if sender == "alice" else self.bob
        width = bits_per_setting(len(endpoint.angles))
        packed = self.channel.send(sender, kind, pack_settings(endpoint.settings, width))
        return unpack_settings(packed, width, endpoint.settings.size)

    def noise_summary(self) -> dict:
        """The noise of a one-segment run, or a note that it varies by segment."""
        if len({setup.noise for setup, _ in self.segments}) == 1:
            return self.setup.noise.to_dict()
        return {"varies_by_segment": len(self.segments)}


def open_session(
    *,
    angles_alice: Sequence[float],
    angles_bob: Sequence[float],
    pairs: int | None = None,
    schedule: Schedule | None = None,
    state: str = "phi+",
    noise: NoiseConfig | None = None,
    attacks: Sequence[CircuitStage] = (),
    engine: str | Engine = "exact",
    seed: SeedLike = None,
    probabilities_alice: Sequence[float] | None = None,
    probabilities_bob: Sequence[float] | None = None,
) -> Session:
    """Validate the common options and spawn independent generators from ``seed``.

    The generators are the ``alice``, ``bob``, ``nature`` and ``channel`` streams of
    :func:`qentangle.rng.party_streams` (the one seed layout).

    Give either ``pairs`` (with one ``noise``) or a ``schedule`` of ``(noise, pairs)`` segments.
    """
    if (pairs is None) == (schedule is None):
        raise ValidationError("give either pairs or schedule (a list of (noise, pairs) segments), not both")
    if schedule is None:
        schedule = [(noise if noise is not None else NoiseConfig(), PAIRS.check(pairs))]
    elif noise is not None:
        raise ValidationError("noise: give the noise inside the schedule's segments")
    segments = tuple(_segment(state, attacks, item, i) for i, item in enumerate(schedule))
    if not segments or sum(count for _, count in segments) < 1:
        raise ValidationError("schedule must hold at least one pair")
    streams = party_streams(seed)
    return Session(
        segments=segments,
        engine=get_engine(engine),
        alice=Endpoint("alice", angles_alice, streams.alice, probabilities_alice),
        bob=Endpoint("bob", angles_bob, streams.bob, probabilities_bob),
        nature=streams.nature,
        channel=ClassicalChannel.with_random_key(streams.channel),
    )


def _segment(state, attacks, item, index) -> tuple[PairSetup, int]:
    try:
        noise, count = item
    except (TypeError, ValueError):
        raise ValidationError(f"schedule[{index}] is not a (noise, pairs) pair") from None
    count = check_positive_int(f"schedule[{index}] pairs", count, minimum=0)
    return PairSetup(state, noise, tuple(attacks)), count


def check_chunk_size(chunk_size: int | None) -> int:
    """Validated ``chunk_size`` (default 2^22 rounds per chunk)."""
    return DEFAULT_CHUNK if chunk_size is None else check_positive_int("chunk_size", chunk_size)
