"""Frames and look angles: geodetic coordinates, Earth rotation, elevation/azimuth/range.

All functions are vectorised over numpy arrays and use SI units (m, s, rad).

Frames:

* ECI: an Earth-centred inertial frame (the true-equator, mean-equinox frame of SGP4's TEME
  is used as ECI; precession and nutation are ignored, which is harmless for pass geometry).
* ECEF: Earth-centred, Earth-fixed, rotated from ECI by the Greenwich mean sidereal time
  (IAU 1982 formula, UT1 taken equal to UTC, polar motion ignored).
* ENU: local east-north-up frame at a ground station, "up" along the ellipsoid normal.

The Earth is the WGS84 ellipsoid by default; :data:`SPHERE` (radius 6371 km) reproduces the
textbook spherical slant-range formula (see :func:`slant_range_m`).

>>> import numpy as np
>>> station = geodetic_to_ecef(0.0, 0.0, 0.0, SPHERE)
>>> overhead = station * (1 + 500e3 / SPHERE.a_m)
>>> elevation, azimuth, range_m = look_angles(0.0, 0.0, station, overhead)
>>> round(float(np.degrees(elevation)), 6), round(float(range_m) / 1e3, 3)
(90.0, 500.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from qentangle.errors import ValidationError, check_range

EARTH_MU_M3_S2 = 3.986004418e14
"""Earth's gravitational parameter GM (m^3/s^2, WGS84)."""
EARTH_J2 = 1.08262668e-3
"""Earth's second zonal harmonic (dimensionless)."""
EARTH_MEAN_RADIUS_M = 6_371_000.0
"""Mean Earth radius (m), the R of the spherical slant-range formula."""
EARTH_ROTATION_RAD_S = 7.2921150e-5
"""Earth's sidereal rotation rate (rad/s)."""


@dataclass(frozen=True)
class Ellipsoid:
    """A reference ellipsoid: equatorial radius ``a_m`` and flattening ``f``."""

    a_m: float
    f: float

    @property
    def e2(self) -> float:
        """First eccentricity squared."""
        return self.f * (2.0 - self.f)


WGS84 = Ellipsoid(a_m=6_378_137.0, f=1.0 / 298.257223563)
SPHERE = Ellipsoid(a_m=EARTH_MEAN_RADIUS_M, f=0.0)


def julian_date(epoch: datetime) -> float:
    """Julian date of a UTC ``datetime`` (naive datetimes are taken as UTC).

    >>> julian_date(datetime(2000, 1, 1, 12, tzinfo=timezone.utc))
    2451545.0
    """
    if epoch.tzinfo is not None:
        epoch = epoch.astimezone(timezone.utc).replace(tzinfo=None)
    j2000 = datetime(2000, 1, 1, 12)
    return 2451545.0 + (epoch - j2000).total_seconds() / 86400.0


def gmst_rad(jd_ut1: np.ndarray | float) -> np.ndarray:
    """Greenwich mean sidereal angle (rad, in [0, 2 pi)) at Julian date(s) ``jd_ut1``.

    IAU 1982 (Vallado, *Fundamentals of Astrodynamics*, eq. 3-47).

    >>> round(float(np.degrees(gmst_rad(2451545.0))), 4)  # J2000.0
    280.4606
    """
    t = (np.asarray(jd_ut1, dtype=float) - 2451545.0) / 36525.0
    seconds = (
        67310.54841 + (876600.0 * 3600.0 + 8640184.812866) * t + 0.093104 * t**2 - 6.2e-6 * t**3
    )
    return np.mod(np.radians(seconds / 240.0), 2.0 * np.pi)


def eci_to_ecef(positions_m: np.ndarray, gmst: np.ndarray) -> np.ndarray:
    """Rotate ECI positions ``(..., 3)`` into ECEF by the sidereal angle ``gmst`` (rad)."""
    positions_m = np.asarray(positions_m, dtype=float)
    c, s = np.cos(gmst), np.sin(gmst)
    x, y, z = positions_m[..., 0], positions_m[..., 1], positions_m[..., 2]
    return np.stack([c * x + s * y, -s * x + c * y, z], axis=-1)


def geodetic_to_ecef(
    latitude_rad: np.ndarray | float,
    longitude_rad: np.ndarray | float,
    altitude_m: np.ndarray | float,
    ellipsoid: Ellipsoid = WGS84,
) -> np.ndarray:
    """ECEF position(s) (m, shape ``(..., 3)``) of geodetic coordinates.

    >>> geodetic_to_ecef(0.0, 0.0, 0.0).round(3).tolist()
    [6378137.0, 0.0, 0.0]
    """
    lat = np.asarray(latitude_rad, dtype=float)
    lon = np.asarray(longitude_rad, dtype=float)
    alt = np.asarray(altitude_m, dtype=float)
    n = ellipsoid.a_m / np.sqrt(1.0 - ellipsoid.e2 * np.sin(lat) ** 2)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - ellipsoid.e2) + alt) * np.sin(lat)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(
    positions_m: np.ndarray, ellipsoid: Ellipsoid = WGS84
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geodetic latitude, longitude (rad) and altitude (m) of ECEF positions ``(..., 3)``.

    Bowring's method with two refinements (sub-millimetre for LEO altitudes).

    >>> lat, lon, alt = ecef_to_geodetic(geodetic_to_ecef(0.5, 1.0, 5e5))
    >>> round(float(lat), 9), round(float(lon), 9), round(float(alt), 3)
    (0.5, 1.0, 500000.0)
    """
    positions_m = np.asarray(positions_m, dtype=float)
    x, y, z = positions_m[..., 0], positions_m[..., 1], positions_m[..., 2]
    a, e2 = ellipsoid.a_m, ellipsoid.e2
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, p * (1.0 - e2))
    for _ in range(3):
        n = a / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
        alt = np.where(
            np.abs(np.cos(lat)) > 1e-9,
            p / np.maximum(np.abs(np.cos(lat)), 1e-300) - n,
            np.abs(z) - n * (1.0 - e2),
        )
        lat = np.arctan2(z, p * (1.0 - e2 * n / (n + alt)))
    n = a / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
    alt = np.where(
        np.abs(np.cos(lat)) > 1e-9,
        p / np.maximum(np.abs(np.cos(lat)), 1e-300) - n,
        np.abs(z) - n * (1.0 - e2),
    )
    return lat, lon, alt


def enu_basis(latitude_rad: float, longitude_rad: float) -> np.ndarray:
    """Rows: unit east, north and up vectors (ECEF) at a geodetic position."""
    sl, cl = np.sin(latitude_rad), np.cos(latitude_rad)
    so, co = np.sin(longitude_rad), np.cos(longitude_rad)
    return np.array(
        [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ]
    )


def look_angles(
    latitude_rad: float,
    longitude_rad: float,
    station_ecef_m: np.ndarray,
    target_ecef_m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elevation, azimuth (rad, from north through east) and range (m) of target(s).

    ``target_ecef_m`` has shape ``(..., 3)``; the station is a single point.
    """
    delta = np.asarray(target_ecef_m, dtype=float) - np.asarray(station_ecef_m, dtype=float)
    enu = delta @ enu_basis(latitude_rad, longitude_rad).T
    east, north, up = enu[..., 0], enu[..., 1], enu[..., 2]
    range_m = np.sqrt(east**2 + north**2 + up**2)
    elevation = np.arcsin(np.clip(up / range_m, -1.0, 1.0))
    azimuth = np.mod(np.arctan2(east, north), 2.0 * np.pi)
    return elevation, azimuth, range_m


def slant_range_m(
    elevation_rad: np.ndarray | float,
    altitude_m: float,
    earth_radius_m: float = EARTH_MEAN_RADIUS_M,
) -> np.ndarray:
    """Slant range to a circular orbit of altitude ``altitude_m`` seen at ``elevation_rad``.

    L = sqrt((R + h)^2 - R^2 cos^2 e) - R sin e (spherical Earth of radius R).

    >>> [round(float(slant_range_m(np.radians(e), 500e3)) / 1e3) for e in (90, 30, 15, 10)]
    [500, 909, 1407, 1695]
    """
    check_range("altitude_m", altitude_m, 0.0, low_open=True)
    e = np.asarray(elevation_rad, dtype=float)
    r = earth_radius_m
    return np.sqrt((r + altitude_m) ** 2 - (r * np.cos(e)) ** 2) - r * np.sin(e)


def great_circle_distance_m(
    lat1_rad: float, lon1_rad: float, lat2_rad: float, lon2_rad: float,
    radius_m: float = EARTH_MEAN_RADIUS_M,
) -> float:
    """Great-circle (haversine) distance between two points on a sphere.

    >>> round(great_circle_distance_m(0.0, 0.0, 0.0, np.pi / 2) / 1e3)
    10008
    """
    dlat, dlon = lat2_rad - lat1_rad, lon2_rad - lon1_rad
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1_rad) * np.cos(lat2_rad) * np.sin(dlon / 2) ** 2
    return float(2.0 * radius_m * np.arcsin(np.sqrt(h)))


def great_circle_midpoint(
    lat1_rad: float, lon1_rad: float, lat2_rad: float, lon2_rad: float
) -> tuple[float, float]:
    """Latitude and longitude (rad) of the great-circle midpoint of two points."""
    a = np.array([np.cos(lat1_rad) * np.cos(lon1_rad), np.cos(lat1_rad) * np.sin(lon1_rad),
                  np.sin(lat1_rad)])
    b = np.array([np.cos(lat2_rad) * np.cos(lon2_rad), np.cos(lat2_rad) * np.sin(lon2_rad),
                  np.sin(lat2_rad)])
    m = a + b
    norm = np.linalg.norm(m)
    if norm < 1e-12:
        raise ValidationError("great_circle_midpoint: the two points are antipodal")
    m = m / norm
    return float(np.arcsin(m[2])), float(np.arctan2(m[1], m[0]))


def sun_direction_ecef(jd_utc: np.ndarray) -> np.ndarray:
    """Unit vector(s) to the Sun in ECEF at Julian date(s) (low precision, about 0.01 deg).

    Astronomical Almanac low-precision solar coordinates; good enough to tell night from day
    at a ground station.
    """
    jd = np.asarray(jd_utc, dtype=float)
    n = jd - 2451545.0
    mean_longitude = np.radians(np.mod(280.460 + 0.9856474 * n, 360.0))
    anomaly = np.radians(np.mod(357.528 + 0.9856003 * n, 360.0))
    ecliptic_longitude = (
        mean_longitude + np.radians(1.915) * np.sin(anomaly) + np.radians(0.020) * np.sin(2 * anomaly)
    )
    obliquity = np.radians(23.439 - 4.0e-7 * n)
    eci = np.stack(
        [
            np.cos(ecliptic_longitude),
            np.cos(obliquity) * np.sin(ecliptic_longitude),
            np.sin(obliquity) * np.sin(ecliptic_longitude),
        ],
        axis=-1,
    )
    return eci_to_ecef(eci, gmst_rad(jd))


def sun_elevation_rad(latitude_rad: float, longitude_rad: float, jd_utc: np.ndarray) -> np.ndarray:
    """Elevation of the Sun's centre (rad, geometric, no refraction) at a place and time(s)."""
    up = enu_basis(latitude_rad, longitude_rad)[2]
    return np.arcsin(np.clip(sun_direction_ecef(jd_utc) @ up, -1.0, 1.0))
