"""Geometry: slant range, look angles, frames, orbits, visibility windows."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest

from qentangle.errors import QentangleError, ValidationError
from qentangle.link.geometry import (
    SPHERE,
    WGS84,
    ecef_to_geodetic,
    enu_basis,
    geodetic_to_ecef,
    gmst_rad,
    great_circle_distance_m,
    julian_date,
    look_angles,
    slant_range_m,
    sun_elevation_rad,
)
from qentangle.link.orbit import CircularOrbit, TLEOrbit, as_utc, tle_checksum
from qentangle.link.passes import best_window, track, visibility_windows
from qentangle.link.stations import GroundStation, dms_to_deg

DELINGHA = GroundStation("Delingha", dms_to_deg(37, 22, 44.43), dms_to_deg(97, 43, 37.01),
                         3153.0, 1.2, 10.0, key="alice")
LIJIANG = GroundStation("Lijiang", dms_to_deg(26, 41, 38.15), dms_to_deg(100, 1, 45.55),
                        3200.0, 1.8, 10.0, key="bob")
NANSHAN = GroundStation("Nanshan", dms_to_deg(43, 28, 31.66), dms_to_deg(87, 10, 36.07),
                        2028.0, 1.2, 10.0, key="bob")


@pytest.mark.parametrize(("elevation_deg", "expected_km"), [(90, 500), (30, 909), (15, 1407),
                                                            (10, 1695)])
def test_slant_range_formula_values(elevation_deg, expected_km):
    value = float(slant_range_m(math.radians(elevation_deg), 500e3)) / 1e3
    assert value == pytest.approx(expected_km, abs=0.5)


def test_slant_range_formula_matches_look_angles_on_a_sphere():
    # a satellite on a 500 km circle in the station's meridian plane, seen from the equator
    station = geodetic_to_ecef(0.0, 0.0, 0.0, SPHERE)
    r = SPHERE.a_m + 500e3
    angles = np.linspace(0.0, 0.3, 2001)
    sat = np.stack([r * np.cos(angles), np.zeros_like(angles), r * np.sin(angles)], axis=-1)
    elevation, azimuth, range_m = look_angles(0.0, 0.0, station, sat)
    visible = elevation > 0
    expected = slant_range_m(elevation[visible], 500e3, SPHERE.a_m)
    np.testing.assert_allclose(range_m[visible], expected, rtol=1e-9)
    assert np.allclose(np.degrees(azimuth[1:][visible[1:]]), 0.0)  # due north


def test_elevation_is_90_directly_overhead_on_wgs84():
    for lat, lon in [(0.0, 0.0), (0.6, 1.7), (-1.1, -2.0)]:
        station = geodetic_to_ecef(lat, lon, 100.0, WGS84)
        above = geodetic_to_ecef(lat, lon, 500e3, WGS84)
        elevation, _, range_m = look_angles(lat, lon, station, above)
        assert math.degrees(float(elevation)) == pytest.approx(90.0, abs=1e-6)
        assert float(range_m) == pytest.approx(500e3 - 100.0, rel=1e-9)


def test_look_angles_are_symmetric_east_and_west():
    station = geodetic_to_ecef(0.5, 1.0, 0.0)
    basis = enu_basis(0.5, 1.0)
    east, west = station + 800e3 * basis[0] + 400e3 * basis[2], station - 800e3 * basis[0] + 400e3 * basis[2]
    el_e, az_e, r_e = look_angles(0.5, 1.0, station, east)
    el_w, az_w, r_w = look_angles(0.5, 1.0, station, west)
    assert float(el_e) == pytest.approx(float(el_w))
    assert float(r_e) == pytest.approx(float(r_w))
    assert math.degrees(float(az_e)) == pytest.approx(90.0)
    assert math.degrees(float(az_w)) == pytest.approx(270.0)


def test_geodetic_round_trip():
    lat = np.radians([-80.0, -10.0, 0.0, 37.4, 89.0])
    lon = np.radians([-170.0, 20.0, 0.0, 97.7, 45.0])
    alt = np.array([0.0, 3000.0, -100.0, 5e5, 1e6])
    back = ecef_to_geodetic(geodetic_to_ecef(lat, lon, alt))
    np.testing.assert_allclose(back[0], lat, atol=1e-10)
    np.testing.assert_allclose(back[1], lon, atol=1e-10)
    np.testing.assert_allclose(back[2], alt, atol=1e-3)


def test_gmst_advances_at_the_sidereal_rate():
    jd = 2459000.5
    step = float(gmst_rad(jd + 1.0 / 24)) - float(gmst_rad(jd))
    assert step == pytest.approx(7.2921150e-5 * 3600, rel=1e-6)


def test_station_separations_match_published_baselines():
    km = great_circle_distance_m(DELINGHA.latitude_rad, DELINGHA.longitude_rad,
                                 NANSHAN.latitude_rad, NANSHAN.longitude_rad) / 1e3
    assert km == pytest.approx(1120, abs=5)
    km = great_circle_distance_m(DELINGHA.latitude_rad, DELINGHA.longitude_rad,
                                 LIJIANG.latitude_rad, LIJIANG.longitude_rad) / 1e3
    assert km == pytest.approx(1203, abs=10)  # the coordinates are [S]


def test_sun_is_up_at_local_noon_and_down_at_midnight():
    noon = julian_date(datetime(2020, 3, 20, 12, 0, tzinfo=timezone.utc))
    up = math.degrees(float(sun_elevation_rad(0.0, 0.0, noon)))
    down = math.degrees(float(sun_elevation_rad(0.0, 0.0, noon + 0.5)))
    assert up > 85.0
    assert down < -85.0


def test_circular_orbit_radius_and_period():
    orbit = CircularOrbit(altitude_km=500.0, inclination_deg=97.4, j2=False)
    positions = orbit.ecef_m(as_utc("2020-01-01T00:00:00Z"), np.linspace(0, 6000, 50))
    np.testing.assert_allclose(np.linalg.norm(positions, axis=1), 6871e3, rtol=1e-12)
    assert orbit.period_s == pytest.approx(2 * math.pi * math.sqrt(6871e3**3 / 3.986004418e14))


def test_sun_synchronous_drift():
    orbit = CircularOrbit(altitude_km=500.0, inclination_deg=97.4)
    assert math.degrees(orbit.raan_rate_rad_s) * 86400 == pytest.approx(0.9856, abs=0.01)


def test_through_point_puts_the_satellite_over_the_point():
    orbit = CircularOrbit.through_point(32.0, 99.0, "2017-06-19T16:30:00Z")
    geometry = track(orbit, DELINGHA, LIJIANG, orbit.elements_epoch, [0.0])
    assert geometry.subpoint_latitude_deg[0] == pytest.approx(32.0, abs=0.25)  # geocentric/geodetic
    assert geometry.subpoint_longitude_deg[0] == pytest.approx(99.0, abs=1e-6)
    with pytest.raises(ValidationError, match="latitude_deg"):
        CircularOrbit.through_point(85.0, 0.0, "2020-01-01T00:00:00Z", inclination_deg=50.0)


TLE_1 = "1 41731U 16051A   20153.50000000  .00000600  00000-0  28000-4 0  9995"
TLE_2 = "2 41731  97.3700 100.0000 0001000  90.0000 270.0000 15.24000000200008"


def test_tle_orbit_agrees_with_a_circular_orbit_radius():
    orbit = TLEOrbit(TLE_1, TLE_2)
    r = np.linalg.norm(orbit.ecef_m(orbit.elements_epoch, np.linspace(0, 5700, 20)), axis=1)
    assert np.all(np.abs(r / 1e3 - 6871) < 25)  # ~500 km altitude, nearly circular
    with pytest.raises(ValidationError, match="tle_line1"):
        TLEOrbit("garbage", TLE_2)


def test_tle_checksum_of_a_published_element_set():
    # The ISS element set of the worked example of the format (Wikipedia, "Two-line element set").
    iss = ("1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
           "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537")
    assert [tle_checksum(line) for line in iss] == [7, 7]
    assert TLEOrbit(*iss).elements_epoch.year == 2008


@pytest.mark.parametrize(
    ("line1", "line2", "message"),
    [
        (TLE_1[:68] + "4", TLE_2, r"orbit\.tle_line1 .*checksum digit '4'.*checksum 5"),
        (TLE_1, TLE_2[:68] + "9", r"orbit\.tle_line2 .*checksum"),
        # one digit changed in the inclination: the checksum catches it
        (TLE_1, TLE_2.replace("97.3700", "97.4700"), r"orbit\.tle_line2 .*checksum"),
        (TLE_2, TLE_1, r"orbit\.tle_line1 .*expected TLE line 1"),
        (TLE_1, "1" + TLE_2[1:], r"orbit\.tle_line2 .*expected TLE line 2"),
        (TLE_1[:60], TLE_2, r"orbit\.tle_line1 .*69 characters, got 60"),
        (TLE_1, TLE_2[:2] + "41732" + TLE_2[7:68] + "9", r"catalogue number '41732'"),
    ],
)
def test_tle_lines_are_validated(line1, line2, message):
    with pytest.raises(ValidationError, match=message):
        TLEOrbit(line1, line2)


@pytest.mark.parametrize(("bob", "midpoint"), [(LIJIANG, (32.04, 98.95)), (NANSHAN, (40.55, 92.69))])
def test_double_visibility_pass_exists_between_the_stations(bob, midpoint):
    orbit = CircularOrbit.through_point(*midpoint, "2020-06-01T17:00:00Z")
    windows = visibility_windows(orbit, DELINGHA, bob, orbit.elements_epoch, 1200.0, start_s=-600)
    assert len(windows) == 1
    window = windows[0]
    assert 200.0 < window.duration_s < 400.0
    inside = track(orbit, DELINGHA, bob, window.epoch,
                   np.linspace(window.start_s + 0.5, window.end_s - 0.5, 50))
    assert inside.both_visible.all()
    edges = track(orbit, DELINGHA, bob, window.epoch, [window.start_s, window.end_s])
    np.testing.assert_allclose(edges.margin_rad, 0.0, atol=math.radians(0.01))


def test_best_pass_over_a_day_and_no_pass_error():
    orbit = CircularOrbit.through_point(40.55, 92.69, "2020-06-01T17:00:00Z")
    windows = visibility_windows(orbit, DELINGHA, NANSHAN, orbit.elements_epoch, 86400.0,
                                 start_s=-43200.0, step_s=20.0)
    best = best_window(orbit, DELINGHA, NANSHAN, orbit.elements_epoch, 86400.0, step_s=20.0)
    assert best.duration_s == max(w.duration_s for w in windows)
    assert len(windows) >= 2
    far = GroundStation("Santiago", -33.4, -70.6, key="bob")
    with pytest.raises(QentangleError, match="no double-visibility pass"):
        best_window(orbit, DELINGHA, far, orbit.elements_epoch, 3000.0)


def test_a_scenario_rejects_a_corrupted_tle():
    from qentangle.scenarios import apply_overrides, load_scenario

    good = ["orbit.kind=tle", f'orbit.tle_line1="{TLE_1}"', f'orbit.tle_line2="{TLE_2}"']
    assert apply_overrides(load_scenario("micius-2020"), good).orbit.tle_line2 == TLE_2
    bad = [*good[:2], f'orbit.tle_line2="{TLE_2[:68]}3"']
    with pytest.raises(ValidationError, match=r"orbit\.tle_line2 .*checksum"):
        apply_overrides(load_scenario("micius-2020"), bad)
