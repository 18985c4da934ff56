"""Click streams of two stations from a pair source and a link, generated epoch by epoch.

Model (every number is an input of :class:`ClickModel`):

* **Pairs.** A CW SPDC source emits pairs as a Poisson process of rate B in true time, so two
  pairs closer than a coincidence window (multi-pair emission) occur at the rate Poisson
  statistics give. Only photons that are detected matter, so the generator draws three
  independent Poisson processes (a thinning of the pair process, exact): both photons detected
  (rate B eta_a eta_b), only Alice's (B eta_a (1 - eta_b)), only Bob's (B (1 - eta_a) eta_b).
  ``eta`` is the whole link's transmittance including the detector efficiency, piecewise
  constant over the profile's segments (the slices of a pass).
* **Delay.** Each photon reaches its station after its own slant-range delay, interpolated
  linearly between the profile's knots at the photon's emission time.
* **Measurement.** Passive basis choice: each detected photon takes a setting with the
  station's probabilities; a pair detected at both ends gets its outcomes from the joint table
  ``joint[s_a, s_b, o_a, o_b]`` (the quantum state's prediction, computed above this layer); a
  photon whose partner was lost gets its outcome from the marginal.
* **Noise.** Dark counts (per detector) and background (per station, shared evenly by its
  detectors) are Poisson in the station's time, on a uniformly random detector.
* **Detectors.** Gaussian timing jitter (rms, per click), optional afterpulses (probability per
  click, after the dead time plus an exponential delay; an afterpulse of a click the dead time
  removed is kept, a second-order effect), non-paralysable dead time per detector (a click
  within ``dead_time`` of the detector's last *recorded* click is lost: recorded rate
  R / (1 + R tau)), and a time tagger of finite resolution: times are rounded down to it and
  clicks of one station in the same bin become one event with several pattern bits (a
  multi-click).
* **Clocks.** Each station reads ``t_true (1 + drift_ppm 1e-6) + offset_s``.

Timestamps are int64 picoseconds. Generation runs epoch by epoch (at most ``epoch_s`` of true
time): clicks that jitter or delay could still reorder stay pending until the next epoch, so
each yielded part is later than the one before and the whole stream needs memory for one
epoch only.

>>> model = ClickModel.constant(pair_rate_hz=1e5, eta_a=0.1, eta_b=0.1, duration_s=1.0)
>>> alice, bob = simulate_clicks(model, seed=1)
>>> 9000 < len(alice) < 11000, bool(np.all(np.diff(alice.times_ps) >= 0))
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qentangle.errors import ValidationError, check_probability, check_range
from qentangle.params import Param
from qentangle.progress import progress_bar
from qentangle.rng import SeedLike, spawn_generators
from qentangle.timetags.events import Clicks, DetectorMap

SPEED_OF_LIGHT_M_S = 299_792_458.0
PS = 1e12
JITTER_MARGIN_SIGMAS = 10.0
OFFSET_S = Param(
    "offset_s",
    float,
    low=-100.0,
    high=100.0,
    default=0.0,
    unit="s",
    metavar="X",
    help="Bob's clock offset: t_B = t_A (1 + drift_ppm 1e-6) + offset_s",
)
DRIFT_PPM = Param(
    "drift_ppm",
    float,
    low=-1000.0,
    high=1000.0,
    default=0.0,
    unit="ppm",
    metavar="Y",
    help="Bob's clock frequency error against Alice's",
)
DURATION_S = Param(
    "duration_s",
    float,
    low=0.0,
    high=1e5,
    low_open=True,
    default=None,
    unit="s",
    metavar="S",
    help="length of the simulated streams",
)


@dataclass(frozen=True)
class Clock:
    """A station clock: it reads ``t_true (1 + drift_ppm 1e-6) + offset_s``.

    >>> round(Clock(offset_s=0.5, drift_ppm=2.0).reading_s(10.0), 9)
    10.50002
    """

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        check_range("clock.offset_s", self.offset_s, -1e5, 1e5)
        check_range("clock.drift_ppm", self.drift_ppm, -1e4, 1e4)

    def reading_s(self, t_true_s: float) -> float:
        """What the clock reads at true time ``t_true_s``."""
        return t_true_s * (1.0 + self.drift_ppm * 1e-6) + self.offset_s

    def to_dict(self) -> dict[str, float]:
        """JSON-safe description."""
        return {"offset_s": self.offset_s, "drift_ppm": self.drift_ppm}


def relative_clocks(
    offset_s: float = 0.0, drift_ppm: float = 0.0, *, start_s: float = 2.0
) -> tuple[Clock, Clock]:
    """Alice's and Bob's clocks such that ``t_B = t_A (1 + drift_ppm 1e-6) + offset_s``.

    Alice's clock reads ``start_s`` (plus ``-offset_s`` when the offset is negative) at true
    time 0, so that no station ever reads a negative time.

    >>> a, b = relative_clocks(-0.5, 10.0)
    >>> t_a = a.reading_s(3.0)
    >>> round(b.reading_s(3.0) - (t_a * (1 + 10e-6) - 0.5), 12)
    0.0
    """
    offset_s, drift_ppm = OFFSET_S.check(offset_s), DRIFT_PPM.check(drift_ppm)
    start = start_s + max(0.0, -offset_s) * (1.0 + abs(drift_ppm) * 1e-6) + 1e-3
    rate = 1.0 + drift_ppm * 1e-6
    return Clock(start, 0.0), Clock(start * rate + offset_s, drift_ppm)


@dataclass(frozen=True)
class DetectorModel:
    """Each detector of a station (all alike) and the station's time tagger.

    Parameters:
        dark_count_hz: dark counts per second of one detector.
        jitter_ps: rms timing jitter of one click (detector and tagger, Gaussian).
        dead_time_ns: non-paralysable dead time of one detector.
        afterpulse_probability: probability that a click is followed by an afterpulse.
        afterpulse_delay_ns: mean delay of an afterpulse after the dead time (exponential).
        resolution_ps: time-tagger bin; times are rounded down to it and same-bin clicks of a
            station make one multi-click event (125 ps: qcrypto's unit).
    """

    dark_count_hz: float = 25.0
    jitter_ps: float = 300.0
    dead_time_ns: float = 50.0
    afterpulse_probability: float = 0.0
    afterpulse_delay_ns: float = 100.0
    resolution_ps: int = 125

    def __post_init__(self) -> None:
        check_range("detectors.dark_count_hz", self.dark_count_hz, 0.0, 1e8)
        check_range("detectors.jitter_ps", self.jitter_ps, 0.0, 1e6)
        check_range("detectors.dead_time_ns", self.dead_time_ns, 0.0, 1e6)
        check_probability("detectors.afterpulse_probability", self.afterpulse_probability)
        check_range("detectors.afterpulse_delay_ns", self.afterpulse_delay_ns, 0.0, 1e6)
        check_range("detectors.resolution_ps", self.resolution_ps, 1, 1e6)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "dark_count_hz": self.dark_count_hz,
            "jitter_ps": self.jitter_ps,
            "dead_time_ns": self.dead_time_ns,
            "afterpulse_probability": self.afterpulse_probability,
            "afterpulse_delay_ns": self.afterpulse_delay_ns,
            "resolution_ps": self.resolution_ps,
        }


@dataclass(frozen=True)
class StationModel:
    """One receiving station: its detector map, setting probabilities, detectors and clock."""

    name: str = "alice"
    detector_map: DetectorMap = field(default_factory=DetectorMap.bbm92)
    setting_probabilities: tuple[float, ...] = ()
    detectors: DetectorModel = field(default_factory=DetectorModel)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        k = self.detector_map.num_settings
        p = self.setting_probabilities or (1.0 / k,) * k
        if len(p) != k or any(not 0.0 <= x <= 1.0 for x in p) or not math.isclose(sum(p), 1.0):
            raise ValidationError(
                f"{self.name}.setting_probabilities={p!r} is not valid: "
                f"expected {k} probabilities summing to 1"
            )
        object.__setattr__(self, "setting_probabilities", tuple(float(x) for x in p))


@dataclass(frozen=True)
class LinkProfile:
    """The link over time: per segment (true time) transmittances and background, delay knots.

    ``eta_*`` include the detector efficiency; ``background_*_hz`` is per station (all its
    detectors); ``delay_*_s`` at ``knot_t_s`` are the photons' propagation delays.
    """

    start_s: np.ndarray
    duration_s: np.ndarray
    eta_a: np.ndarray
    eta_b: np.ndarray
    background_a_hz: np.ndarray
    background_b_hz: np.ndarray
    knot_t_s: np.ndarray
    delay_a_s: np.ndarray
    delay_b_s: np.ndarray

    def __post_init__(self) -> None:
        n = np.asarray(self.start_s).size
        for name in ("start_s", "duration_s", "eta_a", "eta_b", "background_a_hz", "background_b_hz"):
            value = np.atleast_1d(np.asarray(getattr(self, name), dtype=float))
            if value.size != n or not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValidationError(f"link.{name} must hold {n} finite values >= 0")
            object.__setattr__(self, name, value)
        for name in ("eta_a", "eta_b"):
            if np.any(getattr(self, name) > 1):
                raise ValidationError(f"link.{name} is out of range: expected 0 <= {name} <= 1")
        for name in ("knot_t_s", "delay_a_s", "delay_b_s"):
            object.__setattr__(self, name, np.atleast_1d(np.asarray(getattr(self, name), dtype=float)))
        if np.any(np.diff(self.knot_t_s) <= 0) or self.knot_t_s.size != self.delay_a_s.size:
            raise ValidationError("link delay knots must be increasing, one delay per knot")
        if np.any(self.delay_a_s < 0) or np.any(self.delay_b_s < 0):
            raise ValidationError("link delays must be >= 0")

    @property
    def end_s(self) -> float:
        """End of the last segment (true time)."""
        return float(self.start_s[-1] + self.duration_s[-1])

    def delay_s(self, station: str, t_s: np.ndarray | float) -> np.ndarray:
        """Propagation delay to ``station`` ('a' or 'b') for photons emitted at ``t_s``."""
        delays = self.delay_a_s if station == "a" else self.delay_b_s
        return np.interp(t_s, self.knot_t_s, delays)

    def path_difference_s(self, t_s: np.ndarray | float) -> np.ndarray:
        """Predicted delay difference, Bob's minus Alice's, at emission time ``t_s``."""
        return self.delay_s("b", t_s) - self.delay_s("a", t_s)


@dataclass(frozen=True)
class ClickModel:
    """Everything :func:`simulate_clicks` needs: source, joint outcome table, stations, link."""

    pair_rate_hz: float
    joint: np.ndarray
    """``joint[s_a, s_b, o_a, o_b]``: outcome probabilities of a pair detected at both ends."""
    alice: StationModel
    bob: StationModel
    link: LinkProfile

    def __post_init__(self) -> None:
        check_range("source.pair_rate_hz", self.pair_rate_hz, 0.0, 1e12)
        joint = np.asarray(self.joint, dtype=float)
        shape = (self.alice.detector_map.num_settings, self.bob.detector_map.num_settings, 2, 2)
        if joint.shape != shape or np.any(joint < -1e-12) or not np.allclose(joint.sum(axis=(2, 3)), 1.0):
            raise ValidationError(f"joint must be outcome probabilities of shape {shape}")
        object.__setattr__(self, "joint", np.clip(joint, 0.0, 1.0))

    @classmethod
    def constant(
        cls,
        *,
        pair_rate_hz: float,
        eta_a: float,
        eta_b: float,
        duration_s: float,
        background_a_hz: float = 0.0,
        background_b_hz: float = 0.0,
        delay_a_s: float = 0.0,
        delay_b_s: float = 0.0,
        joint: np.ndarray | None = None,
        alice: StationModel | None = None,
        bob: StationModel | None = None,
    ) -> ClickModel:
        """A fixed link over ``duration_s`` (default joint table: perfect phi+ in Z and X)."""
        alice = alice or StationModel("alice")
        bob = bob or StationModel("bob")
        if joint is None:
            joint = perfect_joint(alice.detector_map, bob.detector_map)
        link = LinkProfile(
            np.array([0.0]),
            np.array([check_range("duration_s", duration_s, 0.0, 1e7, low_open=True)]),
            np.array([eta_a]),
            np.array([eta_b]),
            np.array([background_a_hz]),
            np.array([background_b_hz]),
            np.array([0.0, duration_s]),
            np.array([delay_a_s, delay_a_s]),
            np.array([delay_b_s, delay_b_s]),
        )
        return cls(pair_rate_hz, joint, alice, bob, link)

    def with_clocks(self, alice: Clock, bob: Clock) -> ClickModel:
        """The same model with other station clocks."""
        return replace(self, alice=replace(self.alice, clock=alice), bob=replace(self.bob, clock=bob))

    def noise_hz(self, station: str) -> np.ndarray:
        """Dark plus background counts per second of a station, per segment."""
        st = self.alice if station == "a" else self.bob
        background = self.link.background_a_hz if station == "a" else self.link.background_b_hz
        return background + st.detectors.dark_count_hz * st.detector_map.detectors

    def expected_rates(self) -> dict[str, np.ndarray]:
        """Per segment, before dead time: singles of each station, true pairs (both detected)."""
        b, ea, eb = self.pair_rate_hz, self.link.eta_a, self.link.eta_b
        return {
            "singles_a_hz": b * ea + self.noise_hz("a"),
            "singles_b_hz": b * eb + self.noise_hz("b"),
            "pairs_hz": b * ea * eb,
        }


def perfect_joint(map_a: DetectorMap, map_b: DetectorMap) -> np.ndarray:
    """Joint table of a perfect phi+ pair: E(a, b) = cos(a - b) (equal outcomes at equal angles)."""
    a = np.asarray(map_a.angles)[:, None]
    b = np.asarray(map_b.angles)[None, :]
    p_equal = (1.0 + np.cos(a - b)) / 2.0
    joint = np.empty((a.size, b.size, 2, 2))
    joint[..., 0, 0] = joint[..., 1, 1] = p_equal / 2.0
    joint[..., 0, 1] = joint[..., 1, 0] = (1.0 - p_equal) / 2.0
    return joint


# --------------------------------------------------------------------------------- generation
@dataclass
class _StationState:
    pending_t: np.ndarray
    pending_d: np.ndarray
    last_kept: np.ndarray


def simulate_clicks(
    model: ClickModel, seed: SeedLike = None, *, epoch_s: float = 1.0, progress: bool | None = False
) -> tuple[Clicks, Clicks]:
    """Both stations' whole streams (see :func:`iter_clicks` for bounded memory)."""
    parts = list(iter_clicks(model, seed, epoch_s=epoch_s, progress=progress))
    return Clicks.concatenate([a for a, _ in parts]), Clicks.concatenate([b for _, b in parts])


def iter_clicks(
    model: ClickModel, seed: SeedLike = None, *, epoch_s: float = 1.0, progress: bool | None = False
) -> Iterator[tuple[Clicks, Clicks]]:
    """Yield (Alice's, Bob's) clicks epoch by epoch, each part later than the one before."""
    check_range("epoch_s", epoch_s, 1e-6, 1e4)
    rng_source, rng_a, rng_b = spawn_generators(seed, 3)
    link = model.link
    pieces = []
    for i, (start, duration) in enumerate(zip(link.start_s, link.duration_s, strict=True)):
        n = max(1, math.ceil(duration / epoch_s - 1e-9))
        edges = start + duration * np.arange(n + 1) / n
        pieces += [(float(edges[k]), float(edges[k + 1] - edges[k]), i) for k in range(n)]
    states = {
        side: _StationState(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.full(st.detector_map.detectors, -(1 << 62), np.int64),
        )
        for side, st in (("a", model.alice), ("b", model.bob))
    }
    with progress_bar(len(pieces), progress=progress, label="clicks", unit="epoch") as bar:
        for index, (start, duration, segment) in enumerate(pieces):
            photons = _photons(model, rng_source, start, duration, segment)
            last = index == len(pieces) - 1
            out = []
            for side, st, rng in (("a", model.alice, rng_a), ("b", model.bob, rng_b)):
                t, d = _station_clicks(model, side, st, rng, start, duration, segment, *photons[side])
                out.append(_release(model, side, st, rng, states[side], t, d, start + duration, last))
            bar.update()
            yield out[0], out[1]


def _photons(model: ClickModel, rng: np.random.Generator, start: float, duration: float, segment: int):
    """Emission times (s, from ``start``), settings and outcomes of the detected photons."""
    link, b = model.link, model.pair_rate_hz
    ea, eb = float(link.eta_a[segment]), float(link.eta_b[segment])
    n_both, n_a, n_b = rng.poisson(np.array([b * ea * eb, b * ea * (1 - eb), b * (1 - ea) * eb]) * duration)
    pa = np.asarray(model.alice.setting_probabilities)
    pb = np.asarray(model.bob.setting_probabilities)
    joint = model.joint
    # both detected: settings, then outcomes from the joint table
    t_both = rng.random(n_both) * duration
    sa = _choose(rng, pa, n_both)
    sb = _choose(rng, pb, n_both)
    cumulative = np.cumsum(joint.reshape(pa.size, pb.size, 4), axis=-1)[sa, sb]
    u = rng.random(n_both)
    code = (u[:, None] > cumulative[:, :3]).sum(axis=1)
    oa, ob = code >> 1, code & 1
    # one photon lost: the other's outcome from its marginal (averaged over the lost setting)
    marginal_a = np.einsum("j,ijkl->ik", pb, joint)[:, 1]  # P(o_a = 1 | s_a)
    marginal_b = np.einsum("i,ijkl->jl", pa, joint)[:, 1]
    t_a, t_b = rng.random(n_a) * duration, rng.random(n_b) * duration
    sa1, sb1 = _choose(rng, pa, n_a), _choose(rng, pb, n_b)
    oa1 = (rng.random(n_a) < marginal_a[sa1]).astype(np.int64)
    ob1 = (rng.random(n_b) < marginal_b[sb1]).astype(np.int64)
    return {
        "a": (np.concatenate([t_both, t_a]), np.concatenate([sa, sa1]), np.concatenate([oa, oa1])),
        "b": (np.concatenate([t_both, t_b]), np.concatenate([sb, sb1]), np.concatenate([ob, ob1])),
    }


def _choose(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    if p.size == 1:
        return np.zeros(n, np.int64)
    return np.searchsorted(np.cumsum(p)[:-1], rng.random(n), side="right")


def _station_clicks(model, side, st: StationModel, rng, start, duration, segment, t_emit, settings, outcomes):
    """Detector readings (int64 ps) and detector indices of one station's clicks in a piece."""
    link = model.link
    detectors = st.detector_map.detector_of(settings, outcomes)
    arrival = t_emit + link.delay_s(side, start + t_emit)  # s from ``start``
    n_noise = rng.poisson(float(model.noise_hz(side)[segment]) * duration)
    arrival = np.concatenate([arrival, rng.random(n_noise) * duration])
    detectors = np.concatenate([detectors, rng.integers(0, st.detector_map.detectors, n_noise)])
    rel_ps = arrival * PS
    if st.detectors.jitter_ps > 0:
        rel_ps = rel_ps + rng.normal(0.0, st.detectors.jitter_ps, rel_ps.size)
    times = _reading_ps(st.clock, start, rel_ps)
    p_ap = st.detectors.afterpulse_probability
    if p_ap > 0 and times.size:
        parent = np.flatnonzero(rng.random(times.size) < p_ap)
        delay = st.detectors.dead_time_ns * 1e3 + rng.exponential(
            st.detectors.afterpulse_delay_ns * 1e3, parent.size
        )
        times = np.concatenate([times, times[parent] + np.rint(delay).astype(np.int64)])
        detectors = np.concatenate([detectors, detectors[parent]])
    return times, detectors.astype(np.int64)


def _reading_ps(clock: Clock, start_s: float, rel_ps: np.ndarray) -> np.ndarray:
    """Clock readings (int64 ps) of true times ``start_s + rel_ps``."""
    base = round(start_s * PS)
    drift = clock.drift_ppm * 1e-6
    constant = base * drift + clock.offset_s * PS
    return base + np.rint(rel_ps * (1.0 + drift) + constant).astype(np.int64)


def _release(model, side, st: StationModel, rng, state: _StationState, times, detectors, end_s, last):
    """Merge with pending clicks, release those no later piece can precede, apply dead time."""
    t = np.concatenate([state.pending_t, times])
    d = np.concatenate([state.pending_d, detectors])
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    if last:
        cut = t.size
    else:
        # noise clicks of the next piece start at end_s, its photons later (delays are >= 0)
        margin = JITTER_MARGIN_SIGMAS * st.detectors.jitter_ps + 1.0
        threshold = int(_reading_ps(st.clock, end_s, np.array([-margin]))[0])
        cut = int(np.searchsorted(t, threshold))
    state.pending_t, state.pending_d = t[cut:], d[cut:]
    t, d = t[:cut], d[:cut]
    keep = dead_time_mask(t, d, round(st.detectors.dead_time_ns * 1e3), state.last_kept)
    t, d = t[keep], d[keep]
    return tag_events(t, d, st.detectors.resolution_ps)


def dead_time_mask(
    times: np.ndarray, detectors: np.ndarray, dead_ps: int, last_kept: np.ndarray
) -> np.ndarray:
    """Clicks a non-paralysable detector records (per detector, vectorised; updates ``last_kept``).

    A click is recorded when its detector's last *recorded* click is at least ``dead_ps``
    earlier. Clicks whose raw predecessor is that far are recorded for sure; the others are
    settled by a fixed-point pass over the array that converges in as many rounds as the longest
    burst of clicks within one dead time (no loop per click).

    >>> t = np.array([0, 10, 20, 30, 45])
    >>> dead_time_mask(t, np.zeros(5, int), 25, np.array([-10**9])).tolist()
    [True, False, False, True, False]
    """
    keep = np.ones(times.size, dtype=bool)
    if dead_ps <= 0 or times.size == 0:
        for k in range(last_kept.size):
            own = times[detectors == k]
            if own.size:
                last_kept[k] = own[-1]
        return keep
    for k in range(last_kept.size):  # a loop per detector, not per click
        index = np.flatnonzero(detectors == k)
        if not index.size:
            continue
        t = times[index]
        previous = np.empty_like(t)
        previous[0] = last_kept[k]
        previous[1:] = t[:-1]
        own = (t - previous) >= dead_ps
        unsure = np.flatnonzero(~own)
        unsure = unsure[unsure > 0]
        while unsure.size:
            recorded = np.where(own, t, np.int64(last_kept[k]))
            last = np.maximum.accumulate(recorded)
            before = np.empty_like(last)
            before[0] = last_kept[k]
            before[1:] = last[:-1]
            update = (t[unsure] - before[unsure]) >= dead_ps
            if np.array_equal(update, own[unsure]):
                break
            own[unsure] = update
        keep[index] = own
        if np.any(own):
            last_kept[k] = t[own][-1]
    return keep


def tag_events(times: np.ndarray, detectors: np.ndarray, resolution_ps: int) -> Clicks:
    """What a time tagger records: times rounded down to ``resolution_ps``, same-bin clicks merged.

    >>> c = tag_events(np.array([100, 120, 300]), np.array([0, 1, 2]), 125)
    >>> c.times_ps.tolist(), c.patterns.tolist()   # the first two share a bin: a multi-click
    ([0, 250], [3, 4])
    """
    q = (times // resolution_ps) * resolution_ps
    pattern = (np.int64(1) << detectors).astype(np.uint8)
    if q.size == 0:
        return Clicks(q, pattern)
    order = np.argsort(q, kind="stable")
    q, pattern = q[order], pattern[order]
    starts = np.flatnonzero(np.concatenate([[True], q[1:] != q[:-1]]))
    if starts.size == q.size:
        return Clicks(q, pattern)
    return Clicks(q[starts], np.bitwise_or.reduceat(pattern, starts))
