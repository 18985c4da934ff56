"""From outcome counts to statistics: correlators, QBER, CHSH S, its p-values, readout inversion.

One home for every counts-to-numbers step that CHSH, E91, BBM92, the distributed Bell test and
the IBM path share. Pure numpy/scipy (scipy imported on first use): no Qiskit, no protocols.

**Conventions.** Outcomes are joint codes ``2 * bit_a + bit_b`` (0..3); counts have shape
``(..., 4)`` over those codes, and a CHSH tally has shape ``(4 setting pairs, 4 codes)`` in the
order ``(a,b), (a,b'), (a',b), (a',b')``. The correlator is ``E = P(equal) - P(different)``;
``S = E(a,b) - E(a,b') + E(a',b) + E(a',b')`` with standard error
``sigma_S = sqrt(sum_i (1 - E_i^2) / N_i)`` (independent settings).

**Readout inversion.** Each endpoint's confusion matrix ``M[read, true]`` is inverted on the
joint distribution, ``inverse(M_alice) (x) inverse(M_bob)``. A :class:`ReadoutConfusion` also
knows how many calibration shots estimated each column, so a mitigated statistic carries the
calibration's own sampling error (delta method).

**The rigorous p-value (CHSH game).** Round ``i`` is *won* when the outcomes agree on a setting
pair with sign +1 in S and differ on the pair with sign -1. A local-realist model, with any
memory of the past, wins each round with probability at most 3/4 *given the past*, provided the
settings are uniform and independent of that past, so the number of wins is dominated by a
Binomial(N, 3/4) variable (Gill 2003; Elkouss & Wehner, npj Quantum Inf. 2, 16026 (2016)):
``p_value_rigorous = P[Binomial(N, 3/4) >= wins]`` needs no i.i.d. assumption. Its Chernoff
relaxation, the Azuma-Hoeffding bound ``exp(-2 N (w - 3/4)^2)``, is always larger.

**Orientation.** When the state and angles predict a negative S, the test is oriented before
looking at the data (``orientation = -1``): the z-score is ``(-S - 2) / sigma_S`` and the game's
signs flip.

>>> counts = np.array([[45, 5, 5, 45], [5, 45, 45, 5], [45, 5, 5, 45], [45, 5, 5, 45]])
>>> chsh = analyse_chsh(counts)
>>> round(chsh.S, 6), round(chsh.S_stderr, 4), chsh.wins, chsh.z_score > 9
(3.2, 0.12, 360, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qentangle.errors import ValidationError

CLASSICAL_BOUND = 2.0
TSIRELSON_BOUND = 2.0 * math.sqrt(2.0)
LOCAL_WIN_PROBABILITY = 0.75
CHSH_SIGNS = np.array([1, -1, 1, 1])  # S = E(a,b) - E(a,b') + E(a',b) + E(a',b')
EQUAL = np.array([1.0, -1.0, -1.0, 1.0])  # +1 when bit_a == bit_b, per outcome code 0..3
#: Prepared (bit_a, bit_b) of each readout-calibration circuit, in order.
CALIBRATION_STATES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))
#: The two key bases, by index: 0 = z (Bloch angle 0), 1 = x (pi/2); the one spelling everywhere.
#: (Here, not in :mod:`qentangle.states`, so that the key stage needs no Qiskit.)
BASIS_NAMES: tuple[str, ...] = ("z", "x")
BASIS_ANGLES: tuple[float, ...] = (0.0, math.pi / 2)
#: <ZZ> and <XX> of each noiseless Bell state (<ZX> = <XZ> = 0, the marginals vanish).
BELL_ZZ_XX: dict[str, tuple[int, int]] = {"phi+": (1, 1), "phi-": (1, -1), "psi+": (-1, 1), "psi-": (-1, -1)}


# ---------------------------------------------------------------------------------- outcomes
def correlator(probabilities: np.ndarray) -> np.ndarray:
    """E = P(equal) - P(different) from joint probabilities over codes 0..3 (last axis).

    >>> float(correlator(np.array([0.5, 0.125, 0.125, 0.25])))
    0.5
    """
    p = np.asarray(probabilities)
    return p[..., 0] + p[..., 3] - p[..., 1] - p[..., 2]


def codes_from_counts(counts: np.ndarray) -> np.ndarray:
    """Joint code of Qiskit's little-endian 2-bit value (bit 0 Alice, bit 1 Bob).

    >>> codes_from_counts(np.array([0, 1, 2, 3])).tolist()
    [0, 2, 1, 3]
    """
    value = np.asarray(counts, dtype=np.uint8)
    return ((value & 1) << 1) | (value >> 1)


def tally(pair_index: np.ndarray, codes: np.ndarray, num_pairs: int = 4) -> np.ndarray:
    """Counts ``(num_pairs, 4)`` of each (setting pair, outcome code) over the rounds.

    >>> tally(np.array([0, 0, 1, 3]), np.array([0, 3, 1, 2])).tolist()
    [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]
    """
    index = 4 * np.asarray(pair_index, dtype=np.intp) + np.asarray(codes, dtype=np.intp)
    return np.bincount(index, minlength=4 * num_pairs).reshape(num_pairs, 4).astype(np.int64)


# ---------------------------------------------------------------------------------- readout
class ReadoutConfusion(tuple):
    """``(M_alice, M_bob)``, each ``M[read, true]``, with the calibration shots behind them.

    ``shots[arm, true]`` is the number of calibration shots that estimated column ``true`` of
    that arm's matrix. It unpacks like the plain pair ``(M_alice, M_bob)``.

    >>> m = np.array([[0.98, 0.03], [0.02, 0.97]])
    >>> confusion = ReadoutConfusion(m, m, np.full((2, 2), 2000))
    >>> m_a, m_b = confusion
    >>> (confusion.flip_variances() * 1e6).round(2).tolist()
    [9.92, 14.66, 9.92, 14.66]
    """

    shots: np.ndarray

    def __new__(cls, alice: np.ndarray, bob: np.ndarray, shots: np.ndarray) -> ReadoutConfusion:
        confusion = super().__new__(cls, (np.asarray(alice, float), np.asarray(bob, float)))
        confusion.shots = np.asarray(shots, dtype=float).reshape(2, 2)
        return confusion

    def flip_variances(self) -> np.ndarray:
        """Variances of the estimated flips ``(P_a(1|0), P_a(0|1), P_b(1|0), P_b(0|1))``.

        Binomial ``p (1 - p) / n`` with ``p = (k + 1/2) / (n + 1)`` (k flips in n shots), so a
        flip never seen in calibration still counts as uncertain.
        """
        variances = []
        for arm, m in enumerate(self):
            for true in (0, 1):
                n = self.shots[arm, true]
                p = (m[1 - true, true] * n + 0.5) / (n + 1)
                variances.append(p * (1 - p) / n)
        return np.array(variances)

    def weight_gradients(self, observable: np.ndarray) -> np.ndarray:
        """d w / d flip for ``w = observable @ kron(inv(M_a), inv(M_b))``, shape (4 flips, 4 codes).

        ``w . frequencies`` is the mitigated expectation of ``observable`` (one value per code);
        the flips are ordered as in :meth:`flip_variances`. Uses d inv(M) = -inv(M) dM inv(M).
        """
        inverses = [np.linalg.inv(m) for m in self]
        # dM/dP(1|0) and dM/dP(0|1) for M = [[1 - P(1|0), P(0|1)], [P(1|0), 1 - P(0|1)]]
        steps = (np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, -1.0]]))
        rows = []
        for arm in (0, 1):
            for step in steps:
                d_inverse = -inverses[arm] @ step @ inverses[arm]
                pair = (d_inverse, inverses[1]) if arm == 0 else (inverses[0], d_inverse)
                rows.append(np.asarray(observable, float) @ np.kron(*pair))
        return np.array(rows)


def confusion_from_codes(codes: Sequence[np.ndarray]) -> ReadoutConfusion:
    """Per-endpoint confusion matrices M[read, true] from the four calibration code arrays.

    ``codes[k]`` holds the outcome codes of the circuit preparing ``CALIBRATION_STATES[k]``.

    >>> codes = [np.array([0] * 95 + [2] * 5), np.array([1] * 100), np.array([2] * 90 + [0] * 10),
    ...          np.array([3] * 100)]
    >>> m_a, m_b = confusion_from_codes(codes)
    >>> m_a.round(3).tolist(), m_b.round(3).tolist()
    ([[0.975, 0.05], [0.025, 0.95]], [[1.0, 0.0], [0.0, 1.0]])
    """
    if len(codes) != len(CALIBRATION_STATES):
        raise ValidationError(f"calibration: expected 4 code arrays (|00>..|11>), got {len(codes)}")
    counts = np.array([np.bincount(np.asarray(c, dtype=np.intp), minlength=4)[:4] for c in codes], float)
    return confusion_from_counts(counts)


def confusion_from_counts(counts: np.ndarray) -> ReadoutConfusion:
    """Per-endpoint M[read, true] from calibration counts, shape (4 prepared, 4 codes).

    Each endpoint's matrix uses all calibration shots (the other qubit's preparation
    marginalised out).

    >>> m_a, m_b = confusion_from_counts(np.diag([100.0, 100.0, 100.0, 100.0]))
    >>> m_a.tolist() == m_b.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    True
    """
    counts = np.asarray(counts, dtype=float).reshape(4, 2, 2)  # [prepared, read_a, read_b]
    if np.any(counts.reshape(4, 4).sum(axis=1) <= 0):
        raise ValidationError("calibration: every calibration circuit needs at least one shot")
    matrices, shots = [], []
    for arm in (0, 1):
        m = np.zeros((2, 2))
        for k, prepared in enumerate(CALIBRATION_STATES):
            read = counts[k].sum(axis=1 - arm)  # marginal over the other endpoint's reading
            m[:, prepared[arm]] += read
        shots.append(m.sum(axis=0))
        matrices.append(m / shots[-1])
    for name, m in zip(("alice", "bob"), matrices, strict=True):
        if abs(np.linalg.det(m)) < 1e-6:
            raise ValidationError(f"calibration: {name}'s readout confusion matrix is singular: {m.tolist()}")
    return ReadoutConfusion(matrices[0], matrices[1], np.array(shots))


def mitigated_probabilities(counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Joint probabilities over codes 0..3 with readout inverted (rows: setting pairs).

    The result can leave the simplex slightly (sampling noise); it is not clipped so that
    correlators stay unbiased.

    >>> m = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> np.round(mitigated_probabilities(np.array([41, 9, 9, 41]), (m, m)), 6).tolist()
    [[0.5, 0.0, 0.0, 0.5]]
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    freq = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    inverse = np.kron(np.linalg.inv(confusion[0]), np.linalg.inv(confusion[1]))
    return freq @ inverse.T


# ---------------------------------------------------------------------------------- correlators
def correlator_stats(
    counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Correlators and standard errors from counts (..., 4), optionally readout-mitigated.

    Mitigation inverts each endpoint's confusion matrix M[read, true] on the joint
    distribution; the mitigated E is linear in the frequencies, so its variance is the
    multinomial variance of that linear statistic, plus, when ``confusion`` carries its
    calibration statistics (a :class:`ReadoutConfusion`), the calibration's own sampling error
    (delta method over the four estimated flips). Without mitigation the standard error is
    sqrt((1 - E^2) / N). Settings with no rounds give NaN.

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
        weights = EQUAL
        if confusion is not None:
            inverse = np.kron(np.linalg.inv(confusion[0]), np.linalg.inv(confusion[1]))
            weights = EQUAL @ inverse  # E_mitigated = weights . freq
        E = freq @ weights
        variance = (freq @ weights**2 - E**2) / n
        if isinstance(confusion, ReadoutConfusion):
            gradients = freq @ confusion.weight_gradients(EQUAL).T
            flips = confusion.flip_variances()
    return E, variance, gradients, flips


# ---------------------------------------------------------------------------------- CHSH
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


def chsh_orientation(expected_S: float) -> int:
    """-1 when the state and angles predict a negative S (fixed before looking at data), else +1.

    >>> chsh_orientation(-2.8), chsh_orientation(2.8)
    (-1, 1)
    """
    return -1 if expected_S < 0 else 1


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
    from scipy import stats  # imported on first use: scipy.stats takes about a second
    from scipy.special import logsumexp

    if rounds <= 0:
        return 1.0, 0.0, 1.0
    log_p = float(stats.binom.logsf(wins - 1, rounds, LOCAL_WIN_PROBABILITY))
    if not math.isfinite(log_p):  # far tail underflows: sum the (geometrically falling) terms
        k = np.arange(wins, min(rounds, wins + 20_000) + 1)
        log_p = float(logsumexp(stats.binom.logpmf(k, rounds, LOCAL_WIN_PROBABILITY)))
    excess = wins / rounds - LOCAL_WIN_PROBABILITY
    hoeffding = math.exp(-2 * rounds * excess**2) if excess > 0 else 1.0
    return math.exp(log_p), log_p / math.log(10), hoeffding


def violation_z_score(S: float, stderr: float, orientation: int = 1) -> float:
    """``(orientation * S - 2) / stderr``; +-inf (or 0 at exactly 2) when ``stderr`` is 0.

    >>> violation_z_score(2.5, 0.25), violation_z_score(-2.5, 0.25, -1), violation_z_score(2.5, 0.0)
    (2.0, 2.0, inf)
    """
    s = orientation * S
    if stderr > 0:
        return (s - CLASSICAL_BOUND) / stderr
    if s > CLASSICAL_BOUND:
        return math.inf
    return -math.inf if s < CLASSICAL_BOUND else 0.0


def normal_p_value(z: float) -> tuple[float, float]:
    """``(P[N(0,1) >= z], log10 of it)``: the normal-approximation p-value of a z-score (NaN stays NaN).

    >>> p, log10_p = normal_p_value(3.0)
    >>> round(p, 5), round(log10_p, 3)
    (0.00135, -2.87)
    """
    from scipy import stats

    if math.isnan(z):
        return math.nan, math.nan
    return float(stats.norm.sf(z)), float(stats.norm.logsf(z)) / math.log(10)


def chsh_lower_bound(counts: np.ndarray, S: float, failure: float) -> float:
    """Hoeffding lower confidence bound on S, clamped to [-4, 4] (-4 when S is unknown).

    Each correlator (in [-1, 1], n_i rounds) strays beyond sqrt(2 ln(4/failure) / n_i) on the
    side that lowers S with probability at most failure/4, so the bound fails with at most
    ``failure``.

    A failure budget of 0 (an eps so small that its square underflows) certifies nothing: -4.

    >>> round(chsh_lower_bound(np.full((4, 4), 2500), 2.8, 1e-6), 3)
    2.579
    >>> chsh_lower_bound(np.full((4, 4), 2500), 2.8, 0.0)
    -4.0
    """
    n = np.asarray(counts).sum(axis=1)
    if np.any(n == 0) or not math.isfinite(S) or not failure > 0:
        return -4.0
    low = S - float(np.sum(np.sqrt(2 * math.log(4 / failure) / n)))
    return min(4.0, max(-4.0, low))


@dataclass(frozen=True)
class ChshStatistics:
    """Everything a CHSH tally says: correlators, S (raw and mitigated), z-score, game p-values.

    ``S``, ``E`` and their errors are readout-mitigated when a calibration was given
    (``mitigated``); the ``_raw`` figures never are. ``z_score`` and ``p_value`` test the
    oriented ``S``; ``z_score_raw`` the oriented ``S_raw``. The game (``wins``, rigorous and
    Hoeffding p-values) always uses the raw outcomes: mitigation assumes a calibration, so it
    never enters the test of local realism.
    """

    counts: np.ndarray
    orientation: int
    E: np.ndarray
    E_stderr: np.ndarray
    E_raw: np.ndarray
    S: float
    S_stderr: float
    S_raw: float
    S_raw_stderr: float
    mitigated: bool
    z_score: float
    z_score_raw: float
    p_value: float
    log10_p_value: float
    rounds: int
    wins: int
    win_fraction: float
    p_value_rigorous: float
    log10_p_value_rigorous: float
    p_value_hoeffding: float

    @property
    def n(self) -> np.ndarray:
        """Rounds per setting pair."""
        return self.counts.sum(axis=1)


def analyse_chsh(
    counts: np.ndarray,
    signs: np.ndarray = CHSH_SIGNS,
    *,
    orientation: int = 1,
    confusion: tuple[np.ndarray, np.ndarray] | None = None,
) -> ChshStatistics:
    """The one CHSH analysis: a ``(4, 4)`` tally (setting pair, outcome code) to every figure.

    ``orientation`` (+-1, from :func:`chsh_orientation` of the predicted S) flips the z-score's
    and the game's signs; ``confusion`` mitigates readout (S, E and their errors).

    >>> counts = np.array([[5, 45, 45, 5], [45, 5, 5, 45], [5, 45, 45, 5], [5, 45, 45, 5]])
    >>> s = analyse_chsh(counts, orientation=-1)
    >>> round(s.S, 6), s.wins, round(s.z_score, 3)
    (-3.2, 360, 10.0)
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (4, 4):
        raise ValidationError(f"counts: expected shape (4 setting pairs, 4 codes), got {counts.shape}")
    if orientation not in (1, -1):
        raise ValidationError(f"orientation={orientation!r} is not valid: expected +1 or -1")
    signs = np.asarray(signs)
    E_raw, se_raw, S_raw, S_raw_stderr = chsh_statistic(counts, signs)
    if confusion is not None:
        E, se, S, S_stderr = chsh_statistic(counts, signs, confusion)
    else:
        E, se, S, S_stderr = E_raw, se_raw, S_raw, S_raw_stderr
    S, S_stderr, S_raw, S_raw_stderr = float(S), float(S_stderr), float(S_raw), float(S_raw_stderr)
    z = violation_z_score(S, S_stderr, orientation)
    p_normal, log10_p_normal = normal_p_value(z)
    rounds = int(counts.sum())
    wins = chsh_game_wins(counts, orientation * signs)
    p_rigorous, log10_p_rigorous, p_hoeffding = chsh_game_p_values(wins, rounds)
    return ChshStatistics(
        counts=counts,
        orientation=orientation,
        E=E,
        E_stderr=se,
        E_raw=E_raw,
        S=S,
        S_stderr=S_stderr,
        S_raw=S_raw,
        S_raw_stderr=S_raw_stderr,
        mitigated=confusion is not None,
        z_score=z,
        z_score_raw=violation_z_score(S_raw, S_raw_stderr, orientation),
        p_value=p_normal,
        log10_p_value=log10_p_normal,
        rounds=rounds,
        wins=wins,
        win_fraction=wins / rounds if rounds else math.nan,
        p_value_rigorous=p_rigorous,
        log10_p_value_rigorous=log10_p_rigorous,
        p_value_hoeffding=p_hoeffding,
    )
