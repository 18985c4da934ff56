"""The CHSH Bell test: correlators, S, its statistics and a rigorous test of local realism.

:func:`run_chsh` measures a (noisy) Bell pair at four setting pairs and reports each
correlator with its count, ``S = E(a,b) - E(a,b') + E(a',b) + E(a',b')``, the standard error
``sigma_S = sqrt(sum_i (1 - E_i^2) / N_i)``, the violation ``z = (S - 2) / sigma_S`` with a
normal-approximation p-value, and a p-value against local realism that needs no i.i.d.
assumption (the CHSH game, see below).

**Settings.** With ``settings="random"`` (the default) every round draws Alice's setting
bit ``x`` and Bob's setting bit ``y`` independently and uniformly, as a Bell test must for the
rigorous p-value: the ``shots`` rounds are split evenly over the four setting pairs *in
expectation* and the realised counts ``N_i`` are reported. ``settings="balanced"`` gives every
setting pair exactly ``shots // 4`` rounds (the first ``shots % 4`` pairs one more).

**The rigorous p-value (CHSH game).** Round ``i`` is *won* when the outcomes agree on a
setting pair with sign +1 in S and differ on the pair with sign -1. A local-realist model, with
any memory of the past and any dependence between rounds, wins each round with probability at
most 3/4 *given the past*, provided the settings are uniform and independent of that past.
The number of wins is then stochastically dominated by a Binomial(N, 3/4) variable
(Gill 2003; Elkouss & Wehner, npj Quantum Inf. 2, 16026 (2016)), so

    p_value_rigorous = P[Binomial(N, 3/4) >= wins]

is a valid p-value with no i.i.d. assumption. Its Chernoff relaxation is the Azuma-Hoeffding
bound ``p_value_hoeffding = exp(-2 N (w - 3/4)^2)`` for a win fraction ``w > 3/4`` (1 otherwise),
which is always larger. The rigorous p-value uses the raw outcomes: readout mitigation is a
post-processing that assumes a calibration, so it never enters the test. With
``settings="balanced"`` the setting order is a random permutation, not independent draws;
the same formula is reported under the stated assumption that the source cannot exploit the
balanced schedule (``rigorous_assumption`` in the result says which case applies).

If the chosen angles and state predict a negative S (e.g. user-chosen angles), the test is
oriented before looking at the data: ``orientation = -1``, the z-score is
``(-S - 2) / sigma_S`` and the game's signs are flipped.

>>> result = run_chsh("phi+", shots=4000, seed=1)
>>> round(result.S, 1) in (2.7, 2.8, 2.9)
True
>>> result.p_value_rigorous < 1e-6
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from qentangle.engines import Engine, correlator, get_engine
from qentangle.errors import ValidationError, check_choice, check_finite, check_positive_int
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup
from qentangle.rng import SeedLike, spawn_generators
from qentangle.states import check_state, chsh_value, optimal_chsh_angles

CLASSICAL_BOUND = 2.0
TSIRELSON_BOUND = 2.0 * math.sqrt(2.0)
LOCAL_WIN_PROBABILITY = 0.75
CHSH_SIGNS = np.array([1, -1, 1, 1])  # S = E(a,b) - E(a,b') + E(a',b) + E(a',b')
SETTING_MODES = ("random", "balanced")
_TOP_LEVEL_ENGINE_KEYS = ("backend", "qubits", "job_ids", "pair_errors")
_EQUAL = np.array([1.0, -1.0, -1.0, 1.0])  # +1 when bit_a == bit_b, per outcome code 0..3


# ---------------------------------------------------------------------------------- theory
_PAULI_I = np.eye(2, dtype=complex)
_PAULI_Z = np.diag([1.0, -1.0]).astype(complex)
_BELL_VECTORS = {  # index 2 * bit_a + bit_b (Alice most significant)
    "phi+": np.array([1, 0, 0, 1]) / math.sqrt(2),
    "phi-": np.array([1, 0, 0, -1]) / math.sqrt(2),
    "psi+": np.array([0, 1, 1, 0]) / math.sqrt(2),
    "psi-": np.array([0, 1, -1, 0]) / math.sqrt(2),
}


def _ry(angle: np.ndarray | float) -> np.ndarray:
    """RY(angle) = exp(-i angle Y / 2), broadcast over ``angle`` (shape (..., 2, 2))."""
    half = np.asarray(angle, dtype=float) / 2
    c, s = np.cos(half), np.sin(half)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _on_arm(kraus: list[np.ndarray], rho: np.ndarray, arm: int) -> np.ndarray:
    ops = [np.kron(k, _PAULI_I) if arm == 0 else np.kron(_PAULI_I, k) for k in kraus]
    return sum(k @ rho @ k.conj().T for k in ops)


def _white(rho: np.ndarray, p: float, dim: int = 4) -> np.ndarray:
    return (1 - p) * rho + p * np.trace(rho) * np.eye(dim) / dim


def predicted_density_matrix(state: str, noise: NoiseConfig | None = None) -> np.ndarray:
    """The pair's 4x4 density matrix after the channels, in closed form (numpy, no Aer).

    Index ``2 * bit_a + bit_b`` (Alice most significant, unlike Qiskit's order). Channels act
    as in :mod:`qentangle.noise`: two-qubit depolarizing, accidental white noise, then on
    each arm misalignment, dephasing, amplitude damping and depolarizing.

    >>> rho = predicted_density_matrix("phi+", NoiseConfig(depolarizing=0.2))
    >>> float(np.round(rho[0, 3].real, 6))
    0.4
    """
    noise = NoiseConfig() if noise is None else noise
    vector = _BELL_VECTORS[check_state(state)].astype(complex)
    rho = np.outer(vector, vector.conj())
    rho = _white(_white(rho, noise.depolarizing), noise.accidental)
    for arm, name in enumerate("ab"):
        theta = math.radians(getattr(noise, f"misalignment_{name}_deg"))
        rho = _on_arm([_ry(2 * theta)], rho, arm)
        p = getattr(noise, f"dephasing_{name}")
        rho = _on_arm([math.sqrt(1 - p) * _PAULI_I, math.sqrt(p) * _PAULI_Z], rho, arm)
        g = getattr(noise, f"amplitude_damping_{name}")
        damping = [np.array([[1, 0], [0, math.sqrt(1 - g)]]), np.array([[0, math.sqrt(g)], [0, 0]])]
        rho = _on_arm([k.astype(complex) for k in damping], rho, arm)
        d = getattr(noise, f"depolarizing_{name}")  # Qiskit: (1 - d) rho + d Tr_arm(rho) I/2
        reduced = rho.reshape(2, 2, 2, 2)
        traced = np.einsum("ajak->jk", reduced) if arm == 0 else np.einsum("iaka->ik", reduced)
        mixed = np.kron(np.eye(2) / 2, traced) if arm == 0 else np.kron(traced, np.eye(2) / 2)
        rho = (1 - d) * rho + d * mixed
    return rho


def predicted_distribution(
    state: str, a: float | np.ndarray, b: float | np.ndarray, noise: NoiseConfig | None = None
) -> np.ndarray:
    """Closed-form joint outcome probabilities (..., 4) at Bloch angles ``a``, ``b``.

    Readout error is applied with each endpoint's confusion matrix. ``a`` and ``b``
    broadcast against each other.

    >>> np.round(predicted_distribution("phi+", 0.0, 0.0), 6).tolist()
    [0.5, 0.0, 0.0, 0.5]
    """
    noise = NoiseConfig() if noise is None else noise
    a_arr, b_arr = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if not (np.all(np.isfinite(a_arr)) and np.all(np.isfinite(b_arr))):
        raise ValidationError("angles a, b must be finite numbers (Bloch radians)")
    rho = predicted_density_matrix(state, noise).reshape(2, 2, 2, 2)
    ua, ub = _ry(-a_arr), _ry(-b_arr)  # measurement rotation RY(-theta), then Z
    joint = np.einsum("...ik,...jl,klmn,...im,...jn->...ij", ua, ub, rho, ua.conj(), ub.conj()).real
    joint = noise.confusion_matrix("a") @ joint @ noise.confusion_matrix("b").T
    return joint.reshape(*joint.shape[:-2], 4)


def predicted_correlator(
    state: str, a: float | np.ndarray, b: float | np.ndarray, noise: NoiseConfig | None = None
) -> float | np.ndarray:
    """Closed-form E(a, b) = P(equal) - P(different) of the noisy pair (numpy, no Aer).

    >>> round(float(predicted_correlator("phi+", 0.0, math.pi / 4, NoiseConfig(depolarizing=0.1))), 6)
    0.636396
    """
    value = correlator(predicted_distribution(state, a, b, noise))
    return float(value) if np.ndim(value) == 0 else value


def predicted_S(
    state: str = "phi+",
    angles: Sequence[float] | None = None,
    noise: NoiseConfig | None = None,
) -> float:
    """Closed-form S at ``angles`` = (a, a', b, b') (the state's optimal ones by default).

    >>> round(predicted_S("psi-", noise=NoiseConfig(depolarizing=0.25)), 6)
    2.12132
    """
    a, a2, b, b2 = _check_angles(state, angles)
    values = predicted_correlator(state, np.array([a, a, a2, a2]), np.array([b, b2, b, b2]), noise)
    return float(chsh_value(values))


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
    """Everything one CHSH run measured, as a value. ``to_dict()`` is JSON-safe."""

    state: str
    angles: tuple[float, float, float, float]
    shots: int
    settings: str
    noise: NoiseConfig
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
            "state": self.state,
            "engine": self.engine,
            "engine_info": dict(self.engine_info),
            "shots": self.shots,
            "settings": self.settings,
            "angles": list(self.angles),
            "noise": self.noise.to_dict(),
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


# ---------------------------------------------------------------------------------- statistics
def correlator_stats(
    counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Correlators and standard errors from counts (..., 4), optionally readout-mitigated.

    Mitigation inverts each endpoint's confusion matrix M[read, true] on the joint
    distribution; the mitigated E is linear in the frequencies, so its variance is the
    multinomial variance of that linear statistic, plus, when ``confusion`` carries its
    calibration statistics (a :class:`~qentangle.ibm.mitigation.ReadoutConfusion`), the
    calibration's own sampling error (delta method over the four estimated flips). Without
    mitigation the standard error is sqrt((1 - E^2) / N). Settings with no rounds give NaN.

    >>> E, se = correlator_stats(np.array([[45, 5, 5, 45]]))
    >>> float(E[0]), round(float(se[0]), 4)
    (0.8, 0.06)
    """
    E, variance, gradients, flips = _correlator_moments(counts, confusion)
    if gradients is not None:
        variance = variance + gradients**2 @ flips
    return E, np.sqrt(np.clip(variance, 0.0, None))


def qber_stats(
    counts: np.ndarray, sign: float = 1.0, confusion: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Error rate ``(1 - sign E) / 2`` and its standard error from one basis's counts (..., 4).

    ``sign`` is the ideal correlation in that basis (+1: equal bits, -1: opposite bits);
    ``confusion`` mitigates readout as in :func:`correlator_stats`.

    >>> rate, se = qber_stats(np.array([45, 5, 5, 45]))
    >>> round(float(rate), 6), round(float(se), 4)
    (0.1, 0.03)
    """
    E, se = correlator_stats(counts, confusion)
    return (1 - sign * E) / 2, se / 2


def _correlator_moments(
    counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """E, its multinomial variance, dE/dflip (..., 4) and the flips' variances (4,).

    The last two are None unless ``confusion`` carries calibration statistics.
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1)
    gradients = flips = None
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = counts / n[..., None]
        weights = _EQUAL
        if confusion is not None:
            inverse = np.kron(np.linalg.inv(confusion[0]), np.linalg.inv(confusion[1]))
            weights = _EQUAL @ inverse  # E_mitigated = weights . freq
        E = freq @ weights
        variance = (freq @ weights**2 - E**2) / n
        if hasattr(confusion, "flip_variances"):
            gradients = freq @ confusion.weight_gradients(_EQUAL).T
            flips = confusion.flip_variances()
    return E, variance, gradients, flips


def chsh_statistic(
    counts: np.ndarray,
    signs: np.ndarray = CHSH_SIGNS,
    confusion: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(E, stderr of E, S = signs . E, stderr of S)`` from counts (..., settings, 4).

    The settings' sampling errors are independent. A calibration (``confusion`` with its
    statistics, as a backend engine returns it) is common to all settings: its error enters S
    through dS/dflip = sum_i sign_i dE_i/dflip (delta method), once for S rather than setting
    by setting.

    >>> counts = np.array([[45, 5, 5, 45], [5, 45, 45, 5], [45, 5, 5, 45], [45, 5, 5, 45]])
    >>> E, se, S, S_se = chsh_statistic(counts)
    >>> round(float(S), 6), round(float(S_se), 4)
    (3.2, 0.12)
    """
    signs = np.asarray(signs, dtype=float)
    E, variance, gradients, flips = _correlator_moments(counts, confusion)
    S = E @ signs
    S_variance = np.sum(variance, axis=-1)
    if gradients is not None:
        S_variance = S_variance + np.einsum("i,...ik->...k", signs, gradients) ** 2 @ flips
        variance = variance + gradients**2 @ flips
    return E, np.sqrt(np.clip(variance, 0.0, None)), S, np.sqrt(np.clip(S_variance, 0.0, None))


def chsh_game_wins(counts: np.ndarray, signs: np.ndarray = CHSH_SIGNS) -> int:
    """Rounds won in the CHSH game: equal outcomes on + pairs, different outcomes on - pairs.

    ``counts[i]`` holds the outcome counts (codes 00, 01, 10, 11) of setting pair ``i``.

    >>> chsh_game_wins(np.array([[4, 1, 0, 5], [1, 4, 4, 1], [5, 0, 0, 5], [3, 1, 1, 5]]))
    35
    """
    counts = np.asarray(counts)
    equal = counts[:, 0] + counts[:, 3]
    return int(np.sum(np.where(np.asarray(signs) > 0, equal, counts.sum(axis=1) - equal)))


def chsh_game_p_values(wins: int, rounds: int) -> tuple[float, float, float]:
    """(p_binomial, log10 p_binomial, p_hoeffding) of ``wins`` in ``rounds`` CHSH games.

    p_binomial = P[Binomial(rounds, 3/4) >= wins]; p_hoeffding = exp(-2 N (w - 3/4)^2) for
    w = wins / rounds > 3/4, else 1. Both are valid against any local model with memory
    when the settings are uniform and independent of the past.

    >>> p, log10p, hoeff = chsh_game_p_values(850, 1000)
    >>> p < hoeff < 1e-8
    True
    """
    if rounds <= 0:
        return 1.0, 0.0, 1.0
    log_p = float(stats.binom.logsf(wins - 1, rounds, LOCAL_WIN_PROBABILITY))
    if not math.isfinite(log_p):  # far tail underflows: sum the (geometrically falling) terms
        k = np.arange(wins, min(rounds, wins + 20_000) + 1)
        log_p = float(logsumexp(stats.binom.logpmf(k, rounds, LOCAL_WIN_PROBABILITY)))
    excess = wins / rounds - LOCAL_WIN_PROBABILITY
    hoeffding = math.exp(-2 * rounds * excess**2) if excess > 0 else 1.0
    return math.exp(log_p), log_p / math.log(10), hoeffding


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
        seed: one seed for the setting choices and the engine (None: OS entropy).
        settings: "random" (i.i.d. uniform per round) or "balanced" (exactly even split).

    >>> r = run_chsh("psi-", shots=2000, noise=NoiseConfig(depolarizing=0.1), seed=3)
    >>> abs(r.S - 2 * math.sqrt(2) * 0.9) < 4 * r.S_stderr
    True
    """
    state = check_state(state)
    a, a2, b, b2 = _check_angles(state, angles)
    shots = check_positive_int("shots", shots, minimum=4)
    noise = NoiseConfig() if noise is None else noise
    if not isinstance(noise, NoiseConfig):
        raise ValidationError(f"noise must be a NoiseConfig, got {type(noise).__name__}")
    settings = check_choice("settings", settings, SETTING_MODES)
    engine = get_engine(engine)
    setup = PairSetup(state, noise)
    rng_alice, rng_bob, rng_engine = spawn_generators(seed, 3)

    if settings == "random":
        x = rng_alice.integers(0, 2, shots)
        y = rng_bob.integers(0, 2, shots)
        codes = engine.outcomes(setup, (a, a2), (b, b2), x, y, rng_engine)
        index = 2 * x.astype(np.intp) + y
        assumption = "none beyond uniform, independent per-round settings (i.i.d. not needed)"
    else:
        per_pair = np.full(4, shots // 4)
        per_pair[: shots % 4] += 1
        pairs = [(a, b), (a, b2), (a2, b), (a2, b2)]
        drawn = engine.sample(setup, pairs, per_pair.tolist(), rng_engine)
        codes = np.concatenate(drawn)
        index = np.repeat(np.arange(4), per_pair)
        assumption = (
            "balanced schedule, not independent random settings: valid only if the source "
            "cannot exploit the schedule"
        )
    counts = np.bincount(4 * index + codes.astype(np.intp), minlength=16).reshape(4, 4)

    # Orientation fixed before looking at data, from the noiseless prediction at these angles.
    orientation = -1 if predicted_S(state, (a, a2, b, b2)) < 0 else 1
    signs = orientation * CHSH_SIGNS
    wins = chsh_game_wins(counts, signs)
    p_rig, log10_p_rig, p_hoeff = chsh_game_p_values(wins, shots)

    confusion = engine.readout_confusion()
    E_raw, se_raw, S_raw, S_raw_stderr = chsh_statistic(counts)
    E, se, S, S_stderr = chsh_statistic(counts, CHSH_SIGNS, confusion) if confusion is not None else (
        E_raw, se_raw, S_raw, S_raw_stderr
    )
    S_raw, S_raw_stderr, S, S_stderr = float(S_raw), float(S_raw_stderr), float(S), float(S_stderr)
    n = counts.sum(axis=1)
    z = (orientation * S - CLASSICAL_BOUND) / S_stderr if S_stderr > 0 else _infinite_z(orientation * S)
    p_normal = float(stats.norm.sf(z)) if not math.isnan(z) else math.nan
    log10_p_normal = float(stats.norm.logsf(z)) / math.log(10) if not math.isnan(z) else math.nan

    angle_pairs = ((a, b), (a, b2), (a2, b), (a2, b2))
    correlators = tuple(
        SettingCorrelator(
            a=float(pa),
            b=float(pb),
            sign=int(CHSH_SIGNS[i]),
            n=int(n[i]),
            counts=tuple(int(c) for c in counts[i]),
            E=float(E[i]),
            stderr=float(se[i]),
            E_raw=float(E_raw[i]),
        )
        for i, (pa, pb) in enumerate(angle_pairs)
    )
    info = dict(engine.info())
    # A backend predicts S at these angles from its qubits' error figures: predicted_S (and its
    # band) with readout error, for S_raw; predicted_S_mitigated (and band) without, for S.
    device = getattr(engine, "chsh_prediction", None)
    extra = dict(device(state, (a, a2, b, b2))) if callable(device) else {}
    prediction = float(extra.get("predicted_S", predicted_S(state, (a, a2, b, b2), noise)))
    return ChshResult(
        state=state,
        angles=(a, a2, b, b2),
        shots=shots,
        settings=settings,
        noise=noise,
        engine_info=info,
        correlators=correlators,
        S=S,
        S_stderr=S_stderr,
        z_score=float(z),
        p_value=p_normal,
        log10_p_value=log10_p_normal,
        S_raw=S_raw,
        S_raw_stderr=S_raw_stderr,
        mitigated=confusion is not None,
        orientation=orientation,
        wins=wins,
        win_fraction=wins / shots,
        p_value_rigorous=p_rig,
        log10_p_value_rigorous=log10_p_rig,
        p_value_hoeffding=p_hoeff,
        rigorous_assumption=assumption,
        predicted_S=prediction,
        extra=extra,
    )


def _infinite_z(s: float) -> float:
    """z-score when every correlator is exactly +-1 (zero standard error)."""
    if s > CLASSICAL_BOUND:
        return math.inf
    return -math.inf if s < CLASSICAL_BOUND else 0.0


def _check_angles(state: str, angles: Sequence[float] | None) -> tuple[float, float, float, float]:
    if angles is None:
        return optimal_chsh_angles(state)
    if isinstance(angles, (str, bytes)) or len(angles) != 4:
        raise ValidationError(f"angles={angles!r} is not valid: expected four Bloch angles (a, a', b, b')")
    names = ("a", "a'", "b", "b'")
    return tuple(check_finite(f"angles[{name}]", value) for name, value in zip(names, angles, strict=True))


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
    >>> sweep.S1.shape, bool(abs(sweep.S1[1] - 2 * math.sqrt(2)) < 4 * sweep.S1_stderr[1])
    ((5,), True)
    """
    state = check_state(state)
    thetas = np.linspace(0, 2 * np.pi, 21) if thetas is None else np.asarray(thetas, dtype=float)
    if thetas.ndim != 1 or thetas.size == 0 or not np.all(np.isfinite(thetas)):
        raise ValidationError("thetas must be a non-empty 1-D array of finite Bloch angles (radians)")
    shots = check_positive_int("shots", shots)
    noise = NoiseConfig() if noise is None else noise
    engine = get_engine(engine)
    (rng,) = spawn_generators(seed, 1)

    a = np.tile([0.0, 0.0, np.pi / 2, np.pi / 2], thetas.size)
    b = (thetas[:, None] + np.array([0.0, np.pi / 2, 0.0, np.pi / 2])).ravel()
    pairs = list(zip(a.tolist(), b.tolist(), strict=True))
    drawn = engine.sample(PairSetup(state, noise), pairs, [shots] * len(pairs), rng)
    block = np.repeat(np.arange(len(pairs)), shots)
    counts = np.bincount(4 * block + np.concatenate(drawn).astype(np.intp), minlength=4 * len(pairs))
    counts = counts.reshape(thetas.size, 4, 4)
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
