"""Ground stations: where they are, how large their telescope is, how low they can look.

>>> delingha = GroundStation("Delingha", 37.3790, 97.7270, altitude_m=3153.0, aperture_m=1.2)
>>> round(float(delingha.ecef_m[2]) / 1e3, 1)
3852.8
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from qentangle.errors import ValidationError, check_probability, check_range
from qentangle.link.geometry import WGS84, geodetic_to_ecef
from qentangle.link.turbulence import Turbulence


@dataclass(frozen=True)
class GroundStation:
    """A receiving ground station on the WGS84 ellipsoid.

    Parameters:
        name: label used in reports and plots.
        latitude_deg, longitude_deg: geodetic coordinates (degrees, east positive).
        altitude_m: height above the ellipsoid (m).
        aperture_m: receiving telescope diameter (m).
        min_elevation_deg: lowest elevation at which the station tracks the satellite.
        zenith_transmittance: clear-sky atmospheric transmittance at zenith at the link's
            wavelength (higher at high-altitude sites).
        optics_efficiency: transmittance of the receiving telescope and the optics up to the
            detectors (mirrors, filters, polarization analysis, fibre coupling).
        background_night_hz, background_day_hz: background counts per second reaching the
            detectors (all detectors of the station together) at night and by day.
        seeing_arcsec: atmospheric seeing (FWHM of the blurred spot) at zenith at the link's
            wavelength, arcseconds; 0 for none.
        field_of_view_urad: full angle of the receiver's field stop (microradians); 0 for
            an unlimited field (no field-stop loss).
        ground_cn2: Hufnagel-Valley ground-level Cn^2 of the site (m^-2/3); 0 (with
            ``seeing_arcsec``) keeps the seeing model. When positive, the spot against the field
            stop comes from the HV profile along the slant path
            (:mod:`qentangle.link.turbulence`) and ``seeing_arcsec`` must be 0.
        wind_mps: rms high-altitude wind of the HV profile (m/s).
        tracking_residual: fraction of the atmospheric tilt the fine tracking leaves (0..1).
        tracking_floor_urad: rms per axis of the tracking loop's own error (microradians).
        key: the scenario key of this station (``alice``/``bob``) for error messages.
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    aperture_m: float = 1.0
    min_elevation_deg: float = 10.0
    zenith_transmittance: float = 0.85
    optics_efficiency: float = 0.5
    background_night_hz: float = 0.0
    background_day_hz: float = 0.0
    seeing_arcsec: float = 0.0
    field_of_view_urad: float = 0.0
    ground_cn2: float = 0.0
    wind_mps: float = 21.0
    tracking_residual: float = 1.0
    tracking_floor_urad: float = 0.0
    key: str = "station"

    def __post_init__(self) -> None:
        p = f"stations.{self.key}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(f"{p}.name={self.name!r} is not valid: expected a non-empty name")
        check_range(f"{p}.latitude_deg", self.latitude_deg, -90.0, 90.0)
        check_range(f"{p}.longitude_deg", self.longitude_deg, -180.0, 360.0)
        check_range(f"{p}.altitude_m", self.altitude_m, -500.0, 9000.0)
        check_range(f"{p}.aperture_m", self.aperture_m, 0.0, 100.0, low_open=True)
        check_range(f"{p}.min_elevation_deg", self.min_elevation_deg, 0.0, 90.0, high_open=True)
        check_probability(f"{p}.zenith_transmittance", self.zenith_transmittance)
        if self.zenith_transmittance == 0.0:
            raise ValidationError(
                f"{p}.zenith_transmittance=0.0 is out of range: expected 0 < value <= 1"
            )
        check_probability(f"{p}.optics_efficiency", self.optics_efficiency)
        check_range(f"{p}.background_night_hz", self.background_night_hz, 0.0)
        check_range(f"{p}.background_day_hz", self.background_day_hz, 0.0)
        check_range(f"{p}.seeing_arcsec", self.seeing_arcsec, 0.0, 60.0)
        check_range(f"{p}.field_of_view_urad", self.field_of_view_urad, 0.0, 1e5)
        check_range(f"{p}.ground_cn2", self.ground_cn2, 0.0, 1e-11)
        check_range(f"{p}.wind_mps", self.wind_mps, 0.0, 200.0)
        check_range(f"{p}.tracking_residual", self.tracking_residual, 0.0, 1.0)
        check_range(f"{p}.tracking_floor_urad", self.tracking_floor_urad, 0.0, 1e4)
        if self.ground_cn2 > 0.0 and self.seeing_arcsec > 0.0:
            raise ValidationError(
                f"{p}.seeing_arcsec={self.seeing_arcsec!r} is not valid with {p}.ground_cn2 > 0: "
                "expected 0 (the seeing then comes from the Cn^2 profile)"
            )

    @property
    def latitude_rad(self) -> float:
        """Geodetic latitude (rad)."""
        return math.radians(self.latitude_deg)

    @property
    def longitude_rad(self) -> float:
        """Longitude (rad)."""
        return math.radians(self.longitude_deg)

    @property
    def min_elevation_rad(self) -> float:
        """Minimum tracking elevation (rad)."""
        return math.radians(self.min_elevation_deg)

    @property
    def seeing_rad(self) -> float:
        """Zenith seeing FWHM (rad)."""
        return math.radians(self.seeing_arcsec / 3600.0)

    @property
    def turbulence(self) -> Turbulence | None:
        """The site's Hufnagel-Valley turbulence and tracking, or None (``ground_cn2 = 0``)."""
        if self.ground_cn2 == 0.0:
            return None
        return Turbulence(self.ground_cn2, self.wind_mps, self.tracking_residual, self.tracking_floor_urad)

    @property
    def field_of_view_rad(self) -> float:
        """Full angle of the field stop (rad)."""
        return self.field_of_view_urad * 1e-6

    @cached_property
    def ecef_m(self) -> np.ndarray:
        """ECEF position (m) on WGS84."""
        return geodetic_to_ecef(self.latitude_rad, self.longitude_rad, self.altitude_m, WGS84)

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return asdict(self)


def dms_to_deg(degrees: float, minutes: float = 0.0, seconds: float = 0.0) -> float:
    """Degrees-minutes-seconds to decimal degrees (sign taken from ``degrees``).

    >>> round(dms_to_deg(37, 22, 44.43), 6)
    37.379008
    """
    sign = -1.0 if degrees < 0 else 1.0
    return sign * (abs(degrees) + minutes / 60.0 + seconds / 3600.0)
