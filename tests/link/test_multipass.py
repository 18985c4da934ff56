"""Multi-pass keys: the finite-key rate rises towards the closed-form asymptotic rate."""

from __future__ import annotations

import itertools
import math

import pytest

from qentangle.errors import ValidationError
from qentangle.scenarios.multipass import (
    asymptotic_key_rate,
    key_rate_curve,
    pass_duration_s,
    run_passes,
    save_key_rate_figure,
    with_passes,
)


def _h(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


@pytest.fixture(scope="module")
def curve():
    return key_rate_curve("micius-2020", (1, 4, 16, 64, 256, 1024, 4096, 16384))


def test_finite_key_rate_rises_monotonically_towards_the_asymptotic_rate(curve):
    rates = [p.finite_rate_bps for p in curve]
    assert all(b >= a for a, b in itertools.pairwise(rates))
    positive = [r for r in rates if r > 0]
    assert all(b > a for a, b in itertools.pairwise(positive))
    assert rates[2] > 0  # 16 passes (~1.5 h of data) give a key
    assert all(p.finite_rate_bps < p.asymptotic_rate_bps for p in curve)
    assert [p.sifted_bits for p in curve] == sorted(p.sifted_bits for p in curve)


def test_the_limit_is_the_closed_form_asymptotic_rate(curve):
    """R_inf = R_sift (1 - f h(Q) - h(Q)), f = 1.19; the deficit falls like 1/sqrt(n)."""
    last = curve[-1]
    sifted_rate = last.sifted_bits / last.data_time_s
    closed = sifted_rate * (1 - 1.19 * _h(last.qber) - _h(last.qber))
    assert last.asymptotic_rate_bps == pytest.approx(closed, rel=1e-3)
    assert last.finite_rate_bps == pytest.approx(closed, rel=0.03)
    deficits = {p.passes: p.asymptotic_rate_bps - p.finite_rate_bps for p in curve}
    assert deficits[1024] / deficits[4096] == pytest.approx(2.0, rel=0.15)
    assert deficits[4096] / deficits[16384] == pytest.approx(2.0, rel=0.15)
    assert asymptotic_key_rate(1.1, 0.045) == pytest.approx(1.1 * (1 - 2.19 * _h(0.045)))
    assert asymptotic_key_rate(1.1, 0.2) == 0.0


def test_passes_set_the_data_time_and_are_validated():
    one = pass_duration_s("micius-2020")
    assert 200.0 < one < 600.0
    assert with_passes("micius-2020", 3).protocol.data_time_s == pytest.approx(3 * one)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValidationError, match="passes"):
            with_passes("micius-2020", bad)
    with pytest.raises(ValidationError, match="bbm92"):
        key_rate_curve("micius-2017", (1,))


@pytest.mark.timeout(120)
def test_simulated_passes_accumulate_before_distilling(tmp_path):
    one = run_passes("micius-2020", 1, seed=5).to_dict()
    many = run_passes("micius-2020", 16, seed=5).to_dict()
    assert many["duration_s"] == pytest.approx(16 * one["duration_s"])
    assert many["passes"] == 16 and one["final_key_bits"] == 0 < many["final_key_bits"]
    expected = 16 * one["expected"]["sifted_rate_hz"] * one["duration_s"]
    assert abs(many["sifted_bits"] - expected) <= 5 * math.sqrt(expected)
    path = save_key_rate_figure(key_rate_curve("micius-2020", (4, 16, 64)), tmp_path / "rate.png")
    assert path.stat().st_size > 0
