"""Count rates and the noise they put on detected pairs (vectorised over time slices).

Model (rates per second; B = pair rate, eta_i = probability that a photon leaving the source
is detected at station i, n_i = dark + background counts of station i, W = coincidence windows
per second, 1/tau for a CW source):

* singles:       S_i = B eta_i + n_i
* true pairs:    C_t = B eta_a eta_b
* accidentals:   C_a = S_a S_b / W  (= S_a S_b tau for CW); the part (B eta_a)(B eta_b) / W
  comes from photons of *different* pairs (multi-pair emission)
* detected coincidences C = C_t + C_a, signal-to-noise C_t / C_a.

An accidental coincidence pairs two unrelated photons: its outcomes are uniformly random
(white noise). A detected pair is therefore

    rho = (1 - w) [V |psi><psi| + (1 - V) I/4] + w I/4,    w = C_a / (C_t + C_a),

i.e. Qiskit's two-qubit depolarizing channel with p = 1 - V (the source's intrinsic
visibility) followed by a white-noise fraction w (the quantum layer's ``accidental``). With a
residual polarization rotation delta of one arm, the correlation in matched bases is
E = V (1 - w) cos(2 delta), so the expected QBER is

    QBER = (1 - V (1 - w) cos(2 delta)) / 2
         = [C_t (1 - V cos 2 delta) / 2 + C_a / 2] / (C_t + C_a),

and the CHSH value at the ideal settings is S = 2 sqrt(2) V (1 - w) cos(2 delta).

>>> r = coincidence_rates(5.9e6, 1e-3, 1e-3, 500.0, 500.0, windows_per_second=4e8)
>>> round(float(r.coincidence_rate_hz), 3), round(float(r.accidental_rate_hz), 4)
(5.9, 0.1024)
>>> round(float(expected_qber(0.97, r.accidental_fraction)), 4)
0.0233
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qentangle.errors import ValidationError, check_probability, check_range


@dataclass(frozen=True)
class CoincidenceRates:
    """Singles, true and accidental coincidence rates (Hz), as arrays over time slices."""

    singles_a_hz: np.ndarray
    singles_b_hz: np.ndarray
    coincidence_rate_hz: np.ndarray
    """True coincidences (both photons of one pair detected), C_t = B eta_a eta_b."""
    accidental_rate_hz: np.ndarray
    """Accidental coincidences, C_a = S_a S_b / W."""
    multipair_rate_hz: np.ndarray
    """The part of the accidentals due to photons of two different pairs."""

    @property
    def detected_rate_hz(self) -> np.ndarray:
        """All coincidences the stations record: C_t + C_a."""
        return self.coincidence_rate_hz + self.accidental_rate_hz

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio C_t / C_a (inf without accidentals)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.accidental_rate_hz > 0,
                self.coincidence_rate_hz / np.maximum(self.accidental_rate_hz, 1e-300),
                np.inf,
            )

    @property
    def accidental_fraction(self) -> np.ndarray:
        """White-noise fraction w = C_a / (C_t + C_a) of detected pairs (0 when none)."""
        total = self.detected_rate_hz
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, self.accidental_rate_hz / np.maximum(total, 1e-300), 0.0)


def coincidence_rates(
    pair_rate_hz: float,
    eta_a: np.ndarray | float,
    eta_b: np.ndarray | float,
    noise_a_hz: np.ndarray | float,
    noise_b_hz: np.ndarray | float,
    *,
    windows_per_second: float,
) -> CoincidenceRates:
    """Singles, true and accidental coincidence rates for each time slice.

    ``eta_*`` are end-to-end detection probabilities (channel and detector), ``noise_*_hz``
    the dark plus background counts per second of each station, ``windows_per_second``
    1/tau for a CW source or the pulse rate of a pulsed one.

    >>> r = coincidence_rates(1e6, 1e-3, 1e-3, 0.0, 0.0, windows_per_second=1e9)
    >>> float(r.coincidence_rate_hz), float(r.accidental_rate_hz)
    (1.0, 0.001)
    """
    check_range("pair_rate_hz", pair_rate_hz, 0.0)
    check_range("windows_per_second", windows_per_second, 0.0, low_open=True)
    eta_a, eta_b = np.asarray(eta_a, dtype=float), np.asarray(eta_b, dtype=float)
    for name, eta in (("eta_a", eta_a), ("eta_b", eta_b)):
        if np.any((eta < 0) | (eta > 1)) or not np.all(np.isfinite(eta)):
            raise ValidationError(f"{name} is out of range: expected 0 <= {name} <= 1")
    noise_a = np.asarray(noise_a_hz, dtype=float)
    noise_b = np.asarray(noise_b_hz, dtype=float)
    if np.any(noise_a < 0) or np.any(noise_b < 0):
        raise ValidationError("noise_a_hz/noise_b_hz are out of range: expected >= 0")
    signal_a, signal_b = pair_rate_hz * eta_a, pair_rate_hz * eta_b
    singles_a, singles_b = signal_a + noise_a, signal_b + noise_b
    true = pair_rate_hz * eta_a * eta_b
    accidental = singles_a * singles_b / windows_per_second
    multipair = signal_a * signal_b / windows_per_second
    true, accidental, multipair, singles_a, singles_b = np.broadcast_arrays(
        true, accidental, multipair, singles_a, singles_b
    )
    return CoincidenceRates(
        singles_a_hz=singles_a.copy(),
        singles_b_hz=singles_b.copy(),
        coincidence_rate_hz=true.copy(),
        accidental_rate_hz=accidental.copy(),
        multipair_rate_hz=multipair.copy(),
    )


def expected_qber(
    visibility: float, accidental_fraction: np.ndarray | float, misalignment_deg: float = 0.0
) -> np.ndarray:
    """QBER in matched bases: (1 - V (1 - w) cos(2 delta)) / 2.

    >>> [round(float(expected_qber(v, w)), 6) for v, w in ((1.0, 0.0), (0.9, 0.0), (1.0, 1.0))]
    [0.0, 0.05, 0.5]
    """
    v = check_probability("visibility", visibility)
    w = np.asarray(accidental_fraction, dtype=float)
    c = np.cos(2.0 * np.radians(check_range("misalignment_deg", misalignment_deg, -90.0, 90.0)))
    return (1.0 - v * (1.0 - w) * c) / 2.0


def expected_chsh(
    visibility: float, accidental_fraction: np.ndarray | float, misalignment_deg: float = 0.0
) -> np.ndarray:
    """CHSH value at the ideal settings: 2 sqrt(2) V (1 - w) cos(2 delta).

    >>> round(float(expected_chsh(1.0, 0.0)), 6)
    2.828427
    """
    v = check_probability("visibility", visibility)
    w = np.asarray(accidental_fraction, dtype=float)
    c = np.cos(2.0 * np.radians(check_range("misalignment_deg", misalignment_deg, -90.0, 90.0)))
    return 2.0 * np.sqrt(2.0) * v * (1.0 - w) * c


def ma_fung_lo(
    eta_a: np.ndarray | float,
    eta_b: np.ndarray | float,
    mean_pairs: float,
    y0_a: np.ndarray | float,
    y0_b: np.ndarray | float,
    intrinsic_error: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Gain Q and QBER E per pulse (coincidence window) of an SPDC source, Ma-Fung-Lo model.

    X. Ma, C.-H. F. Fung and H.-K. Lo, Phys. Rev. A 76, 012307 (2007), with lambda = mu / 2
    (``mean_pairs`` = mu, the mean pair number per pulse, thermal statistics), detection
    efficiencies ``eta_*``, dark/background click probabilities per pulse ``y0_*`` and
    intrinsic error ``e_d`` (e0 = 1/2):

        Q = 1 - (1-Y0A)/(1+eta_A l)^2 - (1-Y0B)/(1+eta_B l)^2
              + (1-Y0A)(1-Y0B)/(1 + eta_A l + eta_B l - eta_A eta_B l)^2
        E Q = e0 Q - 2 (e0 - e_d) eta_A eta_B l (1 + l)
              / ((1 + eta_A l)(1 + eta_B l)(1 + eta_A l + eta_B l - eta_A eta_B l))

    For a CW source, a coincidence window of width tau plays the role of a pulse:
    mu = B tau, y0 = (dark + background) tau. When multi-pair emission is negligible beside
    dark and background counts (mu eta << y0) this agrees with :func:`expected_qber` applied to
    :func:`coincidence_rates`, up to terms of relative order mu, eta and y0.

    >>> q, e = ma_fung_lo(0.1, 0.1, 0.01, 0.0, 0.0, 0.0)
    >>> round(float(e), 6)  # no dark counts, no intrinsic error: only multi-pair errors
    0.00445
    """
    check_range("mean_pairs", mean_pairs, 0.0)
    e_d = check_probability("intrinsic_error", intrinsic_error, upper=0.5)
    lam = mean_pairs / 2.0
    ea, eb = np.asarray(eta_a, dtype=float), np.asarray(eta_b, dtype=float)
    ya, yb = np.asarray(y0_a, dtype=float), np.asarray(y0_b, dtype=float)
    joint = 1.0 + ea * lam + eb * lam - ea * eb * lam
    gain = (
        1.0
        - (1.0 - ya) / (1.0 + ea * lam) ** 2
        - (1.0 - yb) / (1.0 + eb * lam) ** 2
        + (1.0 - ya) * (1.0 - yb) / joint**2
    )
    e0 = 0.5
    error_gain = e0 * gain - 2.0 * (e0 - e_d) * ea * eb * lam * (1.0 + lam) / (
        (1.0 + ea * lam) * (1.0 + eb * lam) * joint
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        qber = np.where(gain > 0, error_gain / np.maximum(gain, 1e-300), e0)
    return gain, qber
