"""Readout mitigation: the calibration's own sampling error in the mitigated S (delta method)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.analysis import (
    CHSH_SIGNS,
    ReadoutConfusion,
    chsh_statistic,
    confusion_from_counts,
    correlator_stats,
)

EQUAL = np.array([1.0, -1.0, -1.0, 1.0])
FLIPS = ((0.04, 0.07), (0.05, 0.03))  # (P(1|0), P(0|1)) of Alice and Bob


def _readout(flips) -> np.ndarray:
    p01, p10 = flips
    return np.array([[1 - p01, p10], [p01, 1 - p10]])  # M[read, true]


def _distributions() -> tuple[np.ndarray, np.ndarray]:
    """Read-out distributions of the four CHSH settings (visibility 0.9) and the four calibrations."""
    ideal = np.array([[1 + v, 1 - v, 1 - v, 1 + v] for v in 0.9 * np.array([1, -1, 1, 1]) / math.sqrt(2)]) / 4
    joint = np.kron(_readout(FLIPS[0]), _readout(FLIPS[1]))  # [read code, true code]
    return ideal @ joint.T, np.eye(4) @ joint.T


def test_weight_gradients_match_finite_differences():
    m_a, m_b = _readout(FLIPS[0]), _readout(FLIPS[1])
    confusion = ReadoutConfusion(m_a, m_b, np.full((2, 2), 1000))
    gradients = confusion.weight_gradients(EQUAL)

    def weights(flips):
        matrices = [_readout(f) for f in flips]
        return EQUAL @ np.kron(np.linalg.inv(matrices[0]), np.linalg.inv(matrices[1]))

    h = 1e-6
    for k in range(4):
        shifted = [list(FLIPS[0]), list(FLIPS[1])]
        shifted[k // 2][k % 2] += h
        numeric = (weights(shifted) - weights(FLIPS)) / h
        assert numeric == pytest.approx(gradients[k], abs=1e-4)


def test_confusion_counts_its_calibration_shots():
    counts = np.array([[90, 5, 4, 1], [3, 95, 0, 2], [6, 0, 92, 2], [0, 5, 3, 92]])
    confusion = confusion_from_counts(counts)
    m_a, m_b = confusion  # still unpacks as the pair of matrices
    assert confusion.shots.tolist() == [[200, 200], [200, 200]]
    assert m_a[1, 0] == pytest.approx((4 + 1 + 0 + 2) / 200)  # Alice read 1, prepared 0: |00>, |01>
    assert m_b[0, 1] == pytest.approx((3 + 0 + 0 + 3) / 200)  # Bob read 0, prepared 1: |01>, |11>
    assert np.all(confusion.flip_variances() > 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mitigated_S_stderr_includes_the_calibration(seed):
    """Few calibration shots, many setting shots: the calibration dominates S's error.

    Over R simulated runs the spread of the mitigated S must match the mean reported standard
    error within 4 standard errors of a sample standard deviation (relative 1/sqrt(2R)), and
    the settings-only error must fall well short of it.
    """
    rng = np.random.default_rng(seed)
    settings, calibrations = _distributions()
    runs, shots, cal_shots = 1500, 20_000, 500
    S, reported, settings_only = np.empty(runs), np.empty(runs), np.empty(runs)
    for r in range(runs):
        counts = np.array([rng.multinomial(shots, p) for p in settings])
        confusion = confusion_from_counts(np.array([rng.multinomial(cal_shots, p) for p in calibrations]))
        _, _, S[r], reported[r] = chsh_statistic(counts, CHSH_SIGNS, confusion)
        _, se = correlator_stats(counts, (confusion[0], confusion[1]))  # plain tuple: no calibration error
        settings_only[r] = math.sqrt(float(np.sum(se**2)))
    spread = S.std(ddof=1)
    assert abs(spread / reported.mean() - 1) < 4 / math.sqrt(2 * runs)
    assert settings_only.mean() < 0.8 * spread
    assert abs(S.mean() - 0.9 * 2 * math.sqrt(2)) < 4 * spread / math.sqrt(runs)  # unbiased to first order
