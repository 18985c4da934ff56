"""Per-slice link physics over a pass: geometry -> budget -> rates -> noise on detected pairs.

:func:`pass_physics` cuts a double-visibility window into time slices and returns a
:class:`LinkSlices`: frozen arrays, one entry per slice, of everything the pass simulation
needs to draw counts (Poisson, ``rate * duration``) and to hand the noise of each slice to the
quantum layer (:meth:`LinkSlices.noise` gives ``NoiseConfig`` keyword arguments).

>>> from qentangle.link.orbit import CircularOrbit
>>> from qentangle.link.stations import GroundStation
>>> a = GroundStation("Delingha", 37.379, 97.727, 3153.0, 1.2, 10.0, key="alice")
>>> b = GroundStation("Nanshan", 43.475, 87.177, 2028.0, 1.2, 10.0, key="bob")
>>> orbit = CircularOrbit.through_point(40.5, 92.7, "2020-06-01T17:00:00Z")
>>> window = best_pass(orbit, a, b, orbit.elements_epoch, 1200.0)
>>> slices = pass_physics(orbit, a, b, window=window, slice_s=10.0)
>>> bool(slices.loss_db.min() > 40), slices.noise(0).keys() == {"depolarizing", "accidental",
...     "misalignment_b_deg"}
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import numpy as np

from qentangle.errors import check_choice, check_positive_int, check_range
from qentangle.link import passes
from qentangle.link.budget import DownlinkBudget, LinkConfig, downlink_budget
from qentangle.link.detectors import Detectors
from qentangle.link.orbit import Orbit
from qentangle.link.passes import Window, track
from qentangle.link.rates import coincidence_rates, expected_chsh, expected_qber
from qentangle.link.source import PairSource
from qentangle.link.stations import GroundStation

BACKGROUND_MODES = ("auto", "night", "day")
NIGHT_SUN_ELEVATION_DEG = -12.0
"""The Sun below this elevation (nautical twilight) means night background."""
DAY_SUN_ELEVATION_DEG = 0.0
"""The Sun above this elevation means day background (log-interpolated in between)."""


def background_rate_hz(
    station: GroundStation, sun_elevation_rad: np.ndarray, mode: str = "auto"
) -> np.ndarray:
    """Background counts per second at a station: night or day value, or by the Sun's height.

    ``mode="auto"`` uses the night value with the Sun below -12 deg, the day value above 0 deg
    and a geometric interpolation in between.

    >>> s = GroundStation("X", 0.0, 0.0, background_night_hz=100.0, background_day_hz=1e5)
    >>> background_rate_hz(s, np.radians([-30.0, -6.0, 10.0])).round(1).tolist()
    [100.0, 3162.3, 100000.0]
    """
    check_choice("time.background", mode, BACKGROUND_MODES)
    sun = np.asarray(sun_elevation_rad, dtype=float)
    night, day = station.background_night_hz, station.background_day_hz
    if mode == "night":
        return np.full(sun.shape, night)
    if mode == "day":
        return np.full(sun.shape, day)
    span = DAY_SUN_ELEVATION_DEG - NIGHT_SUN_ELEVATION_DEG
    f = np.clip((np.degrees(sun) - NIGHT_SUN_ELEVATION_DEG) / span, 0.0, 1.0)
    if night > 0 and day > 0:
        return night * (day / night) ** f
    return night + (day - night) * f


def slice_times(window: Window, slice_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints (s after the window's epoch) and durations of slices covering ``window``.

    The last slice is shorter when the window is not a whole number of slices.

    >>> mid, dur = slice_times(Window(None, 0.0, 25.0), 10.0)
    >>> mid.tolist(), dur.tolist()
    ([5.0, 15.0, 22.5], [10.0, 10.0, 5.0])
    """
    check_range("protocol.slice_s", slice_s, 0.0, 3600.0, low_open=True)
    n = max(1, math.ceil(window.duration_s / slice_s - 1e-9))
    starts = window.start_s + slice_s * np.arange(n)
    ends = np.minimum(starts + slice_s, window.end_s)
    return (starts + ends) / 2.0, ends - starts


@dataclass(frozen=True)
class LinkSlices:
    """Link physics per time slice over a pass (arrays of one entry per slice, SI units).

    Rates are at the slice's midpoint; the expected number of events in slice i is
    ``rate[i] * duration_s[i]``. Per-link ``loss_*_db`` includes every factor between the
    source and a click (transmitter, diffraction, atmosphere, pointing, receiver optics,
    detector efficiency), so ``coincidence_rate_hz = pair_rate_hz * 10**(-loss_db / 10)``.
    """

    label: str
    epoch: datetime
    window: Window
    pass_index: np.ndarray
    """Which repetition of the pass a slice belongs to (0 for a single pass, see :meth:`tile`)."""
    t_s: np.ndarray
    """Slice midpoints, seconds after ``epoch``."""
    duration_s: np.ndarray
    elevation_a_rad: np.ndarray
    elevation_b_rad: np.ndarray
    azimuth_a_rad: np.ndarray
    azimuth_b_rad: np.ndarray
    range_a_m: np.ndarray
    range_b_m: np.ndarray
    sun_elevation_a_rad: np.ndarray
    sun_elevation_b_rad: np.ndarray
    subpoint_latitude_deg: np.ndarray
    subpoint_longitude_deg: np.ndarray
    eta_a: np.ndarray
    """Probability that Alice's photon of a pair makes a click (whole downlink + detector)."""
    eta_b: np.ndarray
    loss_a_db: np.ndarray
    loss_b_db: np.ndarray
    loss_db: np.ndarray
    """Two-photon (double-downlink) loss: loss_a_db + loss_b_db."""
    diffraction_a_db: np.ndarray
    diffraction_b_db: np.ndarray
    atmosphere_a_db: np.ndarray
    atmosphere_b_db: np.ndarray
    field_of_view_a_db: np.ndarray
    field_of_view_b_db: np.ndarray
    noise_a_hz: np.ndarray
    """Dark plus background counts per second at Alice's station."""
    noise_b_hz: np.ndarray
    singles_a_hz: np.ndarray
    singles_b_hz: np.ndarray
    coincidence_rate_hz: np.ndarray
    """True coincidences per second (both photons of a pair), B eta_a eta_b."""
    accidental_rate_hz: np.ndarray
    """Accidental coincidences per second, singles_a singles_b / W (W = 1/tau for CW)."""
    multipair_rate_hz: np.ndarray
    accidental: np.ndarray
    """White-noise fraction of detected pairs, w = C_a / (C_t + C_a) (NoiseConfig.accidental)."""
    qber: np.ndarray
    """Expected QBER in matched bases, (1 - V (1 - w) cos 2 delta) / 2."""
    chsh: np.ndarray
    """Expected CHSH S at the ideal settings, 2 sqrt(2) V (1 - w) cos 2 delta."""
    depolarizing: float
    """Two-qubit depolarizing p = 1 - V of the source (NoiseConfig.depolarizing)."""
    misalignment_b_deg: float
    pair_rate_hz: float
    mean_pairs_per_window: float
    state: str
    detector_efficiency: float
    """Detector efficiency included in ``eta_*`` and ``loss_*_db`` (see ``channel_loss_db``)."""

    # ------------------------------------------------------------------ derived arrays
    @property
    def n_slices(self) -> int:
        """Number of slices."""
        return int(self.t_s.size)

    @property
    def total_duration_s(self) -> float:
        """Sum of slice durations (data time)."""
        return float(self.duration_s.sum())

    @property
    def detected_rate_hz(self) -> np.ndarray:
        """All recorded coincidences per second: true + accidental."""
        return self.coincidence_rate_hz + self.accidental_rate_hz

    @property
    def channel_loss_db(self) -> np.ndarray:
        """Two-photon loss without the detectors' efficiency (satellite to detector inputs)."""
        if self.detector_efficiency <= 0.0:
            return np.full(self.loss_db.shape, np.inf)
        return self.loss_db + 2.0 * 10.0 * math.log10(self.detector_efficiency)

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio C_t / C_a per slice."""
        return self.coincidence_rate_hz / np.maximum(self.accidental_rate_hz, 1e-300)

    @property
    def elevation_a_deg(self) -> np.ndarray:
        """Alice's elevation (deg)."""
        return np.degrees(self.elevation_a_rad)

    @property
    def elevation_b_deg(self) -> np.ndarray:
        """Bob's elevation (deg)."""
        return np.degrees(self.elevation_b_rad)

    def expected_counts(self) -> dict[str, np.ndarray]:
        """Expected true and accidental coincidences per slice (means for Poisson draws).

        >>> # counts = rng.poisson(slices.expected_counts()["coincidences"])
        """
        return {
            "coincidences": self.coincidence_rate_hz * self.duration_s,
            "accidentals": self.accidental_rate_hz * self.duration_s,
        }

    # ------------------------------------------------------------------ noise for the quantum layer
    def noise(self, index: int) -> dict[str, float]:
        """``NoiseConfig`` keyword arguments of slice ``index`` (depolarizing, accidental, ...).

        >>> # NoiseConfig(**slices.noise(i))
        """
        i = int(index)
        if not -self.n_slices <= i < self.n_slices:
            raise IndexError(f"slice index {index} out of range for {self.n_slices} slices")
        return {
            "depolarizing": float(self.depolarizing),
            "accidental": float(self.accidental[i]),
            "misalignment_b_deg": float(self.misalignment_b_deg),
        }

    def noise_parameters(self) -> list[dict[str, float]]:
        """:meth:`noise` of every slice, in order."""
        return [self.noise(i) for i in range(self.n_slices)]

    # ------------------------------------------------------------------ aggregation
    def tile(self, data_time_s: float) -> LinkSlices:
        """Repeat the pass until ``data_time_s`` seconds of data are accumulated.

        Models data gathered over several similar passes (nights). The last repetition is
        cut short; ``pass_index`` tells the repetitions apart.

        >>> # slices.tile(3100.0).total_duration_s == 3100.0
        """
        check_range("protocol.data_time_s", data_time_s, 0.0, 1e8, low_open=True)
        per_pass = self.total_duration_s
        reps = max(1, math.ceil(data_time_s / per_pass - 1e-9))
        idx = np.tile(np.arange(self.n_slices), reps)
        pass_index = np.repeat(np.arange(reps), self.n_slices)
        duration = np.tile(self.duration_s, reps)
        end = np.cumsum(duration)
        start = end - duration
        duration = np.clip(data_time_s - start, 0.0, duration)
        keep = duration > 1e-12
        idx, pass_index, duration = idx[keep], pass_index[keep], duration[keep]
        changes: dict[str, Any] = {"pass_index": pass_index, "duration_s": duration}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in changes and isinstance(value, np.ndarray):
                changes[f.name] = value[idx]
        return replace(self, **changes)

    def summary(self, p_z: float | None = 0.5) -> dict[str, float]:
        """Pass-level figures, averaged over the data time (counts-weighted where relevant).

        ``sifted_rate_hz`` assumes both ends choose Z with probability ``p_z`` (BBM92); pass
        ``None`` to leave it out.
        """
        d = self.duration_s
        true = float(np.sum(self.coincidence_rate_hz * d))
        acc = float(np.sum(self.accidental_rate_hz * d))
        detected = true + acc
        time = float(d.sum())
        qber = float(np.sum(self.qber * self.detected_rate_hz * d) / detected) if detected else 0.5
        chsh = float(np.sum(self.chsh * self.detected_rate_hz * d) / detected) if detected else 0.0
        out = {
            "duration_s": time,
            "passes": int(self.pass_index.max()) + 1,
            "loss_db_min": float(self.loss_db.min()),
            "loss_db_max": float(self.loss_db.max()),
            "channel_loss_db_min": float(self.channel_loss_db.min()),
            "channel_loss_db_max": float(self.channel_loss_db.max()),
            "loss_a_db_min": float(self.loss_a_db.min()),
            "loss_a_db_max": float(self.loss_a_db.max()),
            "loss_b_db_min": float(self.loss_b_db.min()),
            "loss_b_db_max": float(self.loss_b_db.max()),
            "range_sum_km_min": float((self.range_a_m + self.range_b_m).min() / 1e3),
            "range_sum_km_max": float((self.range_a_m + self.range_b_m).max() / 1e3),
            "elevation_a_deg_max": float(self.elevation_a_deg.max()),
            "elevation_b_deg_max": float(self.elevation_b_deg.max()),
            "coincidence_rate_hz": detected / time,
            "true_coincidence_rate_hz": true / time,
            "accidental_rate_hz": acc / time,
            "snr": true / acc if acc > 0 else math.inf,
            "qber": qber,
            "chsh": chsh,
            "expected_coincidences": detected,
        }
        if p_z is not None:
            p_z = check_range("protocol.p_z", p_z, 0.0, 1.0)
            out["sifted_rate_hz"] = detected / time * (p_z**2 + (1.0 - p_z) ** 2)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: arrays as lists, angles in degrees and ranges in km as in reports."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                if f.name.endswith("_rad"):
                    out[f.name[:-4] + "_deg"] = np.degrees(value).tolist()
                elif f.name.endswith("_m"):
                    out[f.name[:-2] + "_km"] = (value / 1e3).tolist()
                else:
                    out[f.name] = value.tolist()
            elif isinstance(value, Window):
                out[f.name] = value.to_dict()
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = value
        out["summary"] = self.summary()
        return out


def station_budget(
    station: GroundStation,
    range_m: np.ndarray,
    elevation_rad: np.ndarray,
    *,
    link: LinkConfig,
    source: PairSource,
    detectors: Detectors,
) -> DownlinkBudget:
    """The downlink budget from the satellite to ``station`` over arrays of range and elevation.

    One call for every user of the link model (a pass, a mission plan): the station's telescope,
    sky, optics, seeing, field stop and turbulence, the payload's transmitter and wavelength,
    the detectors' efficiency. Elevations below the horizon count as 0 (no slice is used there).
    """
    return downlink_budget(
        range_m,
        np.maximum(elevation_rad, 0.0),
        link=link,
        aperture_m=station.aperture_m,
        zenith_transmittance=station.zenith_transmittance,
        receiver_optics_efficiency=station.optics_efficiency,
        detector_efficiency=detectors.efficiency,
        wavelength_m=source.wavelength_m,
        seeing_rad=station.seeing_rad,
        field_of_view_rad=station.field_of_view_rad,
        turbulence=station.turbulence,
    )


def pass_physics(
    orbit: Orbit,
    alice: GroundStation,
    bob: GroundStation,
    *,
    window: Window,
    link: LinkConfig | None = None,
    source: PairSource | None = None,
    detectors: Detectors | None = None,
    slice_s: float = 1.0,
    background: str = "auto",
    label: str = "",
) -> LinkSlices:
    """Link physics per slice over ``window`` (see :class:`LinkSlices`), vectorised.

    Defaults: ``LinkConfig()``, ``PairSource()``, ``Detectors()``.
    """
    link = link or LinkConfig()
    source = source or PairSource()
    detectors = detectors or Detectors()
    check_choice("time.background", background, BACKGROUND_MODES)
    mid, duration = slice_times(window, slice_s)
    geometry = track(orbit, alice, bob, window.epoch, mid)
    budgets = []
    for station, view in ((alice, geometry.alice), (bob, geometry.bob)):
        budgets.append(
            station_budget(station, view.range_m, view.elevation_rad, link=link, source=source,
                           detectors=detectors)
        )
    budget_a, budget_b = budgets
    noise_a = detectors.dark_rate_hz + background_rate_hz(
        alice, geometry.alice.sun_elevation_rad, background
    )
    noise_b = detectors.dark_rate_hz + background_rate_hz(
        bob, geometry.bob.sun_elevation_rad, background
    )
    window_s = detectors.coincidence_window_s
    rates = coincidence_rates(
        source.pair_rate_hz,
        budget_a.total,
        budget_b.total,
        noise_a,
        noise_b,
        windows_per_second=source.windows_per_second(window_s),
    )
    w = rates.accidental_fraction
    loss_a, loss_b = budget_a.loss_db, budget_b.loss_db
    return LinkSlices(
        label=label,
        epoch=window.epoch,
        window=window,
        pass_index=np.zeros(mid.size, dtype=int),
        t_s=mid,
        duration_s=duration,
        elevation_a_rad=geometry.alice.elevation_rad,
        elevation_b_rad=geometry.bob.elevation_rad,
        azimuth_a_rad=geometry.alice.azimuth_rad,
        azimuth_b_rad=geometry.bob.azimuth_rad,
        range_a_m=geometry.alice.range_m,
        range_b_m=geometry.bob.range_m,
        sun_elevation_a_rad=geometry.alice.sun_elevation_rad,
        sun_elevation_b_rad=geometry.bob.sun_elevation_rad,
        subpoint_latitude_deg=geometry.subpoint_latitude_deg,
        subpoint_longitude_deg=geometry.subpoint_longitude_deg,
        eta_a=budget_a.total,
        eta_b=budget_b.total,
        loss_a_db=loss_a,
        loss_b_db=loss_b,
        loss_db=loss_a + loss_b,
        diffraction_a_db=budget_a.breakdown_db()["diffraction"],
        diffraction_b_db=budget_b.breakdown_db()["diffraction"],
        atmosphere_a_db=budget_a.breakdown_db()["atmosphere"],
        atmosphere_b_db=budget_b.breakdown_db()["atmosphere"],
        field_of_view_a_db=budget_a.breakdown_db()["field_of_view"],
        field_of_view_b_db=budget_b.breakdown_db()["field_of_view"],
        noise_a_hz=np.asarray(noise_a, dtype=float),
        noise_b_hz=np.asarray(noise_b, dtype=float),
        singles_a_hz=rates.singles_a_hz,
        singles_b_hz=rates.singles_b_hz,
        coincidence_rate_hz=rates.coincidence_rate_hz,
        accidental_rate_hz=rates.accidental_rate_hz,
        multipair_rate_hz=rates.multipair_rate_hz,
        accidental=w,
        qber=expected_qber(source.visibility, w, link.misalignment_deg),
        chsh=expected_chsh(source.visibility, w, link.misalignment_deg),
        depolarizing=source.depolarizing,
        misalignment_b_deg=link.misalignment_deg,
        pair_rate_hz=source.pair_rate_hz,
        mean_pairs_per_window=source.mean_pairs_per_window(window_s),
        state=source.state,
        detector_efficiency=detectors.efficiency,
    )


CRITERIA = (*passes.WINDOW_RANKINGS, "min_loss")
"""How :func:`best_pass` (and a scenario's ``time.criterion``) picks the pass."""


def best_pass(
    orbit: Orbit,
    alice: GroundStation,
    bob: GroundStation,
    epoch: datetime | str,
    span_s: float = 86400.0,
    *,
    criterion: str = "longest",
    link: LinkConfig | None = None,
    source: PairSource | None = None,
    detectors: Detectors | None = None,
    start_s: float | None = None,
    step_s: float = 10.0,
    samples: int = 32,
) -> Window:
    """The best double-visibility window in the span: ``"longest"``, ``"min_range"`` or
    ``"min_loss"`` (the smallest mean two-photon loss in dB over the window).

    >>> from qentangle.link.orbit import CircularOrbit
    >>> a = GroundStation("Delingha", 37.379, 97.727, 3153.0, key="alice")
    >>> b = GroundStation("Lijiang", 26.694, 100.029, 3200.0, key="bob")
    >>> orbit = CircularOrbit.through_point(32.0, 99.0, "2017-06-19T16:30:00Z")
    >>> w = best_pass(orbit, a, b, orbit.elements_epoch, 3 * 86400.0, criterion="min_loss")
    >>> abs(w.start_s) < 600
    True
    """
    check_choice("time.criterion", criterion, CRITERIA)
    check_positive_int("samples", samples, minimum=2)
    if criterion != "min_loss":
        return passes.best_window(
            orbit, alice, bob, epoch, span_s, start_s=start_s, step_s=step_s, criterion=criterion
        )
    link = link or LinkConfig()
    source = source or PairSource()
    detectors = detectors or Detectors()

    def mean_loss(window: Window) -> float:
        slice_s = max(window.duration_s / samples, 1e-3)
        physics = pass_physics(
            orbit, alice, bob, window=window, link=link, source=source, detectors=detectors,
            slice_s=slice_s, background="night",
        )
        return float(np.mean(physics.loss_db))

    return passes.best_window(
        orbit, alice, bob, epoch, span_s, start_s=start_s, step_s=step_s, criterion=mean_loss
    )
