"""The entangled-photon pair source on the satellite.

>>> source = PairSource(pair_rate_hz=5.9e6, visibility=0.97)
>>> round(source.depolarizing, 2)
0.03
>>> round(source.mean_pairs_per_window(2.5e-9), 5)  # CW: mu = B tau
0.01475
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from qentangle.errors import check_choice, check_probability, check_range

BELL_STATES = ("phi+", "phi-", "psi+", "psi-")


@dataclass(frozen=True)
class PairSource:
    """An SPDC source of polarization-entangled pairs.

    Parameters:
        pair_rate_hz: pairs per second leaving the source towards the two transmitters (B).
        visibility: intrinsic two-photon visibility V of the emitted pairs; the pair is
            the Werner state V |psi><psi| + (1 - V) I/4, i.e. Qiskit's two-qubit depolarizing
            channel with p = 1 - V.
        wavelength_nm: wavelength of both photons.
        state: the ideal Bell state emitted (``phi+``, ``phi-``, ``psi+``, ``psi-``).
        rep_rate_hz: 0 for a continuous-wave pump (then each coincidence window is one
            "pulse" holding on average B tau pairs); otherwise the pulse repetition rate of a
            pulsed pump (B / rep_rate pairs per pulse). Pair numbers are Poisson distributed
            (a CW pump and a window much longer than the photons' coherence time hold many
            modes).
    """

    pair_rate_hz: float = 5.9e6
    visibility: float = 0.97
    wavelength_nm: float = 810.0
    state: str = "psi+"
    rep_rate_hz: float = 0.0

    def __post_init__(self) -> None:
        check_range("source.pair_rate_hz", self.pair_rate_hz, 0.0, 1e12)
        check_probability("source.visibility", self.visibility)
        check_range("source.wavelength_nm", self.wavelength_nm, 100.0, 20000.0)
        check_choice("source.state", self.state, BELL_STATES)
        check_range("source.rep_rate_hz", self.rep_rate_hz, 0.0, 1e12)

    @property
    def wavelength_m(self) -> float:
        """Wavelength (m)."""
        return self.wavelength_nm * 1e-9

    @property
    def depolarizing(self) -> float:
        """Two-qubit depolarizing parameter p = 1 - V (Qiskit convention)."""
        return 1.0 - self.visibility

    def windows_per_second(self, window_s: float) -> float:
        """Coincidence windows (CW: 1 / tau) or pulses (pulsed: rep rate) per second."""
        check_range("coincidence_window_s", window_s, 0.0, low_open=True)
        return self.rep_rate_hz if self.rep_rate_hz > 0 else 1.0 / window_s

    def mean_pairs_per_window(self, window_s: float) -> float:
        """Mean pairs per coincidence window or pulse, mu (multi-pair emission ~ mu^2)."""
        return self.pair_rate_hz / self.windows_per_second(window_s)

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return asdict(self)
