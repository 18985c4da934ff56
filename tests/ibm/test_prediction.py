"""From error figures to our own noise description and the S/QBER it predicts."""

from __future__ import annotations

import math

import pytest

from qentangle.ibm.layout import PairErrors
from qentangle.ibm.prediction import noise_from_errors, predict

FIGURES = PairErrors((0, 1), "ecr", 0.0075, (0.0004, 0.0002), ((0.01, 0.02), (0.015, 0.015)))


def test_noise_mapping():
    noise = noise_from_errors(FIGURES, (2, 3))
    assert noise.depolarizing == pytest.approx(4 / 3 * 0.0075)
    assert noise.depolarizing_a == pytest.approx(1 - (1 - 2 * 0.0004) ** 2)
    assert noise.depolarizing_b == pytest.approx(1 - (1 - 2 * 0.0002) ** 3)
    assert noise.readout_a == (0.01, 0.02) and noise.readout_b == (0.015, 0.015)
    assert not noise_from_errors(FIGURES, readout=False).has_readout_error


@pytest.mark.parametrize("state", ["phi+", "phi-", "psi+", "psi-"])
def test_prediction_matches_closed_form_and_bands_are_ordered(state):
    p = predict(FIGURES, state, (2, 3))
    closed = 2 * math.sqrt(2) * FIGURES.visibility((2, 3))
    assert p.S == pytest.approx(closed, rel=1e-9)
    assert p.S_low < p.S < p.S_high < p.S_mitigated_high <= 2 * math.sqrt(2) + 1e-12
    assert p.S_mitigated_low < p.S_mitigated < p.S_mitigated_high
    assert 0 < p.qber_z < 0.1 and 0 < p.qber_x < 0.1
    low, high = p.interval(0.01)
    assert low == pytest.approx(p.S_low - 0.03) and high == pytest.approx(p.S_high + 0.03)


def test_perfect_pair_predicts_tsirelson():
    perfect = PairErrors((0, 1), "cz", 0.0, (0.0, 0.0), ((0.0, 0.0), (0.0, 0.0)))
    p = predict(perfect)
    assert p.S == pytest.approx(2 * math.sqrt(2)) and p.S_low == pytest.approx(2 * math.sqrt(2))
    assert p.qber_z == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("state", ["phi+", "psi-"])
def test_prediction_equals_aers_exact_distributions(state, exact_engine):
    """The prediction is the closed form (qentangle.theory); Aer's exact engine agrees with it."""
    from qentangle.analysis import correlator, qber_stats
    from qentangle.pairs import PairSetup
    from qentangle.states import optimal_chsh_angles

    p = predict(FIGURES, state, (2, 3))
    a, a2, b, b2 = optimal_chsh_angles(state)
    setup = PairSetup(state, p.noise)
    E = correlator(exact_engine.distributions(setup, [(a, b), (a, b2), (a2, b), (a2, b2)]))
    assert p.S == pytest.approx(float(E[0] - E[1] + E[2] + E[3]), abs=1e-9)
    sign = 1.0 if state.startswith("phi") else -1.0
    z = exact_engine.distributions(setup, [(0.0, 0.0)])[0] * 1e9
    assert p.qber_z == pytest.approx(float(qber_stats(z, sign)[0]), abs=1e-9)
