"""Count rates, accidentals, noise parameters and the Ma-Fung-Lo cross-check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qentangle.errors import ValidationError
from qentangle.link.budget import from_db
from qentangle.link.detectors import Detectors
from qentangle.link.rates import coincidence_rates, expected_chsh, expected_qber, ma_fung_lo
from qentangle.link.source import PairSource
from qentangle.scenarios import load_scenario

TAU = 2.5e-9
ETA = np.array([1e-3, 5e-4, 2e-4])


def rates(pair_rate=5.9e6, eta_a=ETA, eta_b=ETA, noise_a=4000.0, noise_b=4000.0):
    return coincidence_rates(pair_rate, eta_a, eta_b, noise_a, noise_b, windows_per_second=1 / TAU)


def test_doubling_pair_rate_doubles_true_coincidences():
    one, two = rates(5.9e6), rates(11.8e6)
    np.testing.assert_allclose(two.coincidence_rate_hz, 2 * one.coincidence_rate_hz, rtol=1e-12)


def test_three_db_more_loss_on_one_link_halves_coincidences():
    base = rates()
    lossier = rates(eta_a=ETA * from_db(3.0))
    np.testing.assert_allclose(lossier.coincidence_rate_hz / base.coincidence_rate_hz,
                               from_db(3.0), rtol=1e-12)
    assert float(from_db(3.0)) == pytest.approx(0.5, rel=3e-3)


def test_accidentals_scale_with_the_product_of_singles():
    base = rates()
    np.testing.assert_allclose(base.accidental_rate_hz,
                               base.singles_a_hz * base.singles_b_hz * TAU, rtol=1e-12)
    doubled = rates(noise_a=2 * (4000.0 + 5.9e6 * ETA) - 5.9e6 * ETA)  # singles_a doubled
    np.testing.assert_allclose(doubled.singles_a_hz, 2 * base.singles_a_hz)
    np.testing.assert_allclose(doubled.accidental_rate_hz, 2 * base.accidental_rate_hz, rtol=1e-12)
    np.testing.assert_allclose(base.multipair_rate_hz, (5.9e6 * ETA) ** 2 * TAU, rtol=1e-12)


def test_singles_are_signal_plus_noise():
    r = rates(noise_a=100.0, noise_b=300.0)
    np.testing.assert_allclose(r.singles_a_hz, 5.9e6 * ETA + 100.0)
    np.testing.assert_allclose(r.singles_b_hz, 5.9e6 * ETA + 300.0)


def test_noise_parameters_reproduce_the_qber():
    r = rates()
    w = r.accidental_fraction
    np.testing.assert_allclose(w, r.accidental_rate_hz / (r.accidental_rate_hz + r.coincidence_rate_hz))
    v = 0.97
    # error counting: true pairs err with (1 - V)/2, accidentals with 1/2
    by_counts = (r.coincidence_rate_hz * (1 - v) / 2 + r.accidental_rate_hz / 2) / r.detected_rate_hz
    np.testing.assert_allclose(expected_qber(v, w), by_counts, rtol=1e-12)
    # Qiskit convention: depolarizing p then white-noise fraction w gives E = (1-p)(1-w)
    p = 1 - v
    np.testing.assert_allclose(expected_qber(v, w), (1 - (1 - p) * (1 - w)) / 2)
    np.testing.assert_allclose(expected_chsh(v, w), 2 * math.sqrt(2) * (1 - p) * (1 - w))


def test_misalignment_enters_as_cos_2delta():
    assert float(expected_qber(1.0, 0.0, 45.0)) == pytest.approx(0.5)
    assert float(expected_qber(1.0, 0.0, 10.0)) == pytest.approx(math.sin(math.radians(10)) ** 2)


@pytest.mark.parametrize("eta", [1e-3, 3e-4, 1e-4])
@pytest.mark.parametrize("noise_hz", [2000.0, 8000.0])
def test_expected_qber_agrees_with_ma_fung_lo_when_noise_dominates_multipairs(eta, noise_hz):
    # CW source: a coincidence window tau is one "pulse"; mu = B tau, y0 = noise * tau.
    # Regime where both models hold: mu, eta, y0 << 1 and multi-pair << dark/background.
    pair_rate, v = 2e6, 0.97
    r = coincidence_rates(pair_rate, eta, eta, noise_hz, noise_hz, windows_per_second=1 / TAU)
    ours = float(expected_qber(v, r.accidental_fraction))
    gain, mfl = ma_fung_lo(eta, eta, pair_rate * TAU, noise_hz * TAU, noise_hz * TAU, (1 - v) / 2)
    assert float(mfl) == pytest.approx(ours, rel=0.02)
    assert float(gain) / TAU == pytest.approx(float(r.detected_rate_hz), rel=0.02)


@pytest.mark.parametrize("name", ["micius-2017", "micius-2020"])
def test_preset_slices_agree_with_ma_fung_lo(name):
    """Every slice of a preset pass: our QBER and coincidence rate against Ma-Fung-Lo.

    CW source, a coincidence window tau as the pulse: mu = B tau, y0 = (dark + background) tau,
    e_d = (1 - V cos 2 delta) / 2. The models differ by terms of relative order mu (thermal
    multi-pair statistics, double clicks), so the tolerance is mu, here 1.5 %.
    """
    scenario = load_scenario(name)
    s = scenario.physics(accumulate=False)
    tau = scenario.detectors.coincidence_window_s
    mu = s.mean_pairs_per_window
    e_d = (1 - scenario.source.visibility * math.cos(2 * math.radians(scenario.link.misalignment_deg))) / 2
    gain, qber = ma_fung_lo(s.eta_a, s.eta_b, mu, s.noise_a_hz * tau, s.noise_b_hz * tau, e_d)
    assert 0.005 < mu < 0.05 and s.n_slices > 20
    np.testing.assert_allclose(qber, s.qber, rtol=mu)
    np.testing.assert_allclose(gain / tau, s.detected_rate_hz, rtol=mu)
    # the accidental part matters: without it MFL's QBER would be e_d, well outside the tolerance
    assert np.all(np.abs(qber - e_d) > mu * qber)


def test_ma_fung_lo_limits():
    # no noise at all: gain mu eta_a eta_b to first order, QBER e_d
    gain, qber = ma_fung_lo(0.1, 0.1, 1e-6, 0.0, 0.0, 0.02)
    assert float(gain) == pytest.approx(1e-6 * 0.01, rel=1e-4)
    assert float(qber) == pytest.approx(0.02, rel=1e-4)
    # only dark counts: QBER 1/2
    gain, qber = ma_fung_lo(0.1, 0.1, 0.0, 1e-4, 1e-4, 0.0)
    assert float(qber) == pytest.approx(0.5)


@settings(max_examples=200, deadline=None)
@given(
    pair_rate=st.floats(0.0, 1e9),
    eta_a=st.floats(0.0, 1.0),
    eta_b=st.floats(0.0, 1.0),
    noise_a=st.floats(0.0, 1e7),
    noise_b=st.floats(0.0, 1e7),
    visibility=st.floats(0.0, 1.0),
)
def test_property_qber_and_fractions_in_range(pair_rate, eta_a, eta_b, noise_a, noise_b, visibility):
    r = coincidence_rates(pair_rate, eta_a, eta_b, noise_a, noise_b, windows_per_second=1 / TAU)
    w = r.accidental_fraction
    assert 0.0 <= float(w) <= 1.0
    assert float(r.accidental_rate_hz) >= float(r.multipair_rate_hz) - 1e-9
    q = float(expected_qber(visibility, w))
    assert -1e-12 <= q <= 0.5 + 1e-12
    assert abs(float(expected_chsh(visibility, w))) <= 2 * math.sqrt(2) + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0 + 1e-9), st.just(math.nan)))
def test_property_bad_probabilities_are_rejected_with_the_key(value):
    with pytest.raises(ValidationError, match=r"source\.visibility"):
        PairSource(visibility=value)
    with pytest.raises(ValidationError, match=r"detectors\.efficiency"):
        Detectors(efficiency=value)


def test_rate_inputs_validated():
    with pytest.raises(ValidationError, match="eta_a"):
        coincidence_rates(1e6, 1.5, 0.1, 0.0, 0.0, windows_per_second=1e9)
    with pytest.raises(ValidationError, match="pair_rate_hz"):
        coincidence_rates(-1.0, 0.1, 0.1, 0.0, 0.0, windows_per_second=1e9)


def test_pulsed_source_windows():
    pulsed = PairSource(pair_rate_hz=1e6, rep_rate_hz=1e8)
    assert pulsed.mean_pairs_per_window(TAU) == pytest.approx(0.01)
    cw = PairSource(pair_rate_hz=1e6)
    assert cw.windows_per_second(TAU) == pytest.approx(4e8)
