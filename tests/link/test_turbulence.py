"""Turbulence on a downlink against closed forms and independent quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from qentangle.errors import ValidationError
from qentangle.link.budget import airmass, field_of_view_efficiency
from qentangle.link.stations import GroundStation
from qentangle.link.turbulence import (
    Turbulence,
    field_stop_efficiency,
    fried_parameter,
    hufnagel_valley,
    hv_moment,
    lognormal_fading,
    scintillation_index,
    seeing_fwhm_rad,
    spot_fwhm_rad,
    tilt_rms_rad,
)
from qentangle.scenarios import load_scenario
from qentangle.scenarios.loader import apply_overrides


def _hv(h, a, v):
    """Hufnagel-Valley, written out again (Andrews & Phillips eq. 12.1)."""
    return 0.00594 * (v / 27) ** 2 * (1e-5 * h) ** 10 * math.exp(-h / 1000) + 2.7e-16 * math.exp(
        -h / 1500
    ) + a * math.exp(-h / 100)


@pytest.mark.parametrize("a, v", [(1.7e-14, 21.0), (5e-15, 10.0), (1e-13, 30.0), (0.0, 0.0)])
@pytest.mark.parametrize("m", [0.0, 5 / 6, 1.0])
def test_hv_moments_match_numerical_quadrature(a, v, m):
    pieces = [(0, 500), (500, 5000), (5000, 30000), (30000, 200000)]
    numeric = sum(integrate.quad(lambda h: h**m * _hv(h, a, v), lo, hi, limit=200)[0] for lo, hi in pieces)
    assert hv_moment(m, ground_cn2=a, wind_mps=v) == pytest.approx(numeric, rel=1e-6)
    h = np.array([0.0, 50.0, 1e3, 1e4])
    assert np.allclose(hufnagel_valley(h, ground_cn2=a, wind_mps=v), [_hv(x, a, v) for x in h], rtol=1e-12)


def test_fried_parameter_of_a_constant_layer():
    """A layer of constant Cn2 = 1e-14 over 1 km at 500 nm: r0 = (0.423 k^2 Cn2 L sec z)^(-3/5)."""
    k = 2 * math.pi / 500e-9
    for zenith_deg in (0.0, 30.0, 60.0):
        sec = 1 / math.cos(math.radians(zenith_deg))
        expected = (0.423 * k**2 * 1e-14 * 1000.0 * sec) ** (-3 / 5)
        got = float(fried_parameter(math.radians(zenith_deg), 500e-9, 1e-14 * 1000.0))
        assert got == pytest.approx(expected)
    assert float(fried_parameter(0.0, 500e-9, 1e-11)) == pytest.approx(0.0202, abs=1e-4)
    assert math.isinf(float(fried_parameter(0.0, 500e-9, 0.0)))


def test_hv57_gives_its_textbook_fried_parameter_and_scalings():
    """HV 5/7 is named for r0 = 5 cm at 0.5 um (zenith); r0 grows as lambda^(6/5), falls as X^(-3/5)."""
    strength = hv_moment(0.0, ground_cn2=1.7e-14, wind_mps=21.0)
    r0 = float(fried_parameter(0.0, 500e-9, strength))
    assert r0 == pytest.approx(0.05, rel=0.02)
    assert float(fried_parameter(0.0, 1000e-9, strength)) == pytest.approx(r0 * 2 ** 1.2)
    assert float(fried_parameter(math.radians(60.0), 500e-9, strength)) == pytest.approx(r0 * 2 ** -0.6)
    assert float(seeing_fwhm_rad(r0, 500e-9)) == pytest.approx(0.98 * 500e-9 / r0)


def test_tracking_removes_tilt_and_the_spot_grows_towards_the_horizon():
    r0, lam, d = 0.09, 810e-9, 1.2
    seeing = float(seeing_fwhm_rad(r0, lam))
    tilt = 2 * math.sqrt(2 * math.log(2)) * float(tilt_rms_rad(r0, lam, d))
    assert float(tilt_rms_rad(r0, lam, d)) ** 2 == pytest.approx(0.170 * (lam / d) ** 2 * (d / r0) ** (5 / 3))
    assert float(spot_fwhm_rad(r0, lam, d, tracking_residual=1.0)) == pytest.approx(seeing)
    tracked = float(spot_fwhm_rad(r0, lam, d, tracking_residual=0.0))
    assert tracked == pytest.approx(math.sqrt(seeing**2 - tilt**2))
    floor = float(spot_fwhm_rad(r0, lam, d, tracking_residual=1.0, tracking_floor_rad=1e-6))
    assert floor**2 == pytest.approx(seeing**2 + (2 * math.sqrt(2 * math.log(2)) * 1e-6) ** 2)
    hv = Turbulence(tracking_residual=0.5, tracking_floor_urad=0.5)
    elevations = np.radians([90.0, 60.0, 30.0, 15.0, 10.0])
    spot = hv.spot_fwhm_rad(airmass(np.pi / 2 - elevations), lam, d)
    assert np.all(np.diff(spot) > 0)
    eff = field_of_view_efficiency(
        elevations, seeing_rad=0.0, field_of_view_rad=18e-6, turbulence=hv, aperture_m=d
    )
    assert np.all(np.diff(eff) < 0)
    assert np.allclose(eff, 1 - np.exp(-math.log(2) * (18e-6 / spot) ** 2))
    assert float(field_stop_efficiency(1e-5, 0.0)) == 1.0


def test_seeing_only_field_stop_keeps_its_contract():
    """Without a profile, a given zenith seeing is carried along the path as X^(3/5)."""
    e = np.radians(20.0)
    got = float(field_of_view_efficiency(e, seeing_rad=1e-5, field_of_view_rad=2e-5))
    blur = 1e-5 * float(airmass(np.pi / 2 - e)) ** 0.6
    assert got == pytest.approx(1 - math.exp(-math.log(2) * (2e-5 / blur) ** 2))


def test_point_receiver_scintillation_is_the_rytov_integral():
    """D -> 0: sigma^2 = 2.25 k^(7/6) sec^(11/6) int Cn2 h^(5/6) dh, integrated here by quadrature."""
    lam, zenith = 810e-9, math.radians(40.0)
    k = 2 * math.pi / lam
    mu = sum(integrate.quad(lambda h: h ** (5 / 6) * _hv(h, 1.7e-14, 21.0), lo, hi, limit=200)[0]
             for lo, hi in [(0, 500), (500, 5000), (5000, 30000), (30000, 200000)])
    expected = 2.25 * k ** (7 / 6) * (1 / math.cos(zenith)) ** (11 / 6) * mu
    got = float(scintillation_index(zenith, lam, 1e-6, ground_cn2=1.7e-14, wind_mps=21.0))
    assert got == pytest.approx(expected, rel=1e-4)
    big = float(scintillation_index(zenith, lam, 1.2, ground_cn2=1.7e-14, wind_mps=21.0))
    assert big < got / 10  # aperture averaging


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("index", [0.05, 0.3, 1.0])
def test_lognormal_fading_preserves_the_mean(seed, index):
    n = 400_000
    f = lognormal_fading(np.random.default_rng(seed), index, n)
    assert np.all(f > 0)
    assert abs(f.mean() - 1.0) <= 5 * math.sqrt(index / n)  # 5 standard errors of the mean
    assert f.var() == pytest.approx(index, rel=0.15)


def test_a_station_takes_either_a_seeing_or_a_profile():
    with pytest.raises(ValidationError, match="seeing_arcsec"):
        GroundStation("X", 0.0, 0.0, seeing_arcsec=1.0, ground_cn2=1e-14, key="alice")
    with pytest.raises(ValidationError, match="tracking_residual"):
        GroundStation("X", 0.0, 0.0, tracking_residual=1.5, key="alice")
    assert GroundStation("X", 0.0, 0.0).turbulence is None
    assert GroundStation("X", 0.0, 0.0, ground_cn2=1e-14).turbulence.ground_cn2 == 1e-14


def test_turbulence_widens_the_2017_loss_range_and_leaves_2020_alone():
    """HV turbulence and tracking make the loss grow faster towards the horizon (no input is tuned
    to the loss); 2020's field stop is not limiting, so its figures stay."""
    s2017 = load_scenario("micius-2017")
    with_turbulence = s2017.physics().summary(None)
    wide = ["stations.alice.field_of_view_urad=0", "stations.bob.field_of_view_urad=0"]
    flat = apply_overrides(s2017, wide)
    flat_summary = flat.physics().summary(None)
    growth = with_turbulence["loss_db_max"] - with_turbulence["loss_db_min"]
    assert growth > flat_summary["loss_db_max"] - flat_summary["loss_db_min"] + 3.0
    assert abs(with_turbulence["loss_db_min"] - 64.0) <= 3.0
    s2020 = load_scenario("micius-2020").physics().summary(0.5)
    assert s2020["coincidence_rate_hz"] == pytest.approx(2.2, rel=0.1)
    assert s2020["snr"] == pytest.approx(15.0, rel=0.15)
    assert s2020["qber"] == pytest.approx(0.045, abs=0.005)
