"""BBM92 (Bennett, Brassard, Mermin 1992) between two endpoints that own their data.

Each endpoint measures Z (Bloch angle 0) with probability ``p_z`` and X (pi/2) otherwise, with
its own generator. Both announce their bases; rounds with matching bases are kept (Bob flips
his bit in a basis where the ideal state is anti-correlated). The bit-error rate of one basis
bounds the phase error of the other. With ``p_z > 1/2`` (efficient BBM92) the key comes from
the Z basis and every X-basis bit is disclosed for the phase-error estimate (``p_z < 1/2``:
the same with the bases swapped); with ``p_z = 1/2`` both bases feed the key and each basis is
sampled, its sample bounding its own QBER and the other basis's phase error.

>>> result = run_bbm92(100_000, seed=2)
>>> result.aborted, result.qber_z, result.qber_x
(False, 0.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qentangle.analysis import BASIS_ANGLES, BASIS_NAMES, qber_stats
from qentangle.engines import Engine
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.pairs import CircuitStage
from qentangle.params import Param
from qentangle.protocols.keying import BasisFigures, KeyOptions, KeyOutcome, finish_key
from qentangle.protocols.results import ProtocolResult, RunSummary
from qentangle.protocols.session import Schedule, check_chunk_size, open_session
from qentangle.protocols.sifting import SiftedBits, bbm92_sift, bob_flips
from qentangle.rng import SeedLike

BASES = BASIS_ANGLES  # index 0 = Z, 1 = X
P_Z = Param("p_z", float, low=0.0, high=1.0, low_open=True, high_open=True, default=0.5, metavar="P",
            help="probability that each endpoint measures Z")


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
    sample_z: int = 0
    sample_x: int = 0
    readout: dict[str, Any] = field(default_factory=dict)
    """``S_raw``/``S`` (None: BBM92 measures Z and X only, no CHSH S) and ``qber_{z,x}_raw`` /
    ``_mitigated``: each basis's error rate over all sifted bits, raw and readout-mitigated
    (None without an engine calibration, i.e. off a backend or with mitigation off)."""
    sifted: SiftedBits | None = field(default=None, repr=False, compare=False)
    """Both endpoints' sifted bits and bases, kept only with ``keep_sifted=True`` (key material:
    never in ``to_dict()``)."""

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
                "qber_z_sample_bits": self.sample_z,
                "qber_x_sample_bits": self.sample_x,
                **self.readout,
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
    keep_sifted: bool = False,
) -> BBM92Result:
    """Run BBM92 on ``pairs`` entangled pairs and distil the key (or abort).

    ``keep_sifted=True`` keeps both endpoints' sifted bits and their bases on the result
    (``result.sifted``), for ``qentangle distill`` or your own post-processing.

    Instead of ``pairs`` and ``noise``, a ``schedule`` of ``(NoiseConfig, pairs)`` segments
    runs rounds whose noise changes along the run (e.g. the slices of a satellite pass).

    ``0 < p_z < 1``: both bases must be measured, since the errors of one basis bound the phase
    error (Eve's information) of the other. With ``p_z > 1/2`` the key comes from Z and every
    X bit is disclosed; with ``p_z < 1/2`` the roles swap; with ``p_z = 1/2`` both bases feed
    the key. Aborts when the upper confidence bound of a basis's QBER (the key basis's, or
    the other basis's, which is the key's phase error) exceeds ``key_options.qber_abort``
    (11 % by default), when the other basis has no sifted bit, or when the finite key is
    empty; see :mod:`qentangle.protocols.keying`.

    >>> from qentangle.noise import NoiseConfig
    >>> run = run_bbm92(50_000, noise=NoiseConfig(depolarizing=0.04), seed=1)
    >>> run.aborted, 0.01 < run.qber < 0.03, run.to_dict()["keys_match"]  # QBER p/2 = 0.02
    (False, True, True)
    >>> from qentangle.protocols.attacks import InterceptResend
    >>> attacked = run_bbm92(20_000, attacks=(InterceptResend(1.0, "bob"),), seed=1)
    >>> attacked.aborted, abs(attacked.qber_z - 0.25) < 0.05  # intercept-resend: QBER 1/4
    (True, True)
    """
    chunk = check_chunk_size(chunk_size)
    p_z = P_Z.check(p_z)
    options = key_options or KeyOptions()
    if options.estimation == "ec" and p_z != 0.5:
        raise ValidationError("estimation='ec' needs p_z=0.5: both bases must feed the key")
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
    flips = bob_flips(state)
    label_parts: list[np.ndarray] = []  # public: the basis of each sifted round, in order

    for _ in session.stream(chunk, progress=progress, label="bbm92"):
        bob_view = session.announce_settings("alice")
        alice_view = session.announce_settings("bob")
        # The one sifting rule (qentangle.protocols.sifting), each side on its own data.
        alice_key, labels = bbm92_sift("alice", alice.settings, alice_view, alice.bits, flips)
        alice.key_parts.append(alice_key)
        label_parts.append(labels)
        bob.key_parts.append(bbm92_sift("bob", bob.settings, bob_view, bob.bits, flips)[0])

    alice_bits, bob_bits = alice.key(), bob.key()
    alice.key_parts, bob.key_parts = [alice_bits], [bob_bits]
    labels = np.concatenate(label_parts) if label_parts else np.zeros(0, dtype=np.uint8)
    del label_parts
    sifted = np.bincount(labels, minlength=2)
    readout = _readout_figures(alice_bits, bob_bits, labels, flips, session.engine.readout_confusion())
    key_basis = None if p_z == 0.5 else (0 if p_z > 0.5 else 1)
    kept = SiftedBits(alice_bits.copy(), bob_bits.copy(), labels.copy()) if keep_sifted else None
    key = finish_key(
        session, alice_bits, bob_bits, options, labels=labels, key_basis=key_basis, progress=progress
    )
    if key_basis is None:
        key_angles = [(BASES[0], float(sifted[0])), (BASES[1], float(sifted[1]))]
    else:
        key_angles = [(BASES[key_basis], 1.0)]
    return BBM92Result(
        run=RunSummary.of("bbm92", session, state, attacks, key, key_angles),
        p_z=p_z,
        key_bases="z+x" if key_basis is None else BASIS_NAMES[key_basis],
        **basis_fields(sifted, key),
        readout=readout,
        sifted=kept,
    )


def basis_fields(sifted: np.ndarray, key: KeyOutcome) -> dict[str, Any]:
    """The per-basis fields of a :class:`BBM92Result`: sifted counts ``sifted[b]`` and the key
    stage's error rates, bounds and sample sizes (NaN where a basis was never estimated)."""
    figures = key.bases or (BasisFigures(math.nan, math.nan, 0),) * 2
    return {
        "sifted_bits": int(sifted.sum()),
        "sifted_z": int(sifted[0]),
        "sifted_x": int(sifted[1]),
        "qber_z": figures[0].rate,
        "qber_x": figures[1].rate,
        "qber_z_upper": figures[0].upper,
        "qber_x_upper": figures[1].upper,
        "sample_z": figures[0].sample_bits,
        "sample_x": figures[1].sample_bits,
    }


def _readout_figures(alice_bits, bob_bits, labels, flips, confusion) -> dict[str, Any]:
    """No CHSH S; each basis's QBER over all sifted bits, raw and readout-mitigated."""
    figures: dict[str, Any] = {"S_raw": None, "S": None}
    raw_bob = bob_bits ^ flips[labels]  # undo Bob's flip: the confusion applies to his readings
    codes = (labels << 2) | (alice_bits << 1) | raw_bob  # uint8: one byte per sifted bit
    counts = np.bincount(codes, minlength=8).reshape(2, 4)
    for basis, name in enumerate(BASIS_NAMES):
        sign = -1.0 if flips[basis] else 1.0
        for kind, matrices in (("raw", None), ("mitigated", confusion)):
            usable = counts[basis].sum() > 0 and (kind == "raw" or matrices is not None)
            value = float(qber_stats(counts[basis], sign, matrices)[0]) if usable else None
            figures[f"qber_{name}_{kind}"] = value
    return figures
