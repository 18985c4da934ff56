"""Satellite orbits: an analytic circular LEO with J2 drift, or a real orbit from a TLE (SGP4).

Both kinds answer one question, vectorised over a time array: where is the satellite in
Earth-fixed coordinates (ECEF, metres) at ``epoch + t_s``?

Configuration objects use the units of the scenario files (km, degrees: the unit is in the
field name); computations are SI.

>>> from datetime import datetime, timezone
>>> import numpy as np
>>> orbit = CircularOrbit(altitude_km=500.0, inclination_deg=97.4)
>>> epoch = datetime(2020, 1, 1, tzinfo=timezone.utc)
>>> r = np.linalg.norm(orbit.ecef_m(epoch, np.array([0.0, 600.0])), axis=-1)
>>> np.round(r / 1e3, 3).tolist()
[6871.0, 6871.0]
>>> round(orbit.period_s / 60, 2)
94.59
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np

from qentangle.errors import ValidationError, check_range
from qentangle.link.geometry import (
    EARTH_J2,
    EARTH_MEAN_RADIUS_M,
    EARTH_MU_M3_S2,
    WGS84,
    eci_to_ecef,
    gmst_rad,
    julian_date,
)

_EPOCH_DEFAULT = datetime(2000, 1, 1, 12, tzinfo=timezone.utc)


def as_utc(value: datetime | str, name: str = "epoch") -> datetime:
    """Parse an ISO 8601 string or datetime as an aware UTC datetime (naive means UTC).

    >>> as_utc("2020-06-01T16:00:00Z").isoformat()
    '2020-06-01T16:00:00+00:00'
    """
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                f"{name}={value!r} is not a date-time: expected ISO 8601 such as "
                "'2020-06-01T16:00:00Z'"
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError(f"{name}={value!r} is not a date-time: expected ISO 8601 text")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _jd_parts(epoch: datetime, t_s: np.ndarray) -> tuple[float, np.ndarray]:
    """Whole-day Julian date and day fraction (keeps sub-millisecond precision)."""
    jd0 = julian_date(epoch)
    whole = math.floor(jd0)
    return float(whole), (jd0 - whole) + np.asarray(t_s, dtype=float) / 86400.0


@dataclass(frozen=True)
class CircularOrbit:
    """A circular orbit propagated analytically, with the secular J2 drift of node and phase.

    Parameters (all at ``elements_epoch``):
        altitude_km: height above the mean Earth sphere (R = 6371 km); semi-major axis
            a = R + h.
        inclination_deg: orbital inclination, 0 to 180 (97.4 is sun-synchronous at 500 km).
        raan_deg: right ascension of the ascending node (ECI, degrees).
        arg_latitude_deg: argument of latitude u (angle from the ascending node along the
            orbit, degrees).
        elements_epoch: UTC time at which the elements hold (ISO text or datetime).
        j2: include the secular J2 drift of the node and of the argument of latitude.

    Ignored: drag, eccentricity, short-period J2 terms (metres to kilometres over a pass,
    negligible for a link budget).

    >>> orbit = CircularOrbit(altitude_km=500.0, inclination_deg=97.4)
    >>> round(math.degrees(orbit.raan_rate_rad_s) * 86400, 2)  # sun-synchronous: 0.9856
    0.99
    """

    altitude_km: float = 500.0
    inclination_deg: float = 97.4
    raan_deg: float = 0.0
    arg_latitude_deg: float = 0.0
    elements_epoch: datetime | str = field(default=_EPOCH_DEFAULT)
    j2: bool = True

    def __post_init__(self) -> None:
        check_range("orbit.altitude_km", self.altitude_km, 100.0, 50_000.0)
        check_range("orbit.inclination_deg", self.inclination_deg, 0.0, 180.0)
        check_range("orbit.raan_deg", self.raan_deg, -360.0, 360.0)
        check_range("orbit.arg_latitude_deg", self.arg_latitude_deg, -360.0, 360.0)
        object.__setattr__(
            self, "elements_epoch", as_utc(self.elements_epoch, "orbit.elements_epoch")
        )
        if not isinstance(self.j2, bool):
            raise ValidationError(f"orbit.j2={self.j2!r} is not valid: expected true or false")

    @property
    def semi_major_axis_m(self) -> float:
        """Orbit radius a = R + h (m)."""
        return EARTH_MEAN_RADIUS_M + self.altitude_km * 1e3

    @property
    def mean_motion_rad_s(self) -> float:
        """Keplerian mean motion n = sqrt(mu / a^3) (rad/s)."""
        return math.sqrt(EARTH_MU_M3_S2 / self.semi_major_axis_m**3)

    @property
    def _j2_factor(self) -> float:
        if not self.j2:
            return 0.0
        return 1.5 * EARTH_J2 * (WGS84.a_m / self.semi_major_axis_m) ** 2

    @property
    def raan_rate_rad_s(self) -> float:
        """Secular nodal drift dOmega/dt = -3/2 n J2 (Re/a)^2 cos i (rad/s), Re equatorial."""
        return -self.mean_motion_rad_s * self._j2_factor * math.cos(
            math.radians(self.inclination_deg)
        )

    @property
    def arg_latitude_rate_rad_s(self) -> float:
        """du/dt = n [1 + 3/4 J2 (R/a)^2 (8 cos^2 i - 2)] for a circular orbit (rad/s)."""
        c2 = math.cos(math.radians(self.inclination_deg)) ** 2
        return self.mean_motion_rad_s * (1.0 + 0.5 * self._j2_factor * (8.0 * c2 - 2.0))

    @property
    def period_s(self) -> float:
        """Nodal period 2 pi / (du/dt) (s)."""
        return 2.0 * math.pi / self.arg_latitude_rate_rad_s

    def eci_m(self, epoch: datetime, t_s: np.ndarray) -> np.ndarray:
        """ECI positions (m), shape ``(len(t_s), 3)``, at ``epoch + t_s``."""
        dt = (as_utc(epoch) - self.elements_epoch).total_seconds() + np.asarray(t_s, float)
        u = math.radians(self.arg_latitude_deg) + self.arg_latitude_rate_rad_s * dt
        raan = math.radians(self.raan_deg) + self.raan_rate_rad_s * dt
        inc = math.radians(self.inclination_deg)
        cu, su, co, so = np.cos(u), np.sin(u), np.cos(raan), np.sin(raan)
        ci, si = math.cos(inc), math.sin(inc)
        r = self.semi_major_axis_m
        return r * np.stack([co * cu - so * su * ci, so * cu + co * su * ci, su * si], axis=-1)

    def ecef_m(self, epoch: datetime, t_s: np.ndarray) -> np.ndarray:
        """ECEF positions (m), shape ``(len(t_s), 3)``, at ``epoch + t_s``."""
        whole, frac = _jd_parts(as_utc(epoch), t_s)
        return eci_to_ecef(self.eci_m(epoch, t_s), gmst_rad(whole + frac))

    @classmethod
    def through_point(
        cls,
        latitude_deg: float,
        longitude_deg: float,
        when: datetime | str,
        *,
        altitude_km: float = 500.0,
        inclination_deg: float = 97.4,
        descending: bool = True,
        j2: bool = True,
    ) -> CircularOrbit:
        """The circular orbit whose sub-satellite point is (lat, lon) at time ``when``.

        The node and phase are solved for: sin(lat) = sin(i) sin(u) gives the argument of
        latitude u (on the descending or ascending half of the orbit), and the node follows
        from the point's right ascension (longitude + GMST). Latitude is geocentric, which
        differs from geodetic by at most 0.2 deg: the track passes within ~20 km of the point.

        >>> orbit = CircularOrbit.through_point(40.0, 95.0, "2020-01-01T16:00:00Z")
        >>> from qentangle.link.geometry import ecef_to_geodetic, SPHERE
        >>> lat, lon, _ = ecef_to_geodetic(orbit.ecef_m(orbit.elements_epoch, [0.0]), SPHERE)
        >>> round(float(np.degrees(lat[0])), 6), round(float(np.degrees(lon[0])), 6)
        (40.0, 95.0)
        """
        inc = math.radians(check_range("orbit.inclination_deg", inclination_deg, 0.0, 180.0))
        lat = math.radians(check_range("latitude_deg", latitude_deg, -90.0, 90.0))
        lon = math.radians(check_range("longitude_deg", longitude_deg, -360.0, 360.0))
        ratio = math.sin(lat) / math.sin(inc) if math.sin(inc) > 0 else math.inf
        if abs(ratio) > 1.0:
            raise ValidationError(
                f"latitude_deg={latitude_deg!r} is out of range: an orbit inclined "
                f"{inclination_deg} deg reaches latitudes up to {min(inclination_deg, 180 - inclination_deg)}"
            )
        u = math.asin(ratio)
        if descending:
            u = math.pi - u
        epoch = as_utc(when, "when")
        right_ascension = lon + float(gmst_rad(julian_date(epoch)))
        raan = right_ascension - math.atan2(math.cos(inc) * math.sin(u), math.cos(u))
        return cls(
            altitude_km=altitude_km,
            inclination_deg=inclination_deg,
            raan_deg=math.degrees(math.remainder(raan, 2 * math.pi)),
            arg_latitude_deg=math.degrees(math.remainder(u, 2 * math.pi)),
            elements_epoch=epoch,
            j2=j2,
        )

    def to_dict(self) -> dict:
        """JSON-safe description."""
        out = asdict(self)
        out["kind"] = "circular"
        out["elements_epoch"] = self.elements_epoch.isoformat()
        return out


@dataclass(frozen=True)
class TLEOrbit:
    """A real orbit from a two-line element set, propagated by SGP4 (``sgp4`` package).

    SGP4 gives TEME positions, rotated to ECEF by GMST (polar motion ignored).

    >>> line1 = "1 41731U 16051A   20153.50000000  .00000600  00000-0  28000-4 0  9995"
    >>> line2 = "2 41731  97.3700 100.0000 0012000  90.0000 270.0000 15.25000000200001"
    >>> orbit = TLEOrbit(line1, line2)
    >>> float(np.linalg.norm(orbit.ecef_m(orbit.elements_epoch, [0.0])[0])) > 6.8e6
    True
    """

    line1: str
    line2: str

    def __post_init__(self) -> None:
        from sgp4.api import Satrec

        check_tle_line("orbit.tle_line1", self.line1, 1)
        check_tle_line("orbit.tle_line2", self.line2, 2)
        if self.line1[2:7] != self.line2[2:7]:
            raise ValidationError(
                f"orbit.tle_line2 is not valid: its catalogue number {self.line2[2:7]!r} differs "
                f"from line 1's {self.line1[2:7]!r} (expected the two lines of one satellite)"
            )
        try:
            satrec = Satrec.twoline2rv(self.line1, self.line2)
        except (ValueError, IndexError) as error:
            raise ValidationError(f"orbit.tle_line1/tle_line2 could not be parsed: {error}") from None
        object.__setattr__(self, "_satrec", satrec)

    @property
    def elements_epoch(self) -> datetime:
        """The TLE's epoch (UTC)."""
        sat = self._satrec  # type: ignore[attr-defined]
        jd = sat.jdsatepoch + sat.jdsatepochF
        return datetime(2000, 1, 1, 12, tzinfo=timezone.utc) + _timedelta_days(jd - 2451545.0)

    def ecef_m(self, epoch: datetime, t_s: np.ndarray) -> np.ndarray:
        """ECEF positions (m), shape ``(len(t_s), 3)``, at ``epoch + t_s``."""
        whole, frac = _jd_parts(as_utc(epoch), t_s)
        jd = np.full(frac.shape, whole)
        error, teme_km, _ = self._satrec.sgp4_array(jd, frac)  # type: ignore[attr-defined]
        if np.any(error != 0):
            code = int(error[error != 0][0])
            raise ValidationError(f"SGP4 failed (error code {code}) for this TLE and time span")
        return eci_to_ecef(teme_km * 1e3, gmst_rad(whole + frac))

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return {"kind": "tle", "tle_line1": self.line1, "tle_line2": self.line2}


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of a TLE line: digits count their value, ``-`` counts 1.

    Computed over the first 68 characters; a valid line ends with it (column 69).

    >>> tle_checksum("1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927")
    7
    """
    return sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10


def check_tle_line(name: str, line: object, number: int) -> str:
    """``line`` if it is TLE line ``number`` (1 or 2) with a valid checksum, else a clear error.

    >>> check_tle_line("orbit.tle_line1", "1 41731U" + " " * 60 + "7", 1)[:8]
    '1 41731U'
    """
    if not isinstance(line, str) or len(line.rstrip()) != 69:
        size = len(line.rstrip()) if isinstance(line, str) else "no"
        raise ValidationError(
            f"{name} is not valid: expected a TLE line of 69 characters, got {size} characters"
        )
    if line[0] != str(number) or line[1] != " ":
        raise ValidationError(
            f"{name} is not valid: expected TLE line {number} (starting with '{number} '), "
            f"got {line[:2]!r}"
        )
    if not line[68].isdigit() or int(line[68]) != tle_checksum(line):
        raise ValidationError(
            f"{name} is not valid: checksum digit {line[68]!r} does not match the modulo-10 "
            f"checksum {tle_checksum(line)} of its first 68 characters (a corrupted or edited line)"
        )
    return line


def _timedelta_days(days: float):
    from datetime import timedelta

    return timedelta(days=float(days))


Orbit = CircularOrbit | TLEOrbit
