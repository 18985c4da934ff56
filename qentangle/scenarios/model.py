"""Scenario objects: the validated content of a scenario TOML file.

A :class:`Scenario` holds one configuration object per TOML section. The link physics
objects (:class:`~qentangle.link.stations.GroundStation`, :class:`~qentangle.link.source.PairSource`,
:class:`~qentangle.link.detectors.Detectors`, :class:`~qentangle.link.budget.LinkConfig`) are
used as they are; the time, orbit and protocol sections are defined here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from qentangle.distill.chain import EC_METHODS
from qentangle.distill.estimate import EPS_COR, EPS_SEC
from qentangle.errors import ValidationError, check_choice, check_range
from qentangle.link.budget import LinkConfig
from qentangle.link.detectors import Detectors
from qentangle.link.geometry import great_circle_midpoint
from qentangle.link.orbit import CircularOrbit, Orbit, TLEOrbit, as_utc, check_tle_line
from qentangle.link.passes import Window
from qentangle.link.physics import BACKGROUND_MODES, CRITERIA, LinkSlices, best_pass, pass_physics
from qentangle.link.source import PairSource
from qentangle.link.stations import GroundStation
from qentangle.protocols.keying import ESTIMATION_METHODS, KeyOptions

PROTOCOLS = ("bbm92", "e91", "chsh")
ESTIMATION_CHOICES = ("auto", *ESTIMATION_METHODS)  # auto: ec for BBM92 at p_z = 1/2, else sample
ORBIT_KINDS = ("circular", "tle")
PLACEMENTS = ("midpoint", "elements")


@dataclass(frozen=True)
class TimeConfig:
    """``[time]``: when to look for a pass and how.

    Parameters:
        epoch: UTC reference time (ISO 8601); the pass search is centred on it.
        search_span_s: length of the search span (s).
        step_s: scan step of the search (s); window edges are refined below it.
        criterion: which double-visibility window to use: ``longest``, ``min_range`` or
            ``min_loss``.
        background: ``auto`` (night/day from the Sun's elevation at each station), ``night``
            or ``day``.
    """

    epoch: str = "2020-01-01T00:00:00Z"
    search_span_s: float = 86400.0
    step_s: float = 10.0
    criterion: str = "longest"
    background: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epoch", as_utc(self.epoch, "time.epoch").isoformat())
        check_range("time.search_span_s", self.search_span_s, 1.0, 30 * 86400.0)
        check_range("time.step_s", self.step_s, 0.1, 600.0)
        check_choice("time.criterion", self.criterion, CRITERIA)
        check_choice("time.background", self.background, BACKGROUND_MODES)

    @property
    def epoch_utc(self) -> datetime:
        """The epoch as an aware datetime."""
        return as_utc(self.epoch)


@dataclass(frozen=True)
class OrbitConfig:
    """``[orbit]``: a circular orbit (placed between the stations or by elements) or a TLE.

    Parameters:
        kind: ``circular`` or ``tle``.
        altitude_km, inclination_deg: circular orbit size and tilt.
        placement: ``midpoint``: node and phase chosen so that the sub-satellite point is the
            stations' great-circle midpoint at ``time.epoch`` (the pass goes between them);
            ``elements``: use ``raan_deg`` and ``arg_latitude_deg`` at ``elements_epoch``.
        descending: with ``midpoint``, cross on the descending (north-to-south) half.
        raan_deg, arg_latitude_deg, elements_epoch: elements for ``placement = "elements"``
            (``elements_epoch`` defaults to ``time.epoch``).
        j2: secular J2 drift of node and phase.
        tle_line1, tle_line2: the two-line elements for ``kind = "tle"``.
    """

    kind: str = "circular"
    altitude_km: float = 500.0
    inclination_deg: float = 97.4
    placement: str = "midpoint"
    descending: bool = True
    raan_deg: float = 0.0
    arg_latitude_deg: float = 0.0
    elements_epoch: str = ""
    j2: bool = True
    tle_line1: str = ""
    tle_line2: str = ""

    def __post_init__(self) -> None:
        check_choice("orbit.kind", self.kind, ORBIT_KINDS)
        check_choice("orbit.placement", self.placement, PLACEMENTS)
        check_range("orbit.altitude_km", self.altitude_km, 100.0, 50_000.0)
        check_range("orbit.inclination_deg", self.inclination_deg, 0.0, 180.0)
        check_range("orbit.raan_deg", self.raan_deg, -360.0, 360.0)
        check_range("orbit.arg_latitude_deg", self.arg_latitude_deg, -360.0, 360.0)
        if self.elements_epoch:
            object.__setattr__(
                self, "elements_epoch", as_utc(self.elements_epoch, "orbit.elements_epoch").isoformat()
            )
        if self.kind == "tle" and not (self.tle_line1 and self.tle_line2):
            raise ValidationError(
                "orbit.tle_line1/orbit.tle_line2 are missing: expected both lines when "
                "orbit.kind = 'tle'"
            )
        if self.kind == "tle":
            check_tle_line("orbit.tle_line1", self.tle_line1, 1)
            check_tle_line("orbit.tle_line2", self.tle_line2, 2)

    def build(self, alice: GroundStation, bob: GroundStation, epoch: datetime) -> Orbit:
        """The orbit model for these stations and epoch."""
        if self.kind == "tle":
            return TLEOrbit(self.tle_line1, self.tle_line2)
        if self.placement == "midpoint":
            lat, lon = great_circle_midpoint(
                alice.latitude_rad, alice.longitude_rad, bob.latitude_rad, bob.longitude_rad
            )
            return CircularOrbit.through_point(
                math.degrees(lat), math.degrees(lon), epoch,
                altitude_km=self.altitude_km, inclination_deg=self.inclination_deg,
                descending=self.descending, j2=self.j2,
            )
        return CircularOrbit(
            altitude_km=self.altitude_km, inclination_deg=self.inclination_deg,
            raan_deg=self.raan_deg, arg_latitude_deg=self.arg_latitude_deg,
            elements_epoch=self.elements_epoch or epoch, j2=self.j2,
        )


@dataclass(frozen=True)
class ProtocolConfig:
    """``[protocol]``: what runs on the detected pairs (used by the pass simulation).

    Parameters:
        kind: ``bbm92``, ``e91`` or ``chsh``.
        slice_s: length of a time slice (s): counts are drawn and noise set per slice.
        data_time_s: total data time (s); when longer than one pass, the pass is repeated
            (data accumulated over several similar passes). 0 means one pass.
        p_z: probability that each end measures Z (BBM92).
        eps_sec, eps_cor: finite-key secrecy and correctness parameters.
        ec: error correction, ``cascade`` or ``ldpc``.
        estimation: ``ec`` (BBM92 with p_z = 0.5: every sifted bit is key, error correction
            counts each basis's errors, which bound the other basis's phase errors),
            ``sample`` (a disclosed random sample of the key) or ``auto`` (``ec`` where it
            applies, else ``sample``).
    """

    kind: str = "bbm92"
    slice_s: float = 10.0
    data_time_s: float = 0.0
    p_z: float = 0.5
    eps_sec: float = KeyOptions.eps_sec
    eps_cor: float = KeyOptions.eps_cor
    ec: str = KeyOptions.ec
    estimation: str = "auto"

    @property
    def resolved_estimation(self) -> str:
        """``ec`` or ``sample``: what ``auto`` means for this protocol."""
        if self.estimation != "auto":
            return self.estimation
        return "ec" if self.kind == "bbm92" and self.p_z == 0.5 else "sample"

    def key_options(self, **overrides: Any) -> KeyOptions:
        """The :class:`~qentangle.protocols.keying.KeyOptions` this protocol section describes.

        >>> ProtocolConfig(eps_sec=1e-9).key_options(qber_hint=0.03).eps_sec
        1e-09
        """
        options = {
            "ec": self.ec,
            "eps_sec": self.eps_sec,
            "eps_cor": self.eps_cor,
            "estimation": self.resolved_estimation,
        }
        return KeyOptions(**{**options, **overrides})

    def __post_init__(self) -> None:
        check_choice("protocol.kind", self.kind, PROTOCOLS)
        check_choice("protocol.estimation", self.estimation, ESTIMATION_CHOICES)
        check_range("protocol.slice_s", self.slice_s, 0.0, 3600.0, low_open=True)
        check_range("protocol.data_time_s", self.data_time_s, 0.0, 1e8)
        check_range("protocol.p_z", self.p_z, 0.0, 1.0, low_open=True, high_open=True)
        EPS_SEC.check(self.eps_sec, label="protocol.eps_sec")
        EPS_COR.check(self.eps_cor, label="protocol.eps_cor")
        check_choice("protocol.ec", self.ec, EC_METHODS)
        if self.estimation == "ec" and (self.kind != "bbm92" or self.p_z != 0.5):
            raise ValidationError(
                "protocol.estimation='ec' needs protocol.kind='bbm92' and protocol.p_z=0.5 "
                "(both bases feed the key)"
            )


@dataclass(frozen=True)
class Scenario:
    """A validated satellite double-downlink scenario (see :func:`qentangle.scenarios.load_scenario`)."""

    name: str
    description: str
    reference: str
    time: TimeConfig
    orbit: OrbitConfig
    source: PairSource
    detectors: Detectors
    link: LinkConfig
    alice: GroundStation
    bob: GroundStation
    protocol: ProtocolConfig
    path: str = field(default="", compare=False)

    @property
    def stations(self) -> tuple[GroundStation, GroundStation]:
        """(alice, bob), as the plots take them."""
        return self.alice, self.bob

    def orbit_model(self) -> Orbit:
        """The orbit (circular placed as configured, or TLE)."""
        return self.orbit.build(self.alice, self.bob, self.time.epoch_utc)

    def find_pass(self) -> Window:
        """The double-visibility window chosen by ``time.criterion`` in the search span."""
        return best_pass(
            self.orbit_model(), self.alice, self.bob, self.time.epoch_utc, self.time.search_span_s,
            criterion=self.time.criterion, link=self.link, source=self.source,
            detectors=self.detectors, step_s=self.time.step_s,
        )

    def physics(self, *, accumulate: bool = True, window: Window | None = None) -> LinkSlices:
        """Per-slice link physics over the chosen pass.

        With ``accumulate`` (default) and ``protocol.data_time_s > 0``, the pass is repeated
        until that much data time is collected (:meth:`LinkSlices.tile`).

        >>> from qentangle.scenarios import load_scenario
        >>> s = load_scenario("micius-2020").physics()
        >>> round(s.total_duration_s)
        3100
        """
        orbit = self.orbit_model()
        window = window or self.find_pass()
        slices = pass_physics(
            orbit, self.alice, self.bob, window=window, link=self.link, source=self.source,
            detectors=self.detectors, slice_s=self.protocol.slice_s,
            background=self.time.background, label=self.name,
        )
        if accumulate and self.protocol.data_time_s > 0:
            slices = slices.tile(self.protocol.data_time_s)
        return slices

    def to_dict(self) -> dict[str, Any]:
        """Nested dict in the TOML layout (what :func:`qentangle.scenarios.from_dict` reads)."""
        stations = {}
        for key, station in (("alice", self.alice), ("bob", self.bob)):
            data = asdict(station)
            data.pop("key")
            stations[key] = data
        return {
            "scenario": {
                "name": self.name, "description": self.description, "reference": self.reference,
            },
            "time": asdict(self.time),
            "orbit": asdict(self.orbit),
            "source": asdict(self.source),
            "detectors": asdict(self.detectors),
            "link": asdict(self.link),
            "stations": stations,
            "protocol": asdict(self.protocol),
        }
