"""The planning computation of one time chunk: orbits, windows, link, weather, schedule, key.

:func:`compute_chunk` is a pure function of the scenario, the chunk index and the seed: the
unit of work that :mod:`qentangle.plan.run` hands to dask. Within a chunk:

1. **Orbits.** Every satellite at every ``scan_step_s`` (sgp4's ``SatrecArray``, all
   satellites and times in one call), rotated to ECEF exactly as
   :class:`~qentangle.link.orbit.TLEOrbit` does.
2. **Windows.** Where a satellite is seen by two stations or more, the scan is refined to
   ``slice_s`` slices (the scan marks are widened by one step each side, so every
   double-visibility window at least ``scan_step_s`` long is found whole); each station pair's
   double-visibility windows are the runs of slices where both see the satellite above their
   minimum elevation.
3. **Link.** Per slice, the link model of a single pass (:func:`~qentangle.link.budget.downlink_budget`,
   :func:`~qentangle.link.physics.background_rate_hz`, :func:`~qentangle.link.rates.coincidence_rates`,
   :func:`~qentangle.link.rates.expected_qber`), called as
   :func:`~qentangle.link.physics.pass_physics` calls it, so a pass's figures equal
   ``qentangle pass`` on the same window.
4. **Weather.** Each station's night (local mean solar noon to noon) is clear with the
   station's cloud-free probability for the month; the draw comes from a generator keyed by
   (seed, station name, night), so it does not depend on chunking or on workers. The
   scheduler knows the weather of the night (a nowcast).
5. **Schedule.** A station's telescope follows one satellite at a time; a satellite serves up
   to ``payload.max_links`` pairs at once. Candidate links are the clear runs of a pair's
   windows whose expected asymptotic key is positive. ``greedy`` takes them by expected key,
   largest first; ``round_robin`` takes the pair served least so far (within the chunk), then
   the earliest. A link keeps the slices still free when its turn comes, if they add up to
   ``schedule.min_link_s``.
6. **Key.** Expected sifted bits and errors per served slice, summed per pass; the finite key
   (``key_rule = "pass"``) with :func:`qentangle.scenarios.compare.expected_key`.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from qentangle.distill.estimate import binary_entropy
from qentangle.errors import ValidationError
from qentangle.link.geometry import (
    eci_to_ecef,
    enu_basis,
    gmst_rad,
    julian_date,
    look_angles,
    sun_direction_ecef,
)
from qentangle.link.physics import background_rate_hz, station_budget
from qentangle.link.rates import coincidence_rates, expected_qber
from qentangle.plan.scenario import PlanScenario
from qentangle.scenarios.compare import expected_key
from qentangle.scenarios.model import ProtocolConfig

_UNIX0 = datetime(1970, 1, 1, tzinfo=timezone.utc)
ROW_FIELDS = (
    "chunk",
    "satellite",
    "pair",
    "start_s",
    "end_s",
    "night",
    "visible_s",
    "clear_s",
    "night_s",
    "served_s",
    "detected",
    "sifted_bits",
    "errors",
)
"""Columns of a chunk's pass table: one row per double-visibility window of a pair and satellite."""


def n_chunks(plan: PlanScenario) -> int:
    """How many chunks the period is cut into.

    >>> from qentangle.plan.scenario import load_plan
    >>> n_chunks(load_plan("europe-4").with_period(days=2.5))
    3
    """
    return max(1, math.ceil(plan.period.days / plan.period.chunk_days - 1e-9))


def chunk_span(plan: PlanScenario, index: int) -> tuple[float, float]:
    """Start and end (s after ``period.start``) of chunk ``index``."""
    chunk_s = plan.period.chunk_days * 86400.0
    start = index * chunk_s
    return start, min(plan.period.span_s, start + chunk_s)


MAX_TASK_BYTES = 2 * 2**30
"""Refuse chunks whose working arrays would need more than this (per task)."""


def task_bytes(plan: PlanScenario) -> int:
    """Estimated peak working memory of one chunk (scan positions and per-slice schedule arrays).

    >>> from qentangle.plan.scenario import load_plan
    >>> task_bytes(load_plan("europe-12")) < 100 * 2**20
    True
    """
    period = plan.period
    chunk_s = min(period.chunk_days * 86400.0, period.span_s)
    n_sat, n_st = len(plan.satellites), len(plan.stations)
    scan = math.ceil(chunk_s / period.scan_step_s) * n_sat * (3 * 8 * 4 + 2)
    fine = math.ceil(chunk_s / period.slice_s) * (n_st + 2 * n_sat + n_sat)
    return int(scan + fine)


def check_task_size(plan: PlanScenario) -> None:
    """Raise a one-line error, with the estimate, if a chunk cannot fit in :data:`MAX_TASK_BYTES`."""
    need = task_bytes(plan)
    if need > MAX_TASK_BYTES:
        raise ValidationError(
            f"period.chunk_days={plan.period.chunk_days:g} is too large for these satellites and slices: "
            f"a task would need about {need / 2**30:.1f} GiB (limit {MAX_TASK_BYTES / 2**30:.0f} GiB); "
            "expected a smaller period.chunk_days or a larger period.slice_s/scan_step_s"
        )


def key_protocol(plan: PlanScenario) -> ProtocolConfig:
    """The pass protocol whose expected key the planner counts (BBM92, p_z = 1/2, estimation by EC)."""
    p = plan.protocol
    return ProtocolConfig(
        kind="bbm92",
        p_z=0.5,
        eps_sec=p.eps_sec,
        eps_cor=p.eps_cor,
        estimation="ec",
        slice_s=plan.period.slice_s,
    )


def finite_key_bits(plan: PlanScenario, sifted_bits: float, errors: float, duration_s: float) -> int:
    """Expected final key of ``sifted_bits`` with ``errors`` collected over ``duration_s``.

    The same deterministic accounting as the ``expected`` figures of ``qentangle pass``
    (:func:`qentangle.scenarios.compare.expected_key`); 0 below two sifted bits.

    >>> from qentangle.plan.scenario import load_plan
    >>> finite_key_bits(load_plan("europe-4"), 3410.0, 0.045 * 3410, 3100.0)
    266
    """
    if duration_s <= 0 or round(sifted_bits) < 2:
        return 0
    qber = min(0.5, errors / sifted_bits)
    summary = {"sifted_rate_hz": sifted_bits / duration_s, "qber": qber, "duration_s": duration_s}
    key = expected_key(summary, key_protocol(plan), plan.protocol.ec_efficiency)
    return int(key.get("final_key_bits", 0))


# ---------------------------------------------------------------------------------- time
@dataclass(frozen=True)
class _Clock:
    """Times of the period as the link layer computes them (Julian date split as TLEOrbit does)."""

    start: datetime

    @property
    def jd0(self) -> float:
        return julian_date(self.start)

    def split(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        whole = math.floor(self.jd0)
        return np.full(t_s.shape, float(whole)), (self.jd0 - whole) + np.asarray(t_s, float) / 86400.0

    def jd(self, t_s: np.ndarray) -> np.ndarray:
        return self.jd0 + np.asarray(t_s, float) / 86400.0

    @property
    def unix0(self) -> float:
        return (self.start - _UNIX0).total_seconds()


def night_index(unix_s: np.ndarray | float, longitude_deg: float) -> np.ndarray:
    """The night of a place: days since 1970-01-01 of the local mean solar date at the noon before.

    >>> int(night_index(86400.0 * 10 + 3600.0, 0.0))   # 01:00 on day 10 belongs to night 9
    9
    """
    local = np.asarray(unix_s, float) + longitude_deg / 360.0 * 86400.0
    return np.floor((local - 43200.0) / 86400.0).astype(np.int64)


def night_month(night: int) -> int:
    """Month (0-11) of the date on which night ``night`` begins."""
    from datetime import timedelta

    return (_UNIX0 + timedelta(days=int(night))).month - 1


def clear_night(seed: int, station_name: str, night: int, cloud_free: tuple[float, ...]) -> bool:
    """Whether a station's night is clear: one uniform draw keyed by (seed, station, night).

    >>> clear_night(1, "A", 20000, (1.0,) * 12), clear_night(1, "A", 20000, (0.0,) * 12)
    (True, False)
    """
    key = (zlib.crc32(station_name.encode("utf-8")), int(night) + 1_000_000)
    u = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key)).random()
    return bool(u < cloud_free[night_month(night)])


# ---------------------------------------------------------------------------------- geometry
def _satrecs(plan: PlanScenario):
    from sgp4.api import Satrec

    return [Satrec.twoline2rv(s.line1, s.line2) for s in plan.satellites]


def _ecef(plan: PlanScenario, clock: _Clock, satrecs, t_s: np.ndarray) -> np.ndarray:
    """ECEF positions (m), shape (satellites, times, 3), via SatrecArray (TLEOrbit's frame)."""
    from sgp4.api import SatrecArray

    jd, fr = clock.split(t_s)
    error, teme_km, _ = SatrecArray(satrecs).sgp4(jd, fr)
    _check_errors(plan, error)
    return eci_to_ecef(teme_km * 1e3, gmst_rad(jd + fr))


def _ecef_one(plan: PlanScenario, clock: _Clock, satrec, index: int, t_s: np.ndarray) -> np.ndarray:
    jd, fr = clock.split(t_s)
    error, teme_km, _ = satrec.sgp4_array(jd, fr)
    _check_errors(plan, error[None, :], offset=index)
    return eci_to_ecef(teme_km * 1e3, gmst_rad(jd + fr))


def _check_errors(plan: PlanScenario, error: np.ndarray, offset: int = 0) -> None:
    if np.any(error != 0):
        sat = int(np.argwhere(error != 0)[0][0]) + offset
        code = int(error[error != 0][0])
        raise ValidationError(
            f"satellite {plan.satellites[sat].name!r}: SGP4 failed (error code {code}, 6 = decayed) "
            "within the planning period"
        )


def _above(station, ecef: np.ndarray) -> np.ndarray:
    """Whether the satellite is at or above the station's minimum elevation (no angles computed)."""
    delta = ecef - station.ecef_m
    up = enu_basis(station.latitude_rad, station.longitude_rad)[2]
    height = delta @ up
    return height >= math.sin(station.min_elevation_rad) * np.sqrt(np.einsum("...i,...i->...", delta, delta))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of the True runs of a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.diff(padded)
    return np.flatnonzero(change == 1), np.flatnonzero(change == -1)


def _fine_indices(
    coarse_flag: np.ndarray, scan_step_s: float, slice_s: float, t0: float, t1: float
) -> np.ndarray:
    """Chunk slice indices whose midpoints lie within one scan step of a flagged scan time."""
    n_fine = math.ceil((t1 - t0) / slice_s - 1e-9)
    starts, ends = _runs(coarse_flag)
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo = np.maximum(0, np.floor((starts - 1) * scan_step_s / slice_s - 0.5).astype(np.int64))
    hi = np.minimum(n_fine, np.ceil(ends * scan_step_s / slice_s + 0.5).astype(np.int64))
    # merge overlapping ranges (they are sorted by their start)
    reach = np.maximum.accumulate(hi)
    first = np.ones(lo.size, dtype=bool)
    first[1:] = lo[1:] > reach[:-1]
    group_lo = lo[first]
    group_hi = reach[np.concatenate([np.flatnonzero(first)[1:] - 1, [lo.size - 1]])]
    return np.concatenate(
        [np.arange(a, b) for a, b in zip(group_lo.tolist(), group_hi.tolist(), strict=True)]
    )


# ---------------------------------------------------------------------------------- the chunk
def compute_chunk(plan: PlanScenario, index: int, seed: int) -> dict:
    """Passes, served links and expected key of chunk ``index`` (see the module docstring).

    Returns plain numpy arrays: ``rows`` (columns :data:`ROW_FIELDS` plus ``final_key_bits``
    under ``key_rule = "pass"``), per-satellite ``served_s`` (link seconds), ``busy_s`` (time
    serving at least one link) and ``candidate_s`` (time with at least one clear link of
    positive expected key), per-station ``station_busy_s`` (time tracking a satellite), and the
    chunk's ``index`` and ``span_s``.
    """
    period = plan.period
    t0, t1 = chunk_span(plan, index)
    clock = _Clock(period.start_utc)
    stations = [s.station for s in plan.stations]
    n_sat, n_st = len(plan.satellites), len(stations)
    satrecs = _satrecs(plan)
    coarse_t = np.arange(t0, t1, period.scan_step_s)
    coarse = _ecef(plan, clock, satrecs, coarse_t)
    seen = np.zeros(coarse.shape[:2], dtype=np.int16)
    for st in stations:
        seen += _above(st, coarse)
    slice_s = period.slice_s
    n_fine = math.ceil((t1 - t0) / slice_s - 1e-9)
    busy = np.zeros((n_st, n_fine), dtype=bool)
    load = np.zeros((n_sat, n_fine), dtype=np.int16)
    rows: dict[str, list] = {name: [] for name in ROW_FIELDS}
    slices = _SliceStore()
    candidate = np.zeros((n_sat, n_fine), dtype=bool)
    weather = _Weather(plan, seed)
    for s in range(n_sat):
        k = _fine_indices(seen[s] >= 2, period.scan_step_s, slice_s, t0, t1)
        if k.size == 0:
            continue
        starts = t0 + k * slice_s
        ends = np.minimum(starts + slice_s, t1)
        mid, duration = (starts + ends) / 2.0, ends - starts
        ecef = _ecef_one(plan, clock, satrecs[s], s, mid)
        sun = sun_direction_ecef(clock.jd(mid))
        views = [_station_view(plan, st, ecef, sun) for st in stations]
        unix = clock.unix0 + mid
        clear = [weather.clear(i, unix) for i in range(n_st)]
        gap = np.ones(k.size, dtype=bool)  # a window cannot continue across a gap in the slices
        gap[1:] = np.diff(k) != 1
        for p, (i, j) in enumerate(plan.pairs):
            both = views[i]["visible"] & views[j]["visible"]
            if both.any():
                _pair_windows(
                    plan, rows, slices, (index, s, p, i, j), both, gap, k, mid, duration, views, clear, unix
                )
    table = {name: (np.concatenate(values) if values else np.zeros(0)) for name, values in rows.items()}
    for name in ("chunk", "satellite", "pair", "night"):
        table[name] = table[name].astype(np.int64)
    served = _schedule(plan, table, slices, busy, load, candidate)
    for name in ("served_s", "detected", "sifted_bits", "errors"):
        table[name] = served[name]
    if plan.protocol.key_rule == "pass":
        table["final_key_bits"] = np.array(
            [
                finite_key_bits(plan, n, e, d)
                for n, e, d in zip(table["sifted_bits"], table["errors"], table["served_s"], strict=True)
            ],
            dtype=np.int64,
        )
    return {
        "index": index,
        "span_s": t1 - t0,
        "rows": table,
        "served_s": (load.sum(axis=1) * slice_s).astype(float),
        "busy_s": ((load > 0).sum(axis=1) * slice_s).astype(float),
        "candidate_s": (candidate.sum(axis=1) * slice_s).astype(float),
        "station_busy_s": (busy.sum(axis=1) * slice_s).astype(float),
    }


def _station_view(plan: PlanScenario, station, ecef: np.ndarray, sun: np.ndarray) -> dict:
    """Visibility, downlink transmittance and noise of one station over a satellite's slices.

    The same calls, with the same arguments, as :func:`qentangle.link.physics.pass_physics`.
    """
    elevation, _, range_m = look_angles(station.latitude_rad, station.longitude_rad, station.ecef_m, ecef)
    up = enu_basis(station.latitude_rad, station.longitude_rad)[2]
    sun_elevation = np.arcsin(np.clip(sun @ up, -1.0, 1.0))
    det = plan.detectors
    budget = station_budget(station, range_m, elevation, link=plan.link, source=plan.source, detectors=det)
    return {
        "visible": elevation >= station.min_elevation_rad,
        "eta": budget.total,
        "noise": det.dark_rate_hz + background_rate_hz(station, sun_elevation, plan.period.background),
        "sun": sun_elevation,
    }


class _Weather:
    """Clear or cloudy per station and night, drawn once per (station, night) and remembered."""

    def __init__(self, plan: PlanScenario, seed: int) -> None:
        self.plan, self.seed, self.cache = plan, seed, {}

    def clear(self, station: int, unix_s: np.ndarray) -> np.ndarray:
        st = self.plan.stations[station]
        nights = night_index(unix_s, st.station.longitude_deg)
        out = np.empty(nights.shape, dtype=bool)
        for night in np.unique(nights).tolist():
            key = (station, night)
            if key not in self.cache:
                self.cache[key] = clear_night(self.seed, st.name, night, st.cloud_free)
            out[nights == night] = self.cache[key]
        return out


class _SliceStore:
    """Per-slice link values of every window, concatenated (windows point into it)."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {
            n: [] for n in ("k", "duration", "detected", "errors", "clear", "window")
        }
        self.size = 0
        self.windows = 0

    def add(self, window: np.ndarray, **arrays: np.ndarray) -> None:
        for name, values in arrays.items():
            self.parts[name].append(values)
        self.parts["window"].append(window.astype(np.int64))
        self.size += window.size

    def arrays(self) -> dict[str, np.ndarray]:
        return {n: np.concatenate(v) if v else np.zeros(0) for n, v in self.parts.items()}


def _pair_windows(plan, rows, slices, where, both, gap, k, mid, duration, views, clear, unix) -> None:
    """Record the double-visibility windows of one pair on one satellite and their slices' link values."""
    chunk, s, p, i, j = where
    idx = np.flatnonzero(both)
    new = np.ones(idx.size, dtype=bool)
    new[1:] = (np.diff(idx) != 1) | gap[idx[1:]]
    first_pos = np.flatnonzero(new)
    last_pos = np.concatenate([first_pos[1:], [idx.size]]) - 1
    va, vb = views[i], views[j]
    source, det = plan.source, plan.detectors
    rates = coincidence_rates(
        source.pair_rate_hz,
        va["eta"][idx],
        vb["eta"][idx],
        va["noise"][idx],
        vb["noise"][idx],
        windows_per_second=source.windows_per_second(det.coincidence_window_s),
    )
    qber = expected_qber(source.visibility, rates.accidental_fraction, plan.link.misalignment_deg)
    dur = duration[idx]
    detected = (rates.coincidence_rate_hz + rates.accidental_rate_hz) * dur
    both_clear = clear[i][idx] & clear[j][idx]
    dark = np.degrees(np.maximum(va["sun"][idx], vb["sun"][idx])) < -12.0
    n = first_pos.size
    base = slices.windows
    first, last = idx[first_pos], idx[last_pos]
    rows["chunk"].append(np.full(n, chunk))
    rows["satellite"].append(np.full(n, s))
    rows["pair"].append(np.full(n, p))
    rows["start_s"].append(mid[first] - duration[first] / 2.0)
    rows["end_s"].append(mid[last] + duration[last] / 2.0)
    rows["night"].append(night_index(unix[first], plan.stations[i].station.longitude_deg))
    rows["visible_s"].append(np.add.reduceat(dur, first_pos))
    rows["clear_s"].append(np.add.reduceat(dur * both_clear, first_pos))
    rows["night_s"].append(np.add.reduceat(dur * dark, first_pos))
    for name in ("served_s", "detected", "sifted_bits", "errors"):
        rows[name].append(np.zeros(n))
    window = base + np.repeat(np.arange(n), last_pos - first_pos + 1)
    slices.windows += n
    slices.add(window, k=k[idx], duration=dur, detected=detected, errors=detected * qber, clear=both_clear)


def _schedule(
    plan: PlanScenario,
    rows: dict,
    store: _SliceStore,
    busy: np.ndarray,
    load: np.ndarray,
    candidate: np.ndarray,
) -> dict[str, np.ndarray]:
    """Assign clear link runs to stations and satellites; the served sums per window.

    ``busy`` (stations x slices), ``load`` and ``candidate`` (satellites x slices) are updated.
    """
    n_windows = rows["chunk"].size
    out = {n: np.zeros(n_windows) for n in ("served_s", "detected", "sifted_bits", "errors")}
    if n_windows == 0:
        return out
    sl = store.arrays()
    f = plan.protocol.ec_efficiency
    sift = plan.protocol.p_z**2 + (1 - plan.protocol.p_z) ** 2
    # candidate links: runs of clear slices inside each window (the window id splits runs)
    clear = sl["clear"].astype(bool)
    boundary = np.ones(sl["k"].size, dtype=bool)
    boundary[1:] = sl["window"][1:] != sl["window"][:-1]
    run_id = np.cumsum(boundary | np.concatenate([[True], clear[1:] != clear[:-1]])) - 1
    starts = np.flatnonzero(np.concatenate([[True], run_id[1:] != run_id[:-1]]))
    ends = np.concatenate([starts[1:], [run_id.size]])
    keep = clear[starts]
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return out
    detected = np.add.reduceat(sl["detected"], starts)
    errors = np.add.reduceat(sl["errors"], starts)
    length = np.add.reduceat(sl["duration"], starts)
    qber = np.where(detected > 0, errors / np.maximum(detected, 1e-300), 0.5)
    score = detected * sift * (1.0 - (1.0 + f) * binary_entropy(np.clip(qber, 0.0, 0.5)))
    ok = (score > 0) & (length >= plan.schedule.min_link_s)
    starts, ends, score = starts[ok], ends[ok], score[ok]
    window = sl["window"][starts]
    sat = np.asarray(rows["satellite"])[window]
    pair = np.asarray(rows["pair"])[window]
    pairs, max_links = plan.pairs, plan.payload.max_links
    served_mask = np.zeros(sl["k"].size, dtype=bool)

    def accept(c: int) -> bool:
        a, b, s, p = int(starts[c]), int(ends[c]), int(sat[c]), int(pair[c])
        k = sl["k"][a:b].astype(np.int64)
        candidate[s, k] = True
        i, j = pairs[p]
        free = ~busy[i, k] & ~busy[j, k] & (load[s, k] < max_links)
        if not free.any() or sl["duration"][a:b][free].sum() < plan.schedule.min_link_s:
            return False
        kk = k[free]
        busy[i, kk] = True
        busy[j, kk] = True
        load[s, kk] += 1
        served_mask[a:b] |= free
        return True

    if plan.schedule.rule == "greedy":
        for c in np.lexsort((starts, pair, sat, -score)).tolist():
            accept(c)
    else:
        served = np.zeros(len(pairs), dtype=np.int64)
        remaining = np.ones(starts.size, dtype=bool)
        for _ in range(starts.size):
            idx = np.flatnonzero(remaining)
            c = int(idx[np.lexsort((pair[idx], starts[idx], served[pair[idx]]))[0]])
            remaining[c] = False
            served[pair[c]] += accept(c)
    w = sl["window"][served_mask].astype(np.int64)
    np.add.at(out["served_s"], w, sl["duration"][served_mask])
    np.add.at(out["detected"], w, sl["detected"][served_mask])
    np.add.at(out["sifted_bits"], w, sl["detected"][served_mask] * sift)
    np.add.at(out["errors"], w, sl["errors"][served_mask] * sift)
    return out
