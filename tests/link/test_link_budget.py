"""Link budget formulas against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.link.budget import (
    LinkConfig,
    airmass,
    atmospheric_transmittance,
    beam_radius_m,
    collection_efficiency,
    downlink_budget,
    field_of_view_efficiency,
    from_db,
    pointing_efficiency,
    to_db,
    waist_from_divergence_m,
)


def test_db_conversions():
    assert float(to_db(0.001)) == pytest.approx(30.0)
    assert float(from_db(3.0103)) == pytest.approx(0.5, rel=1e-4)
    assert float(to_db(0.0)) == math.inf


def test_gaussian_beam_by_hand():
    # theta = 10 urad at 810 nm: w0 = 810e-9 / (pi 1e-5) = 2.5783 cm, zR = pi w0^2 / lambda
    w0 = 810e-9 / (math.pi * 10e-6)
    assert waist_from_divergence_m(10e-6, 810e-9) == pytest.approx(w0)
    z_r = math.pi * w0**2 / 810e-9
    assert z_r == pytest.approx(2578.3, rel=1e-4)
    for L in (0.0, z_r, 1e6):
        expected = w0 * math.sqrt(1 + (L / z_r) ** 2)
        assert float(beam_radius_m(L, divergence_rad=10e-6, wavelength_m=810e-9)) == pytest.approx(expected)
    # far field: w = theta L
    assert float(beam_radius_m(1e6, divergence_rad=10e-6, wavelength_m=810e-9)) == pytest.approx(
        10.0, rel=1e-5)


def test_collection_by_hand():
    # 1.2 m aperture, w = 10 m: 1 - exp(-2 * 0.36 / 100) = 0.0071741
    assert float(collection_efficiency(0.6, 10.0)) == pytest.approx(1 - math.exp(-0.0072))
    assert float(collection_efficiency(0.6, 1e-3)) == pytest.approx(1.0)


def test_atmosphere_by_hand():
    assert float(airmass(0.0, "secant")) == pytest.approx(1.0)
    assert float(airmass(0.0)) == pytest.approx(1.0, abs=1e-3)
    assert float(airmass(math.radians(90.0))) == pytest.approx(38.09, rel=1e-2)  # finite horizon
    # 30 deg elevation, secant: T0^2
    assert float(atmospheric_transmittance(math.radians(30), 0.8, "secant")) == pytest.approx(0.64)
    # Kasten-Young within 0.5 % of the secant above 30 deg elevation
    z = np.radians(np.linspace(0, 60, 13))
    np.testing.assert_allclose(airmass(z), airmass(z, "secant"), rtol=5e-3)


def test_pointing_by_hand():
    assert pointing_efficiency(0.0, 10e-6) == 1.0
    assert pointing_efficiency(5e-6, 10e-6) == pytest.approx(0.5)  # 4 sigma^2 = theta^2


def test_field_of_view():
    assert np.all(field_of_view_efficiency([0.2, 1.5], seeing_rad=0.0, field_of_view_rad=1e-5) == 1)
    zenith = float(field_of_view_efficiency(math.pi / 2, seeing_rad=1e-5, field_of_view_rad=2e-5,
                                            model="secant"))
    assert zenith == pytest.approx(1 - math.exp(-math.log(2) * 4))
    low = float(field_of_view_efficiency(math.radians(10), seeing_rad=1e-5, field_of_view_rad=2e-5))
    assert low < zenith


def test_downlink_budget_is_the_product_of_its_factors():
    link = LinkConfig(divergence_urad=10.0, pointing_jitter_urad=1.0, transmitter_efficiency=0.8)
    ranges = np.array([600e3, 1000e3, 1500e3])
    elevations = np.radians([60.0, 30.0, 15.0])
    budget = downlink_budget(ranges, elevations, link=link, aperture_m=1.2,
                             zenith_transmittance=0.85, receiver_optics_efficiency=0.4,
                             detector_efficiency=0.5, wavelength_m=810e-9)
    w = beam_radius_m(ranges, divergence_rad=10e-6, wavelength_m=810e-9)
    expected = (0.8 * (1 - np.exp(-2 * 0.36 / w**2)) * 0.85 ** airmass(np.pi / 2 - elevations)
                * (1 / (1 + 4 * 0.01)) * 0.4 * 0.5)
    np.testing.assert_allclose(budget.total, expected, rtol=1e-12)
    parts = budget.breakdown_db()
    total = sum(np.asarray(v) for v in parts.values())
    np.testing.assert_allclose(total, budget.loss_db, rtol=1e-12)
    # hand value at 1000 km, 30 deg: 0.8 * 0.0071741 * 0.85^1.9942 * 0.96154 * 0.2
    assert budget.loss_db[1] == pytest.approx(-10 * math.log10(
        0.8 * (1 - math.exp(-0.0072)) * 0.85 ** float(airmass(math.radians(60))) / 1.04 * 0.2))
    # loss grows with range
    assert np.all(np.diff(budget.loss_db) > 0)


def test_link_config_validation_names_the_key():
    with pytest.raises(ValidationError, match=r"link\.divergence_urad"):
        LinkConfig(divergence_urad=0.0)
    with pytest.raises(ValidationError, match=r"link\.transmitter_efficiency"):
        LinkConfig(transmitter_efficiency=1.5)
    with pytest.raises(ValidationError, match=r"link\.airmass_model"):
        LinkConfig(airmass_model="flat")
