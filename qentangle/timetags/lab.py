"""Fixed (ground) links for click-stream simulations: the ``lab`` preset.

The scenario model describes satellite passes only (orbit, stations, time), so a fixed link
with constant loss lives here, at the time-tag level: a pair source, one constant loss per arm
(including the detectors' efficiency), background, fibre delays and the detectors.

``lab`` (:data:`LAB`): 10^6 pairs/s, 10 dB per arm (a 20 dB two-photon link), 1 kHz background
and 100 Hz dark counts per detector, 100 ps rms jitter, 50 ns dead time, 1 ns window. Singles
are about 10^5/s per station and true coincidences 10^4/s, so synchronisation needs a fraction
of a second of data, even for a clock offset of +-1 s and a drift of 10 ppm.

>>> LAB.two_photon_loss_db, round(LAB.eta_a, 3)
(20.0, 0.1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from qentangle.errors import ValidationError, check_choice, check_probability, check_range
from qentangle.timetags.streams import DetectorModel

BELL_STATES = ("phi+", "phi-", "psi+", "psi-")


@dataclass(frozen=True)
class FixedLink:
    """A ground link of constant loss between a pair source and two stations."""

    name: str = "lab"
    pair_rate_hz: float = 1e6
    loss_a_db: float = 10.0
    """Alice's arm, source to click (fibre or free space, optics and detector efficiency)."""
    loss_b_db: float = 10.0
    background_a_hz: float = 1000.0
    """Background counts per second at Alice's station (all detectors)."""
    background_b_hz: float = 1000.0
    visibility: float = 0.97
    state: str = "psi+"
    delay_a_s: float = 50e-9
    delay_b_s: float = 50e-9
    coincidence_window_ns: float = 1.0
    detectors: DetectorModel = field(
        default_factory=lambda: DetectorModel(dark_count_hz=100.0, jitter_ps=100.0, dead_time_ns=50.0)
    )

    def __post_init__(self) -> None:
        check_range("link.pair_rate_hz", self.pair_rate_hz, 0.0, 1e10, low_open=True)
        check_range("link.loss_a_db", self.loss_a_db, 0.0, 200.0)
        check_range("link.loss_b_db", self.loss_b_db, 0.0, 200.0)
        check_range("link.background_a_hz", self.background_a_hz, 0.0, 1e9)
        check_range("link.background_b_hz", self.background_b_hz, 0.0, 1e9)
        check_probability("link.visibility", self.visibility)
        check_choice("link.state", self.state, BELL_STATES)
        check_range("link.delay_a_s", self.delay_a_s, 0.0, 1.0)
        check_range("link.delay_b_s", self.delay_b_s, 0.0, 1.0)
        check_range("link.coincidence_window_ns", self.coincidence_window_ns, 0.0, 1e6, low_open=True)

    @property
    def eta_a(self) -> float:
        """Alice's transmittance (probability that her photon makes a click)."""
        return 10.0 ** (-self.loss_a_db / 10.0)

    @property
    def eta_b(self) -> float:
        """Bob's transmittance."""
        return 10.0 ** (-self.loss_b_db / 10.0)

    @property
    def two_photon_loss_db(self) -> float:
        """loss_a_db + loss_b_db."""
        return self.loss_a_db + self.loss_b_db

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        data = asdict(self)
        data["detectors"] = self.detectors.to_dict()
        return data


LAB = FixedLink()
FIXED_LINKS = {"lab": LAB}


def fixed_link(name: str) -> FixedLink:
    """A fixed-link preset by name (``lab``)."""
    if name not in FIXED_LINKS:
        raise ValidationError(
            f"fixed link {name!r} is not a preset: expected one of {', '.join(FIXED_LINKS)}"
        )
    return FIXED_LINKS[name]
