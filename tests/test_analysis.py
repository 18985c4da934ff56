"""Counts to statistics: correlators, QBER, S, the CHSH game, orientation and readout inversion.

Exact identities on hand-made tallies, closed forms of sampled multinomial tallies over several
seeds (within 4 standard errors), and the old homes of every moved name.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qentangle import analysis
from qentangle.analysis import (
    CHSH_SIGNS,
    ReadoutConfusion,
    analyse_chsh,
    chsh_game_p_values,
    chsh_game_wins,
    chsh_lower_bound,
    chsh_orientation,
    chsh_statistic,
    codes_from_counts,
    confusion_from_counts,
    correlator,
    correlator_stats,
    mitigated_probabilities,
    normal_p_value,
    qber_stats,
    tally,
    violation_z_score,
)
from qentangle.errors import ValidationError

SEEDS = (11, 22, 33)
TSIRELSON = 2 * math.sqrt(2)


def _werner_distributions(visibility: float, signs=CHSH_SIGNS) -> np.ndarray:
    """Joint probabilities (4 settings, 4 codes) of a Werner pair at the optimal CHSH angles."""
    E = visibility * np.asarray(signs) / math.sqrt(2)
    return np.array([[1 + e, 1 - e, 1 - e, 1 + e] for e in E]) / 4


def _readout(p01: float, p10: float) -> np.ndarray:
    return np.array([[1 - p01, p10], [p01, 1 - p10]])


# ------------------------------------------------------------------------ outcomes and tallies
def test_tally_matches_a_loop_over_rounds():
    rng = np.random.default_rng(0)
    index, codes = rng.integers(0, 4, 1000), rng.integers(0, 4, 1000).astype(np.uint8)
    expected = np.zeros((4, 4), dtype=int)
    for i, c in zip(index, codes, strict=True):
        expected[i, c] += 1
    assert tally(index, codes).tolist() == expected.tolist()
    assert tally(index, codes, 6).shape == (6, 4)


def test_codes_from_counts_swaps_qiskit_bit_order():
    assert codes_from_counts(np.arange(4)).tolist() == [0, 2, 1, 3]
    assert codes_from_counts(codes_from_counts(np.arange(4))).tolist() == [0, 1, 2, 3]


def test_correlator_stats_without_rounds_is_nan():
    E, se = correlator_stats(np.array([[0, 0, 0, 0], [3, 0, 0, 1]]))
    assert math.isnan(E[0]) and E[1] == 1.0 and se[1] == 0.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("visibility", [0.6, 0.9, 1.0])
def test_S_and_its_stderr_from_sampled_tallies(seed, visibility):
    rng = np.random.default_rng(seed)
    p = _werner_distributions(visibility)
    counts = np.array([rng.multinomial(5_000, row) for row in p])
    E, se, S, S_se = chsh_statistic(counts)
    assert np.allclose(se, np.sqrt((1 - E**2) / 5_000))
    assert S_se == pytest.approx(math.sqrt(float(np.sum(se**2))))
    assert abs(S - TSIRELSON * visibility) <= 4 * max(S_se, 1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_qber_stats_of_both_signs(seed):
    rng = np.random.default_rng(seed)
    q = 0.07
    equal = rng.multinomial(20_000, [(1 - q) / 2, q / 2, q / 2, (1 - q) / 2])
    rate, se = qber_stats(equal)
    assert abs(rate - q) <= 4 * se and se == pytest.approx(math.sqrt(q * (1 - q) / 20_000), rel=0.05)
    opposite = equal[[1, 0, 3, 2]]  # Bob's bit flipped: anti-correlated basis
    assert qber_stats(opposite, sign=-1.0)[0] == pytest.approx(rate)


# ------------------------------------------------------------------------ readout
@given(
    flips=st.tuples(*[st.floats(0.0, 0.3)] * 4),
    weights=st.lists(st.integers(1, 1000), min_size=4, max_size=4),
)
def test_mitigation_inverts_the_confusion_exactly(flips, weights):
    true = np.array(weights, float) / sum(weights)
    m_a, m_b = _readout(*flips[:2]), _readout(*flips[2:])
    read = np.kron(m_a, m_b) @ true  # codes 2 * bit_a + bit_b: Alice is the major index
    assert np.allclose(mitigated_probabilities(read * 1e6, (m_a, m_b))[0], true, atol=1e-9)
    E, _ = correlator_stats(read * 1e6, (m_a, m_b))
    assert float(E) == pytest.approx(float(correlator(true)), abs=1e-9)


def test_confusion_from_counts_marginalises_the_other_endpoint():
    m_a, m_b = _readout(0.04, 0.07), _readout(0.05, 0.03)
    prepared = np.eye(4)  # |00>, |01>, |10>, |11> as codes
    counts = 10_000 * (np.kron(m_a, m_b) @ prepared).T  # [prepared, read code]
    confusion = confusion_from_counts(counts)
    assert isinstance(confusion, ReadoutConfusion)
    assert np.allclose(confusion[0], m_a) and np.allclose(confusion[1], m_b)
    assert confusion.shots.tolist() == [[20_000, 20_000], [20_000, 20_000]]
    with pytest.raises(ValidationError, match="singular"):
        confusion_from_counts(np.full((4, 4), 10.0))


# ------------------------------------------------------------------------ the one CHSH analysis
@pytest.mark.parametrize("seed", SEEDS)
def test_analyse_chsh_agrees_with_its_parts(seed):
    rng = np.random.default_rng(seed)
    counts = np.array([rng.multinomial(2_000, row) for row in _werner_distributions(0.8)])
    s = analyse_chsh(counts)
    E, se, S, S_se = chsh_statistic(counts)
    assert np.allclose(s.E, E) and np.allclose(s.E_stderr, se)
    assert s.S == pytest.approx(float(S)) and s.S_stderr == pytest.approx(float(S_se))
    assert s.S_raw == s.S and not s.mitigated and s.orientation == 1
    assert s.z_score == pytest.approx((s.S - 2) / s.S_stderr)
    assert s.p_value == pytest.approx(normal_p_value(s.z_score)[0])
    assert s.wins == chsh_game_wins(counts) and s.rounds == 8_000
    assert s.win_fraction == pytest.approx(0.5 + s.S / 8, abs=0.02)  # equal N_i: w = 1/2 + S/8
    assert (s.p_value_rigorous, s.log10_p_value_rigorous, s.p_value_hoeffding) == chsh_game_p_values(
        s.wins, s.rounds
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_orientation_makes_a_mirrored_tally_equivalent(seed):
    rng = np.random.default_rng(seed)
    counts = np.array([rng.multinomial(2_000, row) for row in _werner_distributions(0.85)])
    mirrored = counts[:, [1, 0, 3, 2]]  # Bob flips every outcome: every E and S change sign
    plain, flipped = analyse_chsh(counts), analyse_chsh(mirrored, orientation=-1)
    assert flipped.S == pytest.approx(-plain.S) and flipped.S_stderr == pytest.approx(plain.S_stderr)
    assert flipped.z_score == pytest.approx(plain.z_score) and flipped.wins == plain.wins
    assert flipped.p_value_rigorous == plain.p_value_rigorous
    assert analyse_chsh(mirrored).z_score < -10  # un-oriented: no violation found
    assert chsh_orientation(-0.1) == -1 and chsh_orientation(0.0) == 1


def test_mitigation_moves_S_but_never_the_game():
    m_a, m_b = _readout(0.06, 0.02), _readout(0.03, 0.08)
    read = _werner_distributions(0.9) @ np.kron(m_a, m_b).T
    counts = np.round(read * 100_000).astype(int)
    confusion = ReadoutConfusion(m_a, m_b, np.full((2, 2), 10**6))
    mitigated, raw = analyse_chsh(counts, confusion=confusion), analyse_chsh(counts)
    assert mitigated.mitigated and mitigated.S_raw == raw.S
    assert mitigated.S == pytest.approx(0.9 * TSIRELSON, abs=2e-3) and mitigated.S > raw.S
    assert mitigated.S_stderr > raw.S_stderr  # calibration error and the inversion's gain
    assert mitigated.wins == raw.wins and mitigated.p_value_rigorous == raw.p_value_rigorous
    assert mitigated.z_score_raw == raw.z_score


def test_z_score_edge_cases():
    assert violation_z_score(2.5, 0.0) == math.inf
    assert violation_z_score(1.5, 0.0) == -math.inf
    assert violation_z_score(2.0, 0.0) == 0.0
    assert violation_z_score(-2.5, 0.0, -1) == math.inf
    assert all(math.isnan(x) for x in normal_p_value(math.nan))
    perfect = np.array([[10, 0, 0, 10], [0, 10, 10, 0], [10, 0, 0, 10], [10, 0, 0, 10]])
    s = analyse_chsh(perfect)
    assert s.S == 4.0 and s.z_score == math.inf and s.p_value == 0.0


def test_analyse_chsh_rejects_bad_input():
    with pytest.raises(ValidationError, match="counts"):
        analyse_chsh(np.zeros((3, 4)))
    with pytest.raises(ValidationError, match="orientation"):
        analyse_chsh(np.ones((4, 4)), orientation=0)


# ------------------------------------------------------------------------ p-values and bounds
@given(rounds=st.integers(1, 5_000), fraction=st.floats(0, 1))
def test_binomial_p_value_is_below_the_hoeffding_bound(rounds, fraction):
    wins = round(rounds * fraction)
    p, log10_p, hoeffding = chsh_game_p_values(wins, rounds)
    assert 0 <= p <= hoeffding * (1 + 1e-9) + 1e-300
    assert p <= 1 and log10_p <= 1e-12


def test_far_tail_log_p_value_does_not_underflow():
    p, log10_p, _ = chsh_game_p_values(85_000, 100_000)
    assert p == 0.0 and -2000 < log10_p < -1000


def test_s_lower_bound_is_clamped():
    counts = np.full((4, 4), 1)
    assert chsh_lower_bound(counts, 2.5, 1e-20) == -4.0
    assert chsh_lower_bound(np.zeros((4, 4)), math.nan, 1e-20) == -4.0
    big = np.full((4, 4), 10**12)
    assert chsh_lower_bound(big, 2.8, 1e-20) == pytest.approx(2.8, abs=1e-3)


def test_s_lower_bound_holds_at_its_failure_rate():
    # 2000 tallies of a Werner pair: the bound at failure 0.05 must exceed the true S rarely.
    rng = np.random.default_rng(5)
    p = _werner_distributions(0.8)
    true_S = 0.8 * TSIRELSON
    misses = 0
    for _ in range(2_000):
        counts = np.array([rng.multinomial(500, row) for row in p])
        misses += chsh_lower_bound(counts, float(chsh_statistic(counts)[2]), 0.05) > true_S
    assert misses / 2_000 <= 0.05


# ------------------------------------------------------------------------ old homes (one release)
def test_moved_names_are_reexported_from_their_old_homes():
    from qentangle import engines
    from qentangle.ibm import mitigation
    from qentangle.protocols import chsh

    for name in ("CHSH_SIGNS", "chsh_statistic", "chsh_game_wins", "chsh_game_p_values",
                 "correlator_stats", "qber_stats", "CLASSICAL_BOUND", "TSIRELSON_BOUND"):
        assert getattr(chsh, name) is getattr(analysis, name)
    assert engines.correlator is analysis.correlator
    assert engines.codes_from_counts is analysis.codes_from_counts
    for name in ("ReadoutConfusion", "confusion_from_codes", "confusion_from_counts",
                 "mitigated_probabilities", "CALIBRATION_STATES"):
        assert getattr(mitigation, name) is getattr(analysis, name)


def test_chsh_lower_bound_with_an_underflowed_failure_budget_certifies_nothing():
    """A budget of 0 (eps so small that (eps/2)^2 underflows) gives -4, never a division by zero;
    eps below the declared floor is refused before any budget is formed."""
    import pytest

    from qentangle.analysis import chsh_lower_bound
    from qentangle.distill.estimate import EPS_FLOOR, phase_error_failure
    from qentangle.errors import ValidationError

    assert chsh_lower_bound(np.full((4, 4), 2500), 2.8, 0.0) == -4.0
    with pytest.raises(ValidationError, match="eps_sec"):
        phase_error_failure(1e-200, estimates=2)
    assert phase_error_failure(EPS_FLOOR, estimates=2) > 0.0
