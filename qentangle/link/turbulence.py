"""Atmospheric turbulence on a downlink: Cn^2 profile, Fried parameter, seeing, spot, fading.

Pure numpy, closed forms. Heights ``h`` are metres above the receiving site.

**Profile.** Hufnagel-Valley (Andrews & Phillips, *Laser Beam Propagation through Random
Media*, 2nd ed., eq. 12.1):

    Cn2(h) = 0.00594 (v / 27)^2 (1e-5 h)^10 exp(-h / 1000) + 2.7e-16 exp(-h / 1500)
             + A exp(-h / 100)

with ``A`` the site's ground-level Cn^2 (m^-2/3) and ``v`` the rms high-altitude wind (m/s);
HV 5/7 is A = 1.7e-14, v = 21 m/s. Every moment ``int h^m Cn2(h) dh`` from 0 to infinity is a
sum of Gamma functions (:func:`hv_moment`).

**Slant path.** Along a path at zenith angle z the turbulence integral is the vertical one times
the air mass X(z) (``1 / cos z`` for a plane-parallel atmosphere; the package's Kasten-Young air
mass keeps it finite at the horizon). The Fried parameter of a plane wave (a downlink: the
turbulence sits at the end of the path) is

    r0 = (0.423 k^2 X(z) int Cn2 dh)^(-3/5),   k = 2 pi / lambda,

and the long-exposure seeing (FWHM of the blurred spot) is 0.98 lambda / r0.

**Tilt and tracking.** One-axis angle-of-arrival (G-tilt) variance over an aperture D is
0.170 (lambda / D)^2 (D / r0)^(5/3): it grows as X(z), so its rms grows as sqrt(X) towards the
horizon. A ground station's fine tracking removes the tilt but for a residual fraction ``g``
(its rejection): the spot's centroid then jitters with rms ``g sigma_tilt`` per axis on top of
the short-exposure spot, which is the long-exposure spot without its tilt.

**Scintillation.** Downlink (plane wave) Rytov index for a point receiver,
sigma_1^2 = 2.25 k^(7/6) X^(11/6) int Cn2(h) h^(5/6) dh, reduced by aperture averaging
A(D) = (1 + 1.062 k D^2 / (4 L_eff))^(-7/6) with the turbulence's effective distance
L_eff = X(z) H_eff (Andrews & Phillips eqs. 12.37 and 10.54, weak fluctuations). The
transmittance within a slice then fades log-normally with unit mean (:func:`lognormal_fading`):
the mean loss is unchanged, the count statistics are not.

>>> cn2 = hufnagel_valley(np.array([0.0, 1000.0]), ground_cn2=1.7e-14, wind_mps=21.0)
>>> [f"{x:.3g}" for x in cn2]
['1.73e-14', '1.39e-16']
>>> r0 = fried_parameter(0.0, 810e-9, hv_moment(0.0, ground_cn2=1.7e-14, wind_mps=21.0))
>>> round(float(r0) * 100, 1)  # cm at zenith, 810 nm
8.9
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from qentangle.errors import check_range

HV57_GROUND_CN2 = 1.7e-14
"""HV 5/7 ground-level Cn^2 (m^-2/3)."""
HV57_WIND_MPS = 21.0
"""HV 5/7 rms high-altitude wind (m/s)."""
SEEING_FWHM = 0.98
"""Long-exposure seeing FWHM in units of lambda / r0."""
TILT_VARIANCE = 0.170
"""One-axis G-tilt variance in units of (lambda / D)^2 (D / r0)^(5/3)."""
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def hufnagel_valley(h_m: np.ndarray | float, *, ground_cn2: float, wind_mps: float) -> np.ndarray:
    """Hufnagel-Valley Cn^2 (m^-2/3) at heights ``h_m`` above the site.

    >>> float(hufnagel_valley(0.0, ground_cn2=0.0, wind_mps=21.0))
    2.7e-16
    """
    h = np.asarray(h_m, dtype=float)
    return (
        0.00594 * (wind_mps / 27.0) ** 2 * (1e-5 * h) ** 10 * np.exp(-h / 1000.0)
        + 2.7e-16 * np.exp(-h / 1500.0)
        + ground_cn2 * np.exp(-h / 100.0)
    )


def hv_moment(m: float, *, ground_cn2: float, wind_mps: float) -> float:
    """``int_0^inf h^m Cn2(h) dh`` of the Hufnagel-Valley profile (closed form, m > -1).

    m = 0 is the turbulence strength of the vertical path (m^1/3); m = 5/6 enters scintillation.

    >>> f"{hv_moment(0.0, ground_cn2=1.7e-14, wind_mps=21.0):.3g}"
    '2.24e-12'
    """
    check_range("m", m, -1.0, low_open=True)
    upper = 0.00594 * (wind_mps / 27.0) ** 2 * 1e-50 * math.gamma(11.0 + m) * 1000.0 ** (11.0 + m)
    return upper + math.gamma(1.0 + m) * (2.7e-16 * 1500.0 ** (1.0 + m) + ground_cn2 * 100.0 ** (1.0 + m))


def fried_parameter(
    zenith_rad: np.ndarray | float,
    wavelength_m: float,
    cn2_integral: float,
    airmass: np.ndarray | None = None,
) -> np.ndarray:
    """Plane-wave Fried parameter r0 (m) along a slant path: (0.423 k^2 X int Cn2)^(-3/5).

    ``cn2_integral`` is the vertical ``int Cn2 dh`` (m^1/3); ``airmass`` the path's X(z)
    (default 1 / cos z). Infinite without turbulence.

    >>> round(float(fried_parameter(np.pi / 3, 500e-9, 1e-12)), 4)  # X = 2
    0.053
    """
    check_range("wavelength_m", wavelength_m, 0.0, low_open=True)
    check_range("cn2_integral", cn2_integral, 0.0)
    x = 1.0 / np.cos(np.asarray(zenith_rad, dtype=float)) if airmass is None else np.asarray(airmass)
    k = 2.0 * math.pi / wavelength_m
    strength = 0.423 * k**2 * x * cn2_integral
    with np.errstate(divide="ignore"):
        return np.where(strength > 0, strength ** -0.6, np.inf)


def seeing_fwhm_rad(r0_m: np.ndarray | float, wavelength_m: float) -> np.ndarray:
    """Long-exposure seeing FWHM 0.98 lambda / r0 (rad).

    >>> round(float(seeing_fwhm_rad(0.1, 500e-9)) * 206264.8, 2)  # arcsec
    1.01
    """
    return SEEING_FWHM * wavelength_m / np.asarray(r0_m, dtype=float)


def tilt_rms_rad(r0_m: np.ndarray | float, wavelength_m: float, aperture_m: float) -> np.ndarray:
    """One-axis rms angle-of-arrival (G-tilt) over an aperture D: sqrt(0.170 (l/D)^2 (D/r0)^(5/3)).

    >>> round(float(tilt_rms_rad(0.1, 810e-9, 1.2)) * 1e6, 2)  # microradians
    2.21
    """
    r0 = np.asarray(r0_m, dtype=float)
    return np.sqrt(TILT_VARIANCE * (wavelength_m / aperture_m) ** 2 * (aperture_m / r0) ** (5.0 / 3.0))


def spot_fwhm_rad(
    r0_m: np.ndarray | float, wavelength_m: float, aperture_m: float, *, tracking_residual: float,
    tracking_floor_rad: float = 0.0,
) -> np.ndarray:
    """FWHM of the received spot in the focal plane, as a Gaussian, with tracking (rad).

    The long-exposure seeing disc holds the tilt; fine tracking leaves ``tracking_residual``
    (0 = perfect, 1 = none) of its rms, plus a fixed rms ``tracking_floor_rad`` per axis of
    the tracking loop itself:

        FWHM^2 = seeing^2 - (1 - g^2) (2.355 sigma_tilt)^2 + (2.355 sigma_floor)^2,

    never below the diffraction FWHM 1.03 lambda / D.

    >>> seeing = float(seeing_fwhm_rad(0.1, 810e-9))
    >>> float(spot_fwhm_rad(0.1, 810e-9, 1.2, tracking_residual=1.0)) == seeing
    True
    """
    check_range("tracking_residual", tracking_residual, 0.0, 1.0)
    check_range("tracking_floor_rad", tracking_floor_rad, 0.0)
    seeing = seeing_fwhm_rad(r0_m, wavelength_m)
    tilt = FWHM_PER_SIGMA * tilt_rms_rad(r0_m, wavelength_m, aperture_m)
    square = seeing**2 - (1.0 - tracking_residual**2) * tilt**2 + (FWHM_PER_SIGMA * tracking_floor_rad) ** 2
    return np.sqrt(np.maximum(square, (1.03 * wavelength_m / aperture_m) ** 2))


def field_stop_efficiency(spot_fwhm: np.ndarray | float, field_of_view_rad: float) -> np.ndarray:
    """Fraction of a Gaussian spot of FWHM ``spot_fwhm`` inside a circular stop of full angle phi.

    1 - exp(-ln 2 (phi / FWHM)^2); 1 when ``field_of_view_rad`` is 0 (no stop).

    >>> round(float(field_stop_efficiency(1.0, 1.0)), 3)
    0.5
    """
    spot = np.asarray(spot_fwhm, dtype=float)
    if field_of_view_rad == 0.0:
        return np.ones_like(spot)
    return -np.expm1(-math.log(2.0) * (field_of_view_rad / spot) ** 2)


def scintillation_index(
    zenith_rad: np.ndarray | float, wavelength_m: float, aperture_m: float, *, ground_cn2: float,
    wind_mps: float, airmass: np.ndarray | None = None,
) -> np.ndarray:
    """Aperture-averaged scintillation index of a downlink (weak fluctuations, plane wave).

    sigma_I^2 = 2.25 k^(7/6) X^(11/6) mu_(5/6) (1 + 1.062 k D^2 / (4 X H))^(-7/6), with
    mu_(5/6) = int Cn2 h^(5/6) dh and H = mu_1 / mu_0 the profile's mean height.

    >>> s = scintillation_index(0.0, 810e-9, 1.2, ground_cn2=1.7e-14, wind_mps=21.0)
    >>> 0 < float(s) < 0.01
    True
    """
    x = 1.0 / np.cos(np.asarray(zenith_rad, dtype=float)) if airmass is None else np.asarray(airmass)
    k = 2.0 * math.pi / wavelength_m
    mu_56 = hv_moment(5.0 / 6.0, ground_cn2=ground_cn2, wind_mps=wind_mps)
    mu_0 = hv_moment(0.0, ground_cn2=ground_cn2, wind_mps=wind_mps)
    height = hv_moment(1.0, ground_cn2=ground_cn2, wind_mps=wind_mps) / mu_0
    point = 2.25 * k ** (7.0 / 6.0) * x ** (11.0 / 6.0) * mu_56
    averaging = (1.0 + 1.062 * k * aperture_m**2 / (4.0 * x * height)) ** (-7.0 / 6.0)
    return point * averaging


def lognormal_fading(
    rng: np.random.Generator, scintillation: np.ndarray | float, size: int | tuple[int, ...] | None = None
) -> np.ndarray:
    """Unit-mean log-normal transmittance factors of scintillation index sigma_I^2.

    ln F ~ N(-s^2 / 2, s^2) with s^2 = ln(1 + sigma_I^2): E[F] = 1, Var[F] = sigma_I^2.

    >>> f = lognormal_fading(np.random.default_rng(1), 0.2, 200_000)
    >>> round(float(f.mean()), 2), round(float(f.var()), 2)
    (1.0, 0.2)
    """
    s2 = np.log1p(np.asarray(scintillation, dtype=float))
    shape = np.shape(s2) if size is None else size
    return np.exp(rng.normal(-s2 / 2.0, np.sqrt(s2), shape))


@dataclass(frozen=True)
class Turbulence:
    """A site's turbulence and tracking (the inputs of :func:`field_stop_efficiency` et al.).

    Parameters:
        ground_cn2: Hufnagel-Valley ground-level Cn^2 (m^-2/3); 0 with ``wind_mps`` 0 = no
            turbulence.
        wind_mps: rms high-altitude wind of the HV profile (m/s).
        tracking_residual: fraction of the atmospheric tilt left by the fine tracking (0..1).
        tracking_floor_urad: rms per axis of the tracking loop's own error (microradians).
    """

    ground_cn2: float = HV57_GROUND_CN2
    wind_mps: float = HV57_WIND_MPS
    tracking_residual: float = 1.0
    tracking_floor_urad: float = 0.0

    def __post_init__(self) -> None:
        check_range("ground_cn2", self.ground_cn2, 0.0, 1e-11)
        check_range("wind_mps", self.wind_mps, 0.0, 200.0)
        check_range("tracking_residual", self.tracking_residual, 0.0, 1.0)
        check_range("tracking_floor_urad", self.tracking_floor_urad, 0.0, 1e4)

    @property
    def cn2_integral(self) -> float:
        """Vertical ``int Cn2 dh`` (m^1/3)."""
        return hv_moment(0.0, ground_cn2=self.ground_cn2, wind_mps=self.wind_mps)

    def spot_fwhm_rad(self, airmass: np.ndarray, wavelength_m: float, aperture_m: float) -> np.ndarray:
        """Spot FWHM in the focal plane at air mass ``airmass`` (rad)."""
        r0 = fried_parameter(0.0, wavelength_m, self.cn2_integral, airmass=np.asarray(airmass, dtype=float))
        return spot_fwhm_rad(
            r0, wavelength_m, aperture_m, tracking_residual=self.tracking_residual,
            tracking_floor_rad=self.tracking_floor_urad * 1e-6,
        )

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return asdict(self)
