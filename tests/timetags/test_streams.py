"""Click streams against closed forms, over several seeds, within 4 standard errors.

Rates are in Hz, times in ps. R_A, R_B are singles rates (pairs detected at one station plus
dark counts and background), tau a window width, B the pair rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.timetags.coincidences import ClockModel, accidentals, count_pairs, match
from qentangle.timetags.streams import (
    ClickModel,
    DetectorModel,
    StationModel,
    dead_time_mask,
    relative_clocks,
    simulate_clicks,
)

SEEDS = (11, 22, 33)
SIGMAS = 4.0


def _model(
    *,
    pair_rate,
    eta,
    background,
    duration,
    jitter_ps=0.0,
    dead_ns=0.0,
    dark=0.0,
    resolution=1,
    afterpulse=0.0,
    offset=0.0,
    drift=0.0,
):
    det = DetectorModel(
        dark_count_hz=dark,
        jitter_ps=jitter_ps,
        dead_time_ns=dead_ns,
        resolution_ps=resolution,
        afterpulse_probability=afterpulse,
    )
    clock_a, clock_b = relative_clocks(offset, drift)
    return ClickModel.constant(
        pair_rate_hz=pair_rate,
        eta_a=eta,
        eta_b=eta,
        duration_s=duration,
        background_a_hz=background,
        background_b_hz=background,
        alice=StationModel("alice", detectors=det, clock=clock_a),
        bob=StationModel("bob", detectors=det, clock=clock_b),
    )


def _within(observed, expected, stderr, what):
    assert abs(observed - expected) <= SIGMAS * stderr, (
        f"{what}: {observed} vs {expected} ({(observed - expected) / stderr:.1f} standard errors)"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_singles_accidentals_true_pairs_and_car(seed):
    """Singles R = B eta + noise; off-peak pairs R_A R_B tau T; peak minus accidentals B eta^2 T."""
    b, eta, noise, duration, dark = 2e5, 0.05, 2e4, 2.0, 25.0
    model = _model(pair_rate=b, eta=eta, background=noise, duration=duration, jitter_ps=50.0, dark=dark)
    a, bob = simulate_clicks(model, seed)
    singles = b * eta + noise + 4 * dark
    for clicks in (a, bob):
        _within(len(clicks), singles * duration, math.sqrt(singles * duration), "singles")
    times_b = ClockModel().to_alice(bob.times_ps)
    wide = 1e6  # a 1 us window far off the peak
    off = count_pairs(a.times_ps, times_b, 5e6, 5e6 + wide)
    expected_acc = singles**2 * wide * 1e-12 * duration
    _within(off, expected_acc, math.sqrt(expected_acc), "accidentals R_A R_B tau")
    window = 2000.0  # 2 ns around the peak: every true pair (jitter 70 ps rms)
    peak = count_pairs(a.times_ps, times_b, -window / 2, window / 2)
    acc, acc_err, _ = accidentals(a.times_ps, times_b, window)
    true = b * eta * eta * duration
    _within(peak - acc, true, math.sqrt(peak + acc_err**2), "true coincidences")
    car_expected = (b * eta * eta) / (singles**2 * window * 1e-12)
    car = (peak - acc) / acc
    car_err = car * math.sqrt(peak / (peak - acc) ** 2 + (acc_err / acc) ** 2)
    _within(car, car_expected, car_err, "CAR")


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_pair_emission_gives_accidentals_without_noise(seed):
    """No dark counts, no background: accidentals come from two pairs, (B eta_a)(B eta_b) tau."""
    b, eta, duration = 1e6, 0.1, 0.5
    model = _model(pair_rate=b, eta=eta, background=0.0, duration=duration)
    a, bob = simulate_clicks(model, seed)
    tau = 2e5  # 200 ns off-peak window
    off = count_pairs(a.times_ps, ClockModel().to_alice(bob.times_ps), 1e6, 1e6 + tau)
    expected = (b * eta) ** 2 * tau * 1e-12 * duration
    _within(off, expected, math.sqrt(expected), "multi-pair accidentals")


@pytest.mark.parametrize("seed", SEEDS)
def test_dead_time_loss_is_non_paralysable(seed):
    """Each detector records R / (1 + R tau_d) of a Poisson rate R."""
    rate_per_detector, dead_ns, duration = 2e6, 100.0, 0.05
    model = _model(
        pair_rate=0.0, eta=0.0, background=4 * rate_per_detector, duration=duration, dead_ns=dead_ns
    )
    a, _ = simulate_clicks(model, seed, epoch_s=0.01)
    recorded = rate_per_detector / (1 + rate_per_detector * dead_ns * 1e-9)
    expected = 4 * recorded * duration
    _within(len(a), expected, math.sqrt(expected), "dead-time loss")
    for k in range(4):  # no two recorded clicks of one detector closer than the dead time
        own = a.times_ps[a.patterns == 1 << k]
        assert np.diff(own).min() >= dead_ns * 1e3


def test_dead_time_mask_matches_a_sequential_detector():
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, 10**7, 20_000))
    detectors = rng.integers(0, 3, times.size)
    dead = 3000
    keep = dead_time_mask(times, detectors, dead, np.full(3, -(10**12)))
    last = {0: -(10**12), 1: -(10**12), 2: -(10**12)}
    reference = []
    for t, d in zip(times.tolist(), detectors.tolist(), strict=True):  # the slow reference
        ok = t - last[d] >= dead
        reference.append(ok)
        if ok:
            last[d] = t
    assert keep.tolist() == reference


@pytest.mark.parametrize("seed", SEEDS)
def test_jitter_sets_the_width_of_the_coincidence_peak(seed):
    """Peak rms = sqrt(sigma_a^2 + sigma_b^2 + 2 r^2 / 12) for Gaussian jitter and tagger bin r."""
    jitter, resolution = 200.0, 125
    model = _model(
        pair_rate=2e5, eta=0.1, background=100.0, duration=1.0, jitter_ps=jitter, resolution=resolution
    )
    a, bob = simulate_clicks(model, seed)
    _, _, dt = match(a.times_ps, ClockModel().to_alice(bob.times_ps), 3000.0)
    expected = math.sqrt(2 * jitter**2 + 2 * resolution**2 / 12)
    measured = float(np.std(dt))
    _within(measured, expected, expected / math.sqrt(2 * dt.size), "peak width")


@pytest.mark.parametrize("seed", SEEDS)
def test_dark_counts_and_background_without_pairs(seed):
    model = _model(pair_rate=0.0, eta=0.0, background=5e4, duration=1.0, dark=1e3)
    a, _ = simulate_clicks(model, seed)
    expected = 5e4 + 4 * 1e3
    _within(len(a), expected, math.sqrt(expected), "dark + background")
    per_detector = np.bincount(np.log2(a.patterns).astype(int), minlength=4)
    for count in per_detector:  # spread evenly over the four detectors
        _within(count, expected / 4, math.sqrt(expected / 4), "per detector")


@pytest.mark.parametrize("seed", SEEDS)
def test_afterpulses_add_their_probability(seed):
    rate, p = 1e5, 0.05
    model = _model(pair_rate=0.0, eta=0.0, background=rate, duration=1.0, afterpulse=p, dead_ns=10.0)
    a, _ = simulate_clicks(model, seed)
    expected = rate * (1 + p)
    _within(len(a), expected, math.sqrt(expected), "afterpulses")


def test_streams_are_sorted_and_identical_for_one_seed():
    model = _model(
        pair_rate=1e5,
        eta=0.2,
        background=1e3,
        duration=1.0,
        jitter_ps=500.0,
        dead_ns=50.0,
        resolution=125,
        offset=-0.3,
        drift=5.0,
    )
    first = simulate_clicks(model, 4, epoch_s=0.1)
    again = simulate_clicks(model, 4, epoch_s=0.1)
    for x, y in zip(first, again, strict=True):
        assert np.all(np.diff(x.times_ps) >= 0) and np.array_equal(x.times_ps, y.times_ps)
        assert x.times_ps.min() > 0 and np.all(x.times_ps % 125 == 0)
