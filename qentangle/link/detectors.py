"""Single-photon detectors and coincidence logic at the ground stations.

>>> det = Detectors(efficiency=0.5, dark_count_hz=25.0, detectors_per_station=4)
>>> det.dark_rate_hz, det.coincidence_window_s
(100.0, 2.5e-09)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from qentangle.errors import check_positive_int, check_probability, check_range


@dataclass(frozen=True)
class Detectors:
    """The detectors of each station (both stations alike) and the coincidence window.

    Parameters:
        efficiency: detection efficiency of each single-photon detector.
        dark_count_hz: dark counts per second of one detector.
        detectors_per_station: detectors behind each telescope (4 for a passive choice
            between two bases, two outputs each).
        coincidence_window_ns: full width tau of the coincidence window (ns): two clicks
            closer than tau/2 in time (after delay compensation) make a coincidence.
    """

    efficiency: float = 0.5
    dark_count_hz: float = 25.0
    detectors_per_station: int = 4
    coincidence_window_ns: float = 2.5

    def __post_init__(self) -> None:
        check_probability("detectors.efficiency", self.efficiency)
        check_range("detectors.dark_count_hz", self.dark_count_hz, 0.0, 1e8)
        check_positive_int("detectors.detectors_per_station", self.detectors_per_station)
        check_range(
            "detectors.coincidence_window_ns", self.coincidence_window_ns, 0.0, 1e6, low_open=True
        )

    @property
    def coincidence_window_s(self) -> float:
        """Coincidence window tau (s)."""
        return self.coincidence_window_ns * 1e-9

    @property
    def dark_rate_hz(self) -> float:
        """Dark counts per second of a whole station (all its detectors)."""
        return self.dark_count_hz * self.detectors_per_station

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return asdict(self)
