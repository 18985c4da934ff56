"""The CHSH Bell test: in one lab (:func:`run_chsh`), between two distant endpoints
(:func:`run_bell_test`) and as an angle sweep (:func:`chsh_sweep`).

Every variant tallies its rounds per (setting pair, outcome) and hands the tally to the one CHSH
analysis, :func:`qentangle.analysis.analyse_chsh`: each correlator with its count,
``S = E(a,b) - E(a,b') + E(a',b) + E(a',b')``, the standard error
``sigma_S = sqrt(sum_i (1 - E_i^2) / N_i)``, the violation ``z = (S - 2) / sigma_S`` with a
normal-approximation p-value, and a p-value against local realism that needs no i.i.d.
assumption (the CHSH game: wins against Binomial(N, 3/4), see :mod:`qentangle.analysis`).
Both runs return a :class:`ChshResult`.

**Settings.** With ``settings="random"`` (the default) every round draws Alice's setting
bit ``x`` and Bob's setting bit ``y`` independently and uniformly, as a Bell test must for the
rigorous p-value: the ``shots`` rounds are split evenly over the four setting pairs *in
expectation* and the realised counts ``N_i`` are reported. ``settings="balanced"`` gives every
setting pair exactly ``shots // 4`` rounds (the first ``shots % 4`` pairs one more); the
setting order is then a schedule, not independent draws, and the rigorous p-value is reported
under the stated assumption that the source cannot exploit it (``rigorous_assumption`` in the
result says which case applies). The rigorous p-value uses the raw outcomes: readout
mitigation is a post-processing that assumes a calibration, so it never enters the test.

**Orientation.** If the chosen angles and state predict a negative S (e.g. user-chosen
angles), the test is oriented before looking at the data: ``orientation = -1``, the z-score is
``(-S - 2) / sigma_S`` and the game's signs are flipped.

**The distributed test.** In :func:`run_bell_test` Alice and Bob each choose their setting per
round with their own generator, Bob announces his settings and outcomes over the authenticated
channel, and the noise may change along the run (a ``schedule`` of segments, as in a satellite
pass); its ``predicted_S`` is the round-weighted closed form over the segments.

The closed forms (``predicted_S`` and friends) live in :mod:`qentangle.theory`, the statistics
in :mod:`qentangle.analysis`; both are re-exported here for one release.

>>> result = run_chsh("phi+", shots=4000, seed=1)
>>> round(result.S, 1) in (2.7, 2.8, 2.9)
True
>>> result.p_value_rigorous < 1e-6
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qentangle.analysis import (  # noqa: F401  (statistics re-exported from their old home for one release)
    CHSH_SIGNS,
    CLASSICAL_BOUND,
    LOCAL_WIN_PROBABILITY,
    TSIRELSON_BOUND,
    ChshStatistics,
    analyse_chsh,
    chsh_game_p_values,
    chsh_game_wins,
    chsh_orientation,
    chsh_statistic,
    correlator_stats,
    qber_stats,
    tally,
)
from qentangle.engines import Engine, get_engine
from qentangle.errors import ValidationError, check_choice, check_positive_int
from qentangle.limits import Cost
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup
from qentangle.params import Param
from qentangle.protocols.session import Schedule, check_chunk_size, open_session
from qentangle.rng import SeedLike, party_streams
from qentangle.states import check_state
from qentangle.theory import (  # noqa: F401  (closed forms re-exported from their old home for one release)
    check_chsh_angles,
    predicted_correlator,
    predicted_density_matrix,
    predicted_distribution,
    predicted_S,
)

SETTING_MODES = ("random", "balanced")
SHOTS = Param("shots", int, low=4, default=10_000, metavar="N",
              help="total rounds, split over the 4 setting pairs",
              cost=Cost(bytes_per_unit=48, units_per_second=5e6, fixed_bytes=250e6))  # measured: 41 B/shot
_TOP_LEVEL_ENGINE_KEYS = ("backend", "qubits", "job_ids", "pair_errors")
RANDOM_SETTINGS_ASSUMPTION = "none beyond uniform, independent per-round settings (i.i.d. not needed)"
BALANCED_SETTINGS_ASSUMPTION = (
    "balanced schedule, not independent random settings: valid only if the source "
    "cannot exploit the schedule"
)


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SettingCorrelator:
    """One setting pair's measured correlator.

    ``E`` is readout-mitigated when the engine supplied a calibration (``E_raw`` never is);
    ``stderr`` is its standard error from the multinomial counts.
    """

    a: float
    b: float
    sign: int
    n: int
    counts: tuple[int, int, int, int]
    E: float
    stderr: float
    E_raw: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "a": self.a,
            "b": self.b,
            "sign": self.sign,
            "n": self.n,
            "counts": list(self.counts),
            "E": self.E,
            "stderr": self.stderr,
            "E_raw": self.E_raw,
        }


@dataclass(frozen=True)
class ChshResult:
    """Everything one CHSH run measured, as a value. ``to_dict()`` is JSON-safe.

    ``shots`` counts every round; ``noise`` is None when it varied along the run (a schedule of
    segments in :func:`run_bell_test`; ``extra["noise_configurations"]`` then counts them).

    >>> result = run_chsh("psi-", shots=4000, seed=3)
    >>> len(result.correlators), result.S > 2, result.p_value_rigorous < 1e-6
    (4, True, True)
    >>> data = result.to_dict()  # JSON-safe, keyed by the field names
    >>> data["S"] == result.S, data["z_score"] == result.z_score, data["state"]
    (True, True, 'psi-')
    """

    state: str
    angles: tuple[float, float, float, float]
    shots: int
    settings: str
    noise: NoiseConfig | None
    engine_info: dict[str, Any]
    correlators: tuple[SettingCorrelator, ...]
    S: float
    S_stderr: float
    z_score: float
    p_value: float
    log10_p_value: float
    S_raw: float
    S_raw_stderr: float
    mitigated: bool
    orientation: int
    wins: int
    win_fraction: float
    p_value_rigorous: float
    log10_p_value_rigorous: float
    p_value_hoeffding: float
    rigorous_assumption: str
    predicted_S: float | None = None
    """S predicted at these angles: closed form of ``noise``, or on a backend from the device's
    error figures *with* readout error (compare with ``S_raw``; ``extra`` holds the band and the
    readout-free ``predicted_S_mitigated`` with its band, for the mitigated ``S``)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        """The engine's name."""
        return str(self.engine_info.get("engine", "unknown"))

    @property
    def violates(self) -> bool:
        """True when the rigorous p-value is below 1e-3 (a conventional 'violation' flag)."""
        return self.p_value_rigorous < 1e-3

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN stays a float; the CLI prints it as null)."""
        return {
            "protocol": "chsh",
            "state": self.state,
            "engine": self.engine,
            "engine_info": dict(self.engine_info),
            "shots": self.shots,
            "settings": self.settings,
            "angles": list(self.angles),
            "noise": self.noise.to_dict() if self.noise is not None else None,
            "S": self.S,
            "S_stderr": self.S_stderr,
            "z_score": self.z_score,
            "p_value": self.p_value,
            "log10_p_value": self.log10_p_value,
            "S_raw": self.S_raw,
            "S_raw_stderr": self.S_raw_stderr,
            "mitigated": self.mitigated,
            "orientation": self.orientation,
            "predicted_S": self.predicted_S,
            "classical_bound": CLASSICAL_BOUND,
            "tsirelson_bound": TSIRELSON_BOUND,
            "wins": self.wins,
            "win_fraction": self.win_fraction,
            "p_value_rigorous": self.p_value_rigorous,
            "log10_p_value_rigorous": self.log10_p_value_rigorous,
            "p_value_hoeffding": self.p_value_hoeffding,
            "rigorous_assumption": self.rigorous_assumption,
            "correlators": [c.to_dict() for c in self.correlators],
            # Hardware facts at the top level, as for e91/bbm92 (backend, qubits, job_ids, ...).
            **{k: v for k, v in self.engine_info.items() if k in _TOP_LEVEL_ENGINE_KEYS},
            **self.extra,
        }


# ---------------------------------------------------------------------------------- experiment
def run_chsh(
    state: str = "phi+",
    angles: Sequence[float] | None = None,
    shots: int = 10_000,
    noise: NoiseConfig | None = None,
    engine: str | Engine = "exact",
    seed: SeedLike = None,
    *,
    settings: str = "random",
) -> ChshResult:
    """Run a CHSH test of ``state`` through ``noise`` on ``engine``.

    Args:
        state: a Bell state name (``phi+``, ``phi-``, ``psi+``, ``psi-``).
        angles: Bloch angles (a, a', b, b'); default the state's optimal angles (S = +2*sqrt(2)).
        shots: total number of rounds (>= 4).
        noise: the channel (default noiseless).
        engine: "exact", "shots", "statevector" or an :class:`~qentangle.engines.Engine`.
        seed: one seed for the setting choices and the engine (None: OS entropy); streams
            ``alice``, ``bob`` and ``nature`` of :func:`qentangle.rng.party_streams`.
        settings: "random" (i.i.d. uniform per round) or "balanced" (exactly even split).

    >>> r = run_chsh("psi-", shots=2000, noise=NoiseConfig(depolarizing=0.1), seed=3)
    >>> abs(r.S - 2**1.5 * 0.9) < 4 * r.S_stderr
    True
    """
    state = check_state(state)
    angles = check_chsh_angles(state, angles)
    a, a2, b, b2 = angles
    shots = SHOTS.check(shots)
    noise = NoiseConfig() if noise is None else noise
    if not isinstance(noise, NoiseConfig):
        raise ValidationError(f"noise must be a NoiseConfig, got {type(noise).__name__}")
    settings = check_choice("settings", settings, SETTING_MODES)
    engine = get_engine(engine)
    setup = PairSetup(state, noise)
    streams = party_streams(seed)

    if settings == "random":
        x = streams.alice.integers(0, 2, shots)
        y = streams.bob.integers(0, 2, shots)
        codes = engine.outcomes(setup, (a, a2), (b, b2), x, y, streams.nature)
        index = 2 * x.astype(np.intp) + y
        assumption = RANDOM_SETTINGS_ASSUMPTION
    else:
        per_pair = np.full(4, shots // 4)
        per_pair[: shots % 4] += 1
        pairs = [(a, b), (a, b2), (a2, b), (a2, b2)]
        drawn = engine.sample(setup, pairs, per_pair.tolist(), streams.nature)
        codes = np.concatenate(drawn)
        index = np.repeat(np.arange(4), per_pair)
        assumption = BALANCED_SETTINGS_ASSUMPTION
    return chsh_result(
        tally(index, codes),
        state=state,
        angles=angles,
        settings=settings,
        noise=noise,
        engine=engine,
        rigorous_assumption=assumption,
        predicted=predicted_S(state, angles, noise),
    )


def run_bell_test(
    pairs: int | None = None,
    *,
    schedule: Schedule | None = None,
    state: str = "phi+",
    noise: NoiseConfig | None = None,
    angles: Sequence[float] | None = None,
    engine: str | Engine = "exact",
    seed: SeedLike = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> ChshResult:
    """CHSH test between two endpoints with per-round random settings (optimal angles by default).

    Give ``pairs`` (with one ``noise``) or a ``schedule`` of ``(NoiseConfig, pairs)`` segments.
    Alice keeps the tally: Bob's settings and outcomes reach her over the authenticated channel.
    The seed's streams follow :func:`qentangle.rng.party_streams` (as every protocol session).

    >>> result = run_bell_test(20_000, seed=3)
    >>> abs(result.S - 2 * 2**0.5) < 4 * result.S_stderr, result.settings
    (True, 'random')
    """
    state = check_state(state)
    angles = check_chsh_angles(state, angles)
    a, a2, b, b2 = angles
    chunk = check_chunk_size(chunk_size)
    session = open_session(
        pairs=pairs,
        schedule=schedule,
        state=state,
        noise=noise,
        attacks=(),
        engine=engine,
        seed=seed,
        angles_alice=(a, a2),
        angles_bob=(b, b2),
    )
    alice, bob, channel = session.alice, session.bob, session.channel
    counts = np.zeros((4, 4), dtype=np.int64)  # Alice's tally: [setting pair, outcome code]
    for size in session.stream(chunk, progress=progress, label="chsh"):
        bob_settings = session.announce_settings("bob", "chsh/settings")
        bob_bits = np.unpackbits(channel.send("bob", "chsh/outcomes", np.packbits(bob.bits)), count=size)
        counts += tally(2 * alice.settings.astype(np.intp) + bob_settings, 2 * alice.bits + bob_bits)
    rounds: dict[NoiseConfig, int] = {}
    for setup, count in session.segments:
        rounds[setup.noise] = rounds.get(setup.noise, 0) + count
    predicted = sum(count * predicted_S(state, angles, n) for n, count in rounds.items()) / session.pairs
    extra: dict[str, Any] = {"elapsed_s": session.elapsed_s}
    if len(rounds) > 1:
        extra["noise_configurations"] = len(rounds)
    result = chsh_result(
        counts,
        state=state,
        angles=angles,
        settings="random",
        noise=next(iter(rounds)) if len(rounds) == 1 else None,
        engine=session.engine,
        rigorous_assumption=RANDOM_SETTINGS_ASSUMPTION,
        predicted=predicted,
        extra=extra,
    )
    channel.send("alice", "chsh/S", {"S": result.S, "S_stderr": result.S_stderr})
    return result


def chsh_result(
    counts: np.ndarray,
    *,
    state: str,
    angles: tuple[float, float, float, float],
    settings: str,
    noise: NoiseConfig | None,
    engine: Engine,
    rigorous_assumption: str,
    predicted: float,
    extra: dict[str, Any] | None = None,
) -> ChshResult:
    """The :class:`ChshResult` of a tally ``counts[setting pair, outcome code]`` at ``angles``.

    The orientation comes from the noiseless prediction at these angles (fixed before the
    data); readout is mitigated with the engine's calibration, if it has one; an engine that
    predicts S itself (a device) overrides ``predicted`` and adds its band to ``extra``.
    """
    a, a2, b, b2 = angles
    orientation = chsh_orientation(predicted_S(state, angles))
    statistics = analyse_chsh(counts, orientation=orientation, confusion=engine.readout_confusion())
    correlators = tuple(
        SettingCorrelator(
            a=float(pa),
            b=float(pb),
            sign=int(CHSH_SIGNS[i]),
            n=int(statistics.n[i]),
            counts=tuple(int(c) for c in statistics.counts[i]),
            E=float(statistics.E[i]),
            stderr=float(statistics.E_stderr[i]),
            E_raw=float(statistics.E_raw[i]),
        )
        for i, (pa, pb) in enumerate(((a, b), (a, b2), (a2, b), (a2, b2)))
    )
    info = dict(engine.info())
    # A backend predicts S at these angles from its qubits' error figures: predicted_S (and its
    # band) with readout error, for S_raw; predicted_S_mitigated (and band) without, for S.
    device = engine.chsh_prediction(state, angles)
    extra = {**(extra or {}), **(device or {})}
    return ChshResult(
        state=state,
        angles=angles,
        shots=statistics.rounds,
        settings=settings,
        noise=noise,
        engine_info=info,
        correlators=correlators,
        S=statistics.S,
        S_stderr=statistics.S_stderr,
        z_score=float(statistics.z_score),
        p_value=statistics.p_value,
        log10_p_value=statistics.log10_p_value,
        S_raw=statistics.S_raw,
        S_raw_stderr=statistics.S_raw_stderr,
        mitigated=statistics.mitigated,
        orientation=orientation,
        wins=statistics.wins,
        win_fraction=statistics.win_fraction,
        p_value_rigorous=statistics.p_value_rigorous,
        log10_p_value_rigorous=statistics.log10_p_value_rigorous,
        p_value_hoeffding=statistics.p_value_hoeffding,
        rigorous_assumption=rigorous_assumption,
        predicted_S=float(device["predicted_S"]) if device else float(predicted),
        extra=extra,
    )


# ---------------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class ChshSweep:
    """S(theta) for Alice at {0, pi/2} and Bob at {theta, theta + pi/2}, with error bars.

    ``correlators[k]`` holds E(a,b), E(a,b'), E(a',b), E(a',b') at ``thetas[k]``;
    ``S1 = E(a,b) - E(a,b') + E(a',b) + E(a',b')`` and
    ``S2 = E(a,b) + E(a,b') - E(a',b) + E(a',b')`` (IBM's CHSH tutorial's two witnesses).
    """

    state: str
    thetas: np.ndarray
    shots: int
    noise: NoiseConfig
    engine_info: dict[str, Any]
    correlators: np.ndarray
    correlator_stderr: np.ndarray
    S1: np.ndarray
    S1_stderr: np.ndarray
    S2: np.ndarray
    S2_stderr: np.ndarray
    S1_theory: np.ndarray
    S2_theory: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (arrays become lists)."""
        data: dict[str, Any] = {
            "state": self.state,
            "shots": self.shots,
            "noise": self.noise.to_dict(),
            "engine": self.engine_info.get("engine"),
            "engine_info": dict(self.engine_info),
        }
        for name in (
            "thetas",
            "correlators",
            "correlator_stderr",
            "S1",
            "S1_stderr",
            "S2",
            "S2_stderr",
            "S1_theory",
            "S2_theory",
        ):
            data[name] = np.asarray(getattr(self, name)).tolist()
        return data


S2_SIGNS = np.array([1, 1, -1, 1])


def chsh_sweep(
    state: str = "phi+",
    thetas: Sequence[float] | np.ndarray | None = None,
    shots: int = 1000,
    noise: NoiseConfig | None = None,
    engine: str | Engine = "exact",
    seed: SeedLike = None,
) -> ChshSweep:
    """Sweep Bob's angle theta; ``shots`` rounds per setting pair per theta.

    Every (theta, setting pair) circuit goes to the engine in one call.

    >>> sweep = chsh_sweep("phi+", np.linspace(0, np.pi, 5), shots=500, seed=2)
    >>> sweep.S1.shape, bool(abs(sweep.S1[1] - 2**1.5) < 4 * sweep.S1_stderr[1])
    ((5,), True)
    """
    state = check_state(state)
    thetas = np.linspace(0, 2 * np.pi, 21) if thetas is None else np.asarray(thetas, dtype=float)
    if thetas.ndim != 1 or thetas.size == 0 or not np.all(np.isfinite(thetas)):
        raise ValidationError("thetas must be a non-empty 1-D array of finite Bloch angles (radians)")
    shots = check_positive_int("shots", shots)
    noise = NoiseConfig() if noise is None else noise
    engine = get_engine(engine)
    rng = party_streams(seed).nature

    a = np.tile([0.0, 0.0, np.pi / 2, np.pi / 2], thetas.size)
    b = (thetas[:, None] + np.array([0.0, np.pi / 2, 0.0, np.pi / 2])).ravel()
    pairs = list(zip(a.tolist(), b.tolist(), strict=True))
    drawn = engine.sample(PairSetup(state, noise), pairs, [shots] * len(pairs), rng)
    block = np.repeat(np.arange(len(pairs)), shots)
    counts = tally(block, np.concatenate(drawn), len(pairs)).reshape(thetas.size, 4, 4)
    confusion = engine.readout_confusion()
    E, se, S1, S1_stderr = chsh_statistic(counts, CHSH_SIGNS, confusion)
    _, _, S2, S2_stderr = chsh_statistic(counts, S2_SIGNS, confusion)
    theory = np.asarray(predicted_correlator(state, a, b, noise)).reshape(-1, 4)
    return ChshSweep(
        state=state,
        thetas=thetas,
        shots=shots,
        noise=noise,
        engine_info=dict(engine.info()),
        correlators=E,
        correlator_stderr=se,
        S1=S1,
        S1_stderr=S1_stderr,
        S2=S2,
        S2_stderr=S2_stderr,
        S1_theory=theory @ CHSH_SIGNS,
        S2_theory=theory @ S2_SIGNS,
    )
