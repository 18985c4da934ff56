"""Clock synchronisation on the lab preset: offsets up to +-1 s, drifts up to +-10 ppm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.scenarios.timetags import click_model
from qentangle.timetags.coincidences import ClockModel, find_coincidences
from qentangle.timetags.streams import simulate_clicks
from qentangle.timetags.sync import SyncError, synchronize

SIGMAS = 4.0
CASES = [(1.0, 10.0, 1), (-1.0, -10.0, 2), (1.0, -10.0, 3), (-1.0, 10.0, 4), (0.37, 3.3, 5), (-0.002, 0.0, 6)]


def _expected_counts(setup, window_ps: float) -> float:
    """True pairs inside the window plus accidentals R_A R_B tau, with dead-time losses."""
    model = setup.model
    rates = model.expected_rates()
    duration = float(model.link.duration_s.sum())
    dead = model.alice.detectors.dead_time_ns * 1e-9
    n_det = model.alice.detector_map.detectors
    live_a = 1 / (1 + rates["singles_a_hz"][0] / n_det * dead)
    live_b = 1 / (1 + rates["singles_b_hz"][0] / n_det * dead)
    r_a, r_b = rates["singles_a_hz"][0] * live_a, rates["singles_b_hz"][0] * live_b
    sigma = math.sqrt(
        2 * model.alice.detectors.jitter_ps**2 + 2 * model.alice.detectors.resolution_ps**2 / 12
    )
    inside = math.erf(window_ps / 2 / (sigma * math.sqrt(2)))
    true = rates["pairs_hz"][0] * live_a * live_b * inside
    return (true + r_a * r_b * window_ps * 1e-12) * duration


@pytest.mark.parametrize(("offset_s", "drift_ppm", "seed"), CASES)
def test_offset_and_drift_are_recovered_within_the_jitter(offset_s, drift_ppm, seed):
    setup = click_model("lab", offset_s=offset_s, drift_ppm=drift_ppm, duration_s=1.0)
    a, b = simulate_clicks(setup.model, seed)
    result = synchronize(a.times_ps, b.times_ps, max_offset_s=1.0, max_drift_ppm=10.0)
    jitter = setup.model.alice.detectors.jitter_ps
    assert abs(result.offset_s - offset_s) * 1e12 <= jitter, result
    # the drift error moves the peak by less than the jitter over the whole stream
    assert abs(result.drift_ppm - drift_ppm) * 1e-6 * b.times_ps[-1] <= jitter, result
    window = setup.window_s * 1e12
    found = find_coincidences(a.times_ps, b.times_ps, result.model, window)
    expected = _expected_counts(setup, window)
    assert abs(len(found) - expected) <= SIGMAS * math.sqrt(expected), (len(found), expected)
    rates = setup.model.expected_rates()
    accidentals = rates["singles_a_hz"][0] * rates["singles_b_hz"][0] * window * 1e-12 * 1.0  # R_A R_B tau T
    assert abs(found.accidentals - accidentals) <= SIGMAS * max(found.accidentals_stderr, 0.5)


def test_unrelated_streams_do_not_synchronise():
    one = click_model("lab", duration_s=0.5)
    a, _ = simulate_clicks(one.model, 1)
    _, b = simulate_clicks(one.model, 2)  # Bob's stream of another run: no shared pairs
    with pytest.raises(SyncError, match="no significant"):
        synchronize(a.times_ps, b.times_ps)


def test_path_difference_is_removed_before_the_clock_model():
    model = ClockModel(0.5, 2.0, path_difference=lambda b: np.full(np.shape(b), 1e6))
    a = np.array([10**12, 2 * 10**12])
    b = np.rint(model.to_bob_ps(a.astype(float)) + 1e6).astype(np.int64)
    assert np.abs(model.to_alice(b) - a).max() <= 1
