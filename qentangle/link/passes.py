"""Pass geometry: look angles from two stations, double-visibility windows, best pass.

Everything is vectorised over the time array: one call evaluates the orbit, both stations'
look angles and the Sun's elevation at every time step.

>>> from qentangle.link.orbit import CircularOrbit
>>> from qentangle.link.stations import GroundStation
>>> a = GroundStation("Delingha", 37.379, 97.727, 3153.0, key="alice")
>>> b = GroundStation("Nanshan", 43.475, 87.177, 2028.0, key="bob")
>>> orbit = CircularOrbit.through_point(40.5, 92.5, "2020-06-01T17:00:00Z")
>>> window = best_window(orbit, a, b, orbit.elements_epoch, span_s=1200.0)
>>> 200 < window.duration_s < 600
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from qentangle.errors import QentangleError, ValidationError, check_choice, check_range
from qentangle.link.geometry import (
    WGS84,
    ecef_to_geodetic,
    julian_date,
    look_angles,
    sun_elevation_rad,
)
from qentangle.link.orbit import Orbit, as_utc
from qentangle.link.stations import GroundStation


@dataclass(frozen=True)
class StationTrack:
    """One station's view of the satellite over a time array (SI units)."""

    elevation_rad: np.ndarray
    azimuth_rad: np.ndarray
    range_m: np.ndarray
    sun_elevation_rad: np.ndarray
    visible: np.ndarray
    """Satellite at or above the station's minimum elevation."""

    @property
    def elevation_deg(self) -> np.ndarray:
        """Elevation in degrees (for reports and plots)."""
        return np.degrees(self.elevation_rad)

    @property
    def range_km(self) -> np.ndarray:
        """Slant range in km (for reports and plots)."""
        return self.range_m / 1e3


@dataclass(frozen=True)
class PassGeometry:
    """Geometry of a satellite and a pair of stations at times ``epoch + t_s``."""

    epoch: datetime
    t_s: np.ndarray
    alice: StationTrack
    bob: StationTrack
    subpoint_latitude_deg: np.ndarray
    subpoint_longitude_deg: np.ndarray
    altitude_m: np.ndarray
    min_elevation_a_rad: float
    min_elevation_b_rad: float

    @property
    def both_visible(self) -> np.ndarray:
        """Both stations see the satellite above their minimum elevation."""
        return self.alice.visible & self.bob.visible

    @property
    def margin_rad(self) -> np.ndarray:
        """min over stations of (elevation - minimum elevation); >= 0 when both see it."""
        return np.minimum(
            self.alice.elevation_rad - self.min_elevation_a_rad,
            self.bob.elevation_rad - self.min_elevation_b_rad,
        )

    def to_dict(self) -> dict:
        """JSON-safe arrays (degrees and km, as in reports)."""
        return {
            "epoch": self.epoch.isoformat(),
            "t_s": self.t_s.tolist(),
            "elevation_alice_deg": self.alice.elevation_deg.tolist(),
            "elevation_bob_deg": self.bob.elevation_deg.tolist(),
            "range_alice_km": self.alice.range_km.tolist(),
            "range_bob_km": self.bob.range_km.tolist(),
            "subpoint_latitude_deg": self.subpoint_latitude_deg.tolist(),
            "subpoint_longitude_deg": self.subpoint_longitude_deg.tolist(),
        }


@dataclass(frozen=True)
class Window:
    """A time interval ``[start_s, end_s]`` (seconds after ``epoch``) of double visibility."""

    epoch: datetime
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the window (s)."""
        return self.end_s - self.start_s

    @property
    def start(self) -> datetime:
        """UTC start time."""
        return self.epoch + timedelta(seconds=self.start_s)

    def to_dict(self) -> dict:
        """JSON-safe description."""
        return {
            "epoch": self.epoch.isoformat(),
            "start": self.start.isoformat(),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
        }


def _station_track(
    station: GroundStation, sat_ecef: np.ndarray, jd: np.ndarray
) -> StationTrack:
    elevation, azimuth, range_m = look_angles(
        station.latitude_rad, station.longitude_rad, station.ecef_m, sat_ecef
    )
    sun = sun_elevation_rad(station.latitude_rad, station.longitude_rad, jd)
    return StationTrack(
        elevation_rad=elevation,
        azimuth_rad=azimuth,
        range_m=range_m,
        sun_elevation_rad=sun,
        visible=elevation >= station.min_elevation_rad,
    )


def track(
    orbit: Orbit,
    alice: GroundStation,
    bob: GroundStation,
    epoch: datetime | str,
    t_s: Sequence[float] | np.ndarray,
) -> PassGeometry:
    """Look angles of ``orbit`` from both stations at ``epoch + t_s`` (vectorised).

    >>> from qentangle.link.orbit import CircularOrbit
    >>> from qentangle.link.stations import GroundStation
    >>> s = GroundStation("A", 0.0, 0.0, key="alice")
    >>> g = track(CircularOrbit(), s, s, "2020-01-01T00:00:00Z", [0.0, 60.0])
    >>> g.alice.range_m.shape
    (2,)
    """
    epoch = as_utc(epoch)
    t = np.atleast_1d(np.asarray(t_s, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise ValidationError("t_s is not valid: expected a non-empty 1-D array of seconds")
    sat = orbit.ecef_m(epoch, t)
    jd = julian_date(epoch) + t / 86400.0
    lat, lon, alt = ecef_to_geodetic(sat, WGS84)
    return PassGeometry(
        epoch=epoch,
        t_s=t,
        alice=_station_track(alice, sat, jd),
        bob=_station_track(bob, sat, jd),
        subpoint_latitude_deg=np.degrees(lat),
        subpoint_longitude_deg=np.degrees(lon),
        altitude_m=alt,
        min_elevation_a_rad=alice.min_elevation_rad,
        min_elevation_b_rad=bob.min_elevation_rad,
    )


def _refine_edge(
    orbit: Orbit, alice: GroundStation, bob: GroundStation, epoch: datetime,
    t_lo: float, t_hi: float,
) -> float:
    """Time of the zero crossing of the visibility margin between ``t_lo`` and ``t_hi``."""
    t = np.linspace(t_lo, t_hi, 201)
    margin = track(orbit, alice, bob, epoch, t).margin_rad
    sign = margin >= 0
    idx = np.flatnonzero(sign[1:] != sign[:-1])
    if idx.size == 0:
        return float(t_lo if sign[0] else t_hi)
    i = int(idx[0])
    m0, m1 = margin[i], margin[i + 1]
    return float(t[i] + (t[i + 1] - t[i]) * m0 / (m0 - m1))


def visibility_windows(
    orbit: Orbit,
    alice: GroundStation,
    bob: GroundStation,
    epoch: datetime | str,
    span_s: float,
    *,
    start_s: float = 0.0,
    step_s: float = 10.0,
    min_duration_s: float = 1.0,
) -> list[Window]:
    """All windows in ``[start_s, start_s + span_s]`` when both stations see the satellite.

    The span is scanned every ``step_s`` seconds (vectorised), then each window's edges are
    refined to a fraction of a second. Windows cut by the span's ends are kept as cut.

    >>> from qentangle.link.orbit import CircularOrbit
    >>> from qentangle.link.stations import GroundStation
    >>> a = GroundStation("Delingha", 37.379, 97.727, 3153.0, key="alice")
    >>> b = GroundStation("Lijiang", 26.694, 100.029, 3200.0, key="bob")
    >>> orbit = CircularOrbit.through_point(32.0, 99.0, "2017-06-19T16:30:00Z")
    >>> windows = visibility_windows(orbit, a, b, orbit.elements_epoch, 1200.0, start_s=-600.0)
    >>> len(windows)
    1
    """
    epoch = as_utc(epoch)
    check_range("span_s", span_s, 0.0, 366 * 86400.0, low_open=True)
    check_range("step_s", step_s, 0.01, 600.0)
    n = int(np.ceil(span_s / step_s)) + 1
    t = start_s + np.minimum(np.arange(n) * step_s, span_s)
    visible = track(orbit, alice, bob, epoch, t).both_visible
    if not visible.any():
        return []
    padded = np.concatenate([[False], visible, [False]]).astype(np.int8)
    changes = np.diff(padded)
    starts = np.flatnonzero(changes == 1)
    ends = np.flatnonzero(changes == -1) - 1
    windows = []
    for i0, i1 in zip(starts, ends, strict=True):
        t0 = float(t[i0]) if i0 == 0 else _refine_edge(orbit, alice, bob, epoch, t[i0 - 1], t[i0])
        last = len(t) - 1
        t1 = float(t[i1]) if i1 == last else _refine_edge(orbit, alice, bob, epoch, t[i1], t[i1 + 1])
        if t1 - t0 >= min_duration_s:
            windows.append(Window(epoch=epoch, start_s=t0, end_s=t1))
    return windows


WINDOW_RANKINGS = ("longest", "min_range")
"""The criteria :func:`best_window` knows from geometry alone (``min_loss`` needs the link
model: :func:`qentangle.link.physics.best_pass`, the one ``best_pass``)."""


def best_window(
    orbit: Orbit,
    alice: GroundStation,
    bob: GroundStation,
    epoch: datetime | str,
    span_s: float = 86400.0,
    *,
    start_s: float | None = None,
    step_s: float = 10.0,
    criterion: str | Callable[[Window], float] = "longest",
) -> Window:
    """The best double-visibility window in a search span, by geometry or by a score.

    The span is centred on ``epoch`` unless ``start_s`` is given. ``criterion``:

    * ``"longest"``: the longest window;
    * ``"min_range"``: the window with the smallest sum of the two slant ranges at its best
      moment (a geometric proxy for the smallest two-photon loss);
    * a callable ``score(window) -> float``: the window with the smallest score (for example
      the pass's mean two-photon loss in dB: :func:`qentangle.link.physics.best_pass` with
      ``criterion="min_loss"``).

    Raises :class:`QentangleError` when no window exists in the span.
    """
    epoch = as_utc(epoch)
    if start_s is None:
        start_s = -span_s / 2.0
    windows = visibility_windows(orbit, alice, bob, epoch, span_s, start_s=start_s, step_s=step_s)
    if not windows:
        raise QentangleError(
            f"no double-visibility pass of {alice.name} and {bob.name} in the {span_s:g} s "
            f"search span around {epoch.isoformat()}: widen time.search_span_s or lower the "
            "stations' min_elevation_deg"
        )
    if callable(criterion):
        scores = [criterion(w) for w in windows]
    else:
        check_choice("criterion", criterion, WINDOW_RANKINGS)
        if criterion == "longest":
            scores = [-w.duration_s for w in windows]
        else:
            scores = []
            for w in windows:
                g = track(orbit, alice, bob, epoch, np.linspace(w.start_s, w.end_s, 64))
                scores.append(float(np.min(g.alice.range_m + g.bob.range_m)))
    return windows[int(np.argmin(scores))]
