"""BBM92 (Bennett, Brassard, Mermin 1992) between two endpoints that own their data.

Each endpoint measures Z (Bloch angle 0) with probability ``p_z`` and X (pi/2) otherwise, with
its own generator. Both announce their bases; rounds with matching bases are kept (Bob flips
his bit in a basis where the ideal state is anti-correlated). The bit-error rate of one basis
bounds the phase error of the other. With ``p_z > 1/2`` (efficient BBM92) the key comes from
the Z basis and every X-basis bit is disclosed for the phase-error estimate; with ``p_z = 1/2``
both bases feed the key and each basis is sampled.

>>> result = run_bbm92(100_000, seed=2)
>>> result.aborted, result.qber_z, result.qber_x
(False, 0.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qentangle.distill.estimate import ErrorSample, estimate_qber, sample_size_for
from qentangle.engines import Engine
from qentangle.errors import ValidationError, check_probability
from qentangle.noise import NoiseConfig
from qentangle.pairs import CircuitStage
from qentangle.protocols.keying import KeyOptions, finish_key, finish_key_two_basis
from qentangle.protocols.results import ProtocolResult, RunSummary
from qentangle.protocols.session import Schedule, check_chunk_size, open_session
from qentangle.rng import SeedLike
from qentangle.states import ideal_correlator

BASES = (0.0, math.pi / 2)  # index 0 = Z, 1 = X
BASIS_NAMES = ("z", "x")


@dataclass(frozen=True)
class BBM92Result(ProtocolResult):
    """Outcome of a BBM92 run; :meth:`to_dict` is what ``qentangle bbm92 --json`` prints."""

    run: RunSummary
    p_z: float
    sifted_bits: int
    sifted_z: int
    sifted_x: int
    key_bases: str
    qber_z: float
    qber_x: float
    qber_z_upper: float
    qber_x_upper: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (never any key bits)."""
        return self.run.to_dict(
            {
                "p_z": self.p_z,
                "sifted_bits": self.sifted_bits,
                "sifted_z": self.sifted_z,
                "sifted_x": self.sifted_x,
                "key_bases": self.key_bases,
                "qber_z": self.qber_z,
                "qber_x": self.qber_x,
                "qber_z_upper": self.qber_z_upper,
                "qber_x_upper": self.qber_x_upper,
            }
        )


def run_bbm92(
    pairs: int | None = None,
    *,
    schedule: Schedule | None = None,
    state: str = "phi+",
    p_z: float = 0.5,
    noise: NoiseConfig | None = None,
    attacks: Sequence[CircuitStage] = (),
    engine: str | Engine = "exact",
    seed: SeedLike = None,
    key_options: KeyOptions | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> BBM92Result:
    """Run BBM92 on ``pairs`` entangled pairs and distil the key (or abort).

    Instead of ``pairs`` and ``noise``, a ``schedule`` of ``(NoiseConfig, pairs)`` segments
    runs rounds whose noise changes along the run (e.g. the slices of a satellite pass).

    Aborts when the upper confidence bound of the key basis's QBER or of its phase error
    (from the other basis) exceeds ``key_options.qber_abort`` (11 % by default).
    """
    chunk = check_chunk_size(chunk_size)
    p_z = check_probability("p_z", p_z)
    options = key_options or KeyOptions()
    probabilities = (p_z, 1.0 - p_z)
    session = open_session(
        pairs=pairs,
        schedule=schedule,
        state=state,
        noise=noise,
        attacks=attacks,
        engine=engine,
        seed=seed,
        angles_alice=BASES,
        angles_bob=BASES,
        probabilities_alice=probabilities,
        probabilities_bob=probabilities,
    )
    alice, bob = session.alice, session.bob
    # Bob flips his bit in a basis where the ideal state is anti-correlated (known to both).
    flips = np.array([ideal_correlator(state, b, b) < 0 for b in BASES], dtype=np.uint8)
    alice_parts: dict[int, list[np.ndarray]] = {0: [], 1: []}
    bob_parts: dict[int, list[np.ndarray]] = {0: [], 1: []}

    for _ in session.stream(chunk, progress=progress, label="bbm92"):
        bob_view = session.announce_settings("alice")
        alice_view = session.announce_settings("bob")
        for basis in (0, 1):
            alice_parts[basis].append(alice.bits[(alice.settings == basis) & (alice_view == basis)])
            kept = bob.bits[(bob.settings == basis) & (bob_view == basis)]
            bob_parts[basis].append(kept ^ flips[basis])

    alice_sifted = {b: _join(alice_parts[b]) for b in (0, 1)}
    bob_sifted = {b: _join(bob_parts[b]) for b in (0, 1)}
    sifted = {b: int(alice_sifted[b].size) for b in (0, 1)}
    key_from_z_only = p_z > 0.5
    if options.estimation == "ec":
        # Every sifted bit is key; error correction counts each basis's errors.
        if p_z != 0.5:
            raise ValidationError("estimation='ec' needs p_z=0.5: both bases must feed the key")
        labels = np.concatenate([np.zeros(sifted[0], np.uint8), np.ones(sifted[1], np.uint8)])
        key, (z_rate, x_rate) = finish_key_two_basis(
            session,
            np.concatenate([alice_sifted[0], alice_sifted[1]]),
            np.concatenate([bob_sifted[0], bob_sifted[1]]),
            labels,
            options,
        )
        z_upper = x_upper = key.phase_error_upper
        key_bases = "z+x"
    elif key_from_z_only:
        # Every X bit is disclosed: it only estimates the phase error of the Z key.
        x_sample = _disclose_all(session, alice_sifted[1], bob_sifted[1])
        key_alice, key_bob = alice_sifted[0], bob_sifted[0]
        key = finish_key(session, key_alice, key_bob, options, phase_sample=x_sample)
        z_rate, x_rate = key.qber, x_sample.rate if x_sample else math.nan
        z_upper, x_upper = key.qber_upper, key.phase_error_upper
        key_bases = "z"
    else:
        # Both bases feed the key; a sample of each basis bounds its errors, and the larger
        # observed rate stands for the phase error of the joined key.
        samples, rests = {}, {}
        for basis in (0, 1):
            samples[basis], rests[basis] = _sample_basis(
                session, alice_sifted[basis], bob_sifted[basis], options
            )
        taken = [sample for sample in samples.values() if sample]
        worst = max(taken, key=lambda sample: sample.rate, default=None)
        joined = ErrorSample(sum(t.errors for t in taken), sum(t.size for t in taken)) if taken else None
        key_alice = np.concatenate([rests[0][0], rests[1][0]])
        key_bob = np.concatenate([rests[0][1], rests[1][1]])
        key = finish_key(session, key_alice, key_bob, options, sample=joined, phase_sample=worst)
        z_rate = samples[0].rate if samples[0] else math.nan
        x_rate = samples[1].rate if samples[1] else math.nan
        z_upper, x_upper = key.qber_upper, key.phase_error_upper
        key_bases = "z+x"
    return BBM92Result(
        run=RunSummary.of(
            "bbm92",
            session,
            state,
            attacks,
            key,
            [(BASES[0], 1.0)] if key_bases == "z" else [(BASES[0], sifted[0]), (BASES[1], sifted[1])],
        ),
        p_z=p_z,
        sifted_bits=sifted[0] + sifted[1],
        sifted_z=sifted[0],
        sifted_x=sifted[1],
        key_bases=key_bases,
        qber_z=z_rate,
        qber_x=x_rate,
        qber_z_upper=z_upper,
        qber_x_upper=x_upper,
    )


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


def _disclose_all(session, alice_bits: np.ndarray, bob_bits: np.ndarray) -> ErrorSample | None:
    """Alice discloses every bit of a basis; Bob announces the number of disagreements."""
    if alice_bits.size == 0:
        return None
    received = np.unpackbits(
        session.channel.send("alice", "estimate/phase-basis", np.packbits(alice_bits)), count=alice_bits.size
    )
    errors = int(np.count_nonzero(received != bob_bits))
    session.channel.send("bob", "estimate/phase-errors", errors)
    return ErrorSample(errors, alice_bits.size)


def _sample_basis(session, alice_bits, bob_bits, options):
    """Disclose a random sample of one basis; return it and both sides' remaining bits."""
    if alice_bits.size < 2:
        return None, (alice_bits, bob_bits)
    size = sample_size_for(alice_bits.size, options.sample_fraction)
    sample, alice_rest, bob_rest = estimate_qber(
        alice_bits, bob_bits, session.channel, sample_size=size, rng_alice=session.alice.rng
    )
    return sample, (alice_rest, bob_rest)
