"""Link budget of one downlink: diffraction, atmosphere, pointing, optics.

Each factor is a transmittance in [0, 1] (vectorised over arrays); :func:`to_db` turns a
transmittance into a loss in dB. Per downlink

    eta = eta_tx * eta_diffraction(L) * eta_atmosphere(z) * eta_fov(z) * eta_pointing
          * eta_rx * eta_det

where L is the slant range, z the zenith angle and eta_fov the fraction of the seeing-blurred
spot inside the receiver's field stop. The two-photon (double-downlink) loss is
the sum of the two links' losses in dB: coincidences = pair_rate * eta_a * eta_b.

>>> import numpy as np
>>> w = beam_radius_m(1.0e6, divergence_rad=10e-6, wavelength_m=810e-9)
>>> round(float(w), 3)
10.0
>>> round(float(to_db(collection_efficiency(0.6, w))), 2)  # 1.2 m telescope at 1000 km
21.44
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from qentangle.errors import ValidationError, check_choice, check_probability, check_range
from qentangle.link.turbulence import Turbulence, field_stop_efficiency

AIRMASS_MODELS = ("kasten-young", "secant")


def to_db(transmittance: np.ndarray | float) -> np.ndarray:
    """Loss in dB of a transmittance: -10 log10(eta) (inf for eta = 0).

    >>> float(to_db(0.5)).__round__(3)
    3.01
    """
    eta = np.asarray(transmittance, dtype=float)
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(eta)


def from_db(loss_db: np.ndarray | float) -> np.ndarray:
    """Transmittance of a loss in dB: 10^(-loss/10).

    >>> float(from_db(30.0))
    0.001
    """
    return 10.0 ** (-np.asarray(loss_db, dtype=float) / 10.0)


def waist_from_divergence_m(divergence_rad: float, wavelength_m: float) -> float:
    """Gaussian beam waist w0 = lambda / (pi theta) for far-field half-angle ``theta``.

    >>> round(waist_from_divergence_m(10e-6, 810e-9) * 100, 3)  # cm
    2.578
    """
    check_range("divergence_rad", divergence_rad, 0.0, low_open=True)
    check_range("wavelength_m", wavelength_m, 0.0, low_open=True)
    return wavelength_m / (math.pi * divergence_rad)


def beam_radius_m(
    range_m: np.ndarray | float, *, divergence_rad: float, wavelength_m: float
) -> np.ndarray:
    """1/e^2 intensity radius of a Gaussian beam after ``range_m`` from its waist.

    w(L) = w0 sqrt(1 + (L / zR)^2), zR = pi w0^2 / lambda, w0 = lambda / (pi theta).
    Far from the waist, w(L) ~ theta L.

    >>> round(float(beam_radius_m(0.0, divergence_rad=10e-6, wavelength_m=810e-9)), 5)
    0.02578
    """
    w0 = waist_from_divergence_m(divergence_rad, wavelength_m)
    z_r = math.pi * w0**2 / wavelength_m
    return w0 * np.sqrt(1.0 + (np.asarray(range_m, dtype=float) / z_r) ** 2)


def collection_efficiency(aperture_radius_m: float, beam_radius: np.ndarray | float) -> np.ndarray:
    """Fraction of a centred Gaussian beam of radius ``w`` caught by an aperture of radius a.

    1 - exp(-2 a^2 / w^2).

    >>> round(float(collection_efficiency(1.0, 1.0)), 4)
    0.8647
    """
    w = np.asarray(beam_radius, dtype=float)
    return -np.expm1(-2.0 * aperture_radius_m**2 / w**2)


def airmass(zenith_rad: np.ndarray | float, model: str = "kasten-young") -> np.ndarray:
    """Relative air mass at zenith angle z.

    ``"secant"``: 1 / cos z (plane-parallel atmosphere; diverges at the horizon).
    ``"kasten-young"``: Kasten & Young, Appl. Opt. 28, 4735 (1989),
    X = 1 / (cos z + 0.50572 (96.07995 - z_deg)^-1.6364), within 0.5 % of 1/cos z above
    30 deg elevation and finite (about 38) at the horizon.

    >>> round(float(airmass(np.radians(60.0), "secant")), 6)
    2.0
    >>> round(float(airmass(np.radians(60.0))), 3)
    1.994
    """
    check_choice("link.airmass_model", model, AIRMASS_MODELS)
    z = np.asarray(zenith_rad, dtype=float)
    if model == "secant":
        return 1.0 / np.cos(z)
    z_deg = np.degrees(z)
    return 1.0 / (np.cos(z) + 0.50572 * (96.07995 - z_deg) ** -1.6364)


def atmospheric_transmittance(
    elevation_rad: np.ndarray | float, zenith_transmittance: float, model: str = "kasten-young"
) -> np.ndarray:
    """Clear-sky transmittance T_zenith^X(z) along a slant path at elevation e (z = 90 - e).

    >>> round(float(atmospheric_transmittance(np.radians(30.0), 0.9, "secant")), 4)
    0.81
    """
    check_probability("zenith_transmittance", zenith_transmittance)
    zenith = np.pi / 2.0 - np.asarray(elevation_rad, dtype=float)
    return zenith_transmittance ** airmass(zenith, model)


def field_of_view_efficiency(
    elevation_rad: np.ndarray | float,
    *,
    seeing_rad: float,
    field_of_view_rad: float,
    model: str = "kasten-young",
    turbulence: Turbulence | None = None,
    wavelength_m: float = 810e-9,
    aperture_m: float = 1.0,
) -> np.ndarray:
    """Fraction of the focused light that passes the receiver's field stop under turbulence.

    With ``turbulence`` (a site's Hufnagel-Valley profile and tracking), the spot is the HV
    integral along the slant path: Fried parameter from ``X(z) int Cn2 dh``, long-exposure
    seeing, its tilt part reduced by the fine tracking, plus the tracking loop's own jitter
    (:meth:`qentangle.link.turbulence.Turbulence.spot_fwhm_rad`): tilt grows as sqrt(X), so the
    tracking error grows towards the horizon. Without it, a given zenith seeing ``seeing_rad``
    (FWHM) is carried along the path by the same integral of any profile: FWHM proportional to
    (X int Cn2)^(3/5), i.e. X(z)^(3/5). With a Gaussian spot, the fraction inside a circular
    field stop of full angle phi is 1 - exp(-ln 2 (phi / FWHM)^2). ``field_of_view_rad = 0``,
    or no turbulence and ``seeing_rad = 0``, means no field-stop loss.

    >>> round(float(field_of_view_efficiency(np.pi / 2, seeing_rad=1.0, field_of_view_rad=1.0)), 3)
    0.5
    >>> hv = Turbulence(tracking_residual=0.2)
    >>> eff = field_of_view_efficiency(np.radians([90.0, 10.0]), seeing_rad=0.0, field_of_view_rad=30e-6,
    ...                                turbulence=hv, aperture_m=1.2)
    >>> np.round(eff, 3).tolist()
    [1.0, 0.745]
    """
    check_range("seeing_rad", seeing_rad, 0.0)
    check_range("field_of_view_rad", field_of_view_rad, 0.0)
    e = np.asarray(elevation_rad, dtype=float)
    x = airmass(np.pi / 2.0 - e, model)
    if field_of_view_rad == 0.0 or (turbulence is None and seeing_rad == 0.0):
        return np.ones_like(e)
    if turbulence is not None:
        spot = turbulence.spot_fwhm_rad(x, wavelength_m, aperture_m)
    else:
        spot = seeing_rad * x**0.6
    return field_stop_efficiency(spot, field_of_view_rad)


def pointing_efficiency(jitter_rad: float, divergence_rad: float) -> float:
    """Mean efficiency 1 / (1 + 4 sigma^2 / theta^2) of a Gaussian beam with pointing jitter.

    ``jitter_rad`` is the rms jitter per axis (sigma), ``divergence_rad`` the beam's
    far-field half-angle (theta). This is the average of exp(-2 r^2 / w^2) over a Rayleigh
    distributed offset r of per-axis rms sigma L, with w = theta L.

    >>> round(pointing_efficiency(1e-6, 10e-6), 4)
    0.9615
    """
    check_range("pointing_jitter_rad", jitter_rad, 0.0)
    check_range("divergence_rad", divergence_rad, 0.0, low_open=True)
    return 1.0 / (1.0 + 4.0 * jitter_rad**2 / divergence_rad**2)


@dataclass(frozen=True)
class LinkConfig:
    """The satellite's transmitters and what is common to both downlinks.

    Parameters:
        divergence_urad: far-field half-angle divergence theta of each transmitted beam
            (1/e^2 intensity radius, microradians).
        pointing_jitter_urad: rms pointing error per axis of each transmitter (microradians).
        transmitter_efficiency: transmittance of the satellite optics between the source and
            free space (fibre coupling, telescope, mirrors).
        airmass_model: ``"kasten-young"`` (default) or ``"secant"``.
        misalignment_deg: residual rotation of the photon's polarization reference frame on
            Bob's arm (degrees; Bloch angle twice that), after compensation.
    """

    divergence_urad: float = 10.0
    pointing_jitter_urad: float = 0.5
    transmitter_efficiency: float = 0.8
    airmass_model: str = "kasten-young"
    misalignment_deg: float = 0.0

    def __post_init__(self) -> None:
        check_range("link.divergence_urad", self.divergence_urad, 0.0, 1e4, low_open=True)
        check_range("link.pointing_jitter_urad", self.pointing_jitter_urad, 0.0, 1e4)
        check_probability("link.transmitter_efficiency", self.transmitter_efficiency)
        check_choice("link.airmass_model", self.airmass_model, AIRMASS_MODELS)
        check_range("link.misalignment_deg", self.misalignment_deg, -90.0, 90.0)

    @property
    def divergence_rad(self) -> float:
        """Far-field half-angle (rad)."""
        return self.divergence_urad * 1e-6

    @property
    def pointing_jitter_rad(self) -> float:
        """Per-axis rms pointing jitter (rad)."""
        return self.pointing_jitter_urad * 1e-6

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return asdict(self)


@dataclass(frozen=True)
class DownlinkBudget:
    """The factors of one downlink's transmittance over time (arrays) and fixed factors."""

    diffraction: np.ndarray
    atmosphere: np.ndarray
    field_of_view: np.ndarray
    pointing: float
    transmitter: float
    receiver_optics: float
    detector: float

    @property
    def channel(self) -> np.ndarray:
        """Satellite-to-detector-input transmittance (all factors but the detector's)."""
        return (
            self.transmitter * self.diffraction * self.atmosphere * self.field_of_view
            * self.pointing * self.receiver_optics
        )

    @property
    def total(self) -> np.ndarray:
        """Probability that a photon leaving the source makes a click: channel x detector."""
        return self.channel * self.detector

    @property
    def loss_db(self) -> np.ndarray:
        """Total loss of the downlink (dB), detector efficiency included."""
        return to_db(self.total)

    def breakdown_db(self) -> dict[str, np.ndarray | float]:
        """Each factor's loss in dB (arrays for the time-dependent ones)."""
        return {
            "transmitter": float(to_db(self.transmitter)),
            "diffraction": to_db(self.diffraction),
            "atmosphere": to_db(self.atmosphere),
            "field_of_view": to_db(self.field_of_view),
            "pointing": float(to_db(self.pointing)),
            "receiver_optics": float(to_db(self.receiver_optics)),
            "detector": float(to_db(self.detector)),
        }


def downlink_budget(
    range_m: np.ndarray,
    elevation_rad: np.ndarray,
    *,
    link: LinkConfig,
    aperture_m: float,
    zenith_transmittance: float,
    receiver_optics_efficiency: float,
    detector_efficiency: float,
    wavelength_m: float,
    seeing_rad: float = 0.0,
    field_of_view_rad: float = 0.0,
    turbulence: Turbulence | None = None,
) -> DownlinkBudget:
    """Budget of one downlink over arrays of slant range and elevation.

    >>> b = downlink_budget(np.array([1.0e6]), np.array([np.pi / 2]), link=LinkConfig(),
    ...     aperture_m=1.2, zenith_transmittance=0.85, receiver_optics_efficiency=0.5,
    ...     detector_efficiency=0.5, wavelength_m=810e-9)
    >>> np.round(b.loss_db, 2).tolist()
    [29.18]
    """
    range_m = np.asarray(range_m, dtype=float)
    if np.any(range_m <= 0):
        raise ValidationError("range_m is not valid: expected positive slant ranges")
    check_range("aperture_m", aperture_m, 0.0, low_open=True)
    w = beam_radius_m(range_m, divergence_rad=link.divergence_rad, wavelength_m=wavelength_m)
    return DownlinkBudget(
        diffraction=collection_efficiency(aperture_m / 2.0, w),
        atmosphere=atmospheric_transmittance(elevation_rad, zenith_transmittance, link.airmass_model),
        field_of_view=field_of_view_efficiency(
            elevation_rad, seeing_rad=seeing_rad, field_of_view_rad=field_of_view_rad,
            model=link.airmass_model, turbulence=turbulence, wavelength_m=wavelength_m, aperture_m=aperture_m,
        ),
        pointing=pointing_efficiency(link.pointing_jitter_rad, link.divergence_rad),
        transmitter=link.transmitter_efficiency,
        receiver_optics=check_probability("receiver_optics_efficiency", receiver_optics_efficiency),
        detector=check_probability("detector_efficiency", detector_efficiency),
    )
