"""Coincidences between two click streams: vectorised sorted merge within a window.

Bob's times are first mapped into Alice's frame with the clock model found by
:mod:`qentangle.timetags.sync` (``t_B = t_A (1 + drift) + offset``, after removing any predicted
path difference). Each of Alice's clicks is paired with the nearest of Bob's clicks whose time
differs by at most half the window; a Bob click claimed by two of Alice's keeps the nearer one
(two ``np.searchsorted`` calls and a sort, no loop per click).

Accidentals are measured, not modelled: the same count in windows shifted far off the peak
(``shifts``, by default 10 shifts of 20 windows each side) estimates the accidentals inside the
peak window, with its standard error.

>>> a = np.array([100, 5_000, 9_000])
>>> b = np.array([180, 7_000, 8_950])
>>> ia, ib, dt = match(a, b, 200)
>>> ia.tolist(), ib.tolist(), dt.tolist()
([0, 2], [0, 2], [80, -50])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qentangle.errors import ValidationError, check_range
from qentangle.params import Param

WINDOW_NS = Param(
    "window_ns",
    float,
    low=0.0,
    high=1e6,
    low_open=True,
    default=None,
    unit="ns",
    metavar="NS",
    help="full width of the coincidence window (default: six widths of the measured peak)",
)

PathDifference = Callable[[np.ndarray], np.ndarray]
"""Predicted delay difference (Bob's minus Alice's, ps) as a function of Bob's times (ps)."""


@dataclass(frozen=True)
class ClockModel:
    """Bob's clock against Alice's: ``t_B = t_A (1 + drift_ppm 1e-6) + offset_s``.

    ``path_difference`` (optional) is removed from Bob's times first (e.g. the difference of
    the predicted slant-range delays over a satellite pass).

    >>> m = ClockModel(offset_s=0.25, drift_ppm=10.0)
    >>> m.to_alice(np.array([m.to_bob_ps(4e12)])).tolist()
    [4000000000000]
    """

    offset_s: float = 0.0
    drift_ppm: float = 0.0
    path_difference: PathDifference | None = None

    @property
    def offset_ps(self) -> float:
        """Offset in ps."""
        return self.offset_s * 1e12

    @property
    def drift(self) -> float:
        """Fractional frequency error."""
        return self.drift_ppm * 1e-6

    def to_alice(self, b_ps: np.ndarray) -> np.ndarray:
        """Bob's times in Alice's frame (int64 ps)."""
        b = np.asarray(b_ps, dtype=np.int64)
        if self.path_difference is not None:
            b = b - np.rint(self.path_difference(b)).astype(np.int64)
        o, d = self.offset_ps, self.drift
        return b - np.rint(o + (b - o) * (d / (1.0 + d))).astype(np.int64)

    def to_bob_ps(self, a_ps: float) -> float:
        """Alice's time ``a_ps`` on Bob's clock (without the path difference)."""
        return a_ps * (1.0 + self.drift) + self.offset_ps

    def refined(self, delta_ps: float, delta_drift: float, t_ref_ps: float) -> ClockModel:
        """The model after a residual ``b_alice - a = delta_ps + delta_drift (a - t_ref_ps)``."""
        d = self.drift
        offset = self.offset_ps + (delta_ps - delta_drift * t_ref_ps) * (1.0 + d)
        drift = (1.0 + d) * (1.0 + delta_drift) - 1.0
        return ClockModel(offset * 1e-12, drift * 1e6, self.path_difference)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: offset and drift."""
        return {"offset_s": self.offset_s, "drift_ppm": self.drift_ppm}


def match(
    a_ps: np.ndarray,
    b_ps: np.ndarray,
    window_ps: float,
    center_ps: float = 0.0,
    *,
    insertion: np.ndarray | None = None,
):
    """Pairs (Alice index, Bob index, b - a) with ``|b - a - center| <= window / 2``, nearest first.

    ``a_ps`` and ``b_ps`` are sorted, ``b_ps`` already in Alice's frame. Each of Alice's clicks
    takes the nearest of Bob's (one ``searchsorted``: the candidates are the two neighbours of
    its insertion point); a Bob click claimed twice keeps the nearer Alice click. ``insertion``
    may pass ``searchsorted(b, a + center)`` when the caller has it already.
    """
    half = window_ps / 2.0
    a = np.asarray(a_ps, dtype=np.int64)
    b = np.asarray(b_ps, dtype=np.int64)
    empty = np.zeros(0, np.int64)
    if not a.size or not b.size:
        return empty, empty, empty
    target = a + round(center_ps)
    j = np.searchsorted(b, target, side="left") if insertion is None else insertion
    right = np.minimum(j, b.size - 1)
    left = np.maximum(j - 1, 0)
    d_right = np.abs(b[right] - target)
    d_left = np.abs(b[left] - target)
    pick = np.where(d_left <= d_right, left, right)  # the nearer neighbour (the earlier on a tie)
    distance = np.minimum(d_left, d_right)
    found = np.flatnonzero(distance <= half)
    if not found.size:
        return empty, empty, empty
    ia, ib = found, pick[found]
    dt = b[ib] - a[ia]
    repeated = ib[1:] == ib[:-1]  # ib is non-decreasing: a Bob click claimed twice is adjacent
    if np.any(repeated):
        order = np.lexsort((np.abs(dt - center_ps), ib))
        ib_sorted = ib[order]
        unique = np.concatenate([[True], ib_sorted[1:] != ib_sorted[:-1]])
        keep = np.sort(order[unique])
        ia, ib, dt = ia[keep], ib[keep], dt[keep]
    return ia, ib, dt


def near_delays(
    a_ps: np.ndarray,
    b_ps: np.ndarray,
    lo_ps: float,
    hi_ps: float,
    *,
    insertion: np.ndarray | None = None,
    max_steps: int = 32,
):
    """Delays ``b - a`` of every pair with ``lo <= b - a <= hi`` (``lo <= 0 <= hi``), found by stepping.

    From each of Alice's insertion points into Bob's stream (``searchsorted(b, a)``) the search
    steps outwards, one step for every click at once, until no click has a neighbour left in
    range: as many vector steps as the most crowded range holds clicks (a few when the range is
    short beside the mean spacing of Bob's clicks). Beyond ``max_steps`` it falls back to
    :func:`pair_delays`.
    """
    a = np.asarray(a_ps, dtype=np.int64)
    b = np.asarray(b_ps, dtype=np.int64)
    if not a.size or not b.size:
        return np.zeros(0, np.int64)
    j = np.searchsorted(b, a, side="left") if insertion is None else insertion
    parts = []
    for direction in (1, -1):
        active = np.arange(a.size)
        start = j if direction > 0 else j - 1
        for step in range(max_steps + 1):
            if step == max_steps:
                return pair_delays(a, b, lo_ps, hi_ps)[1]
            idx = start[active] + direction * step
            ok = (idx >= 0) & (idx < b.size)
            active, idx = active[ok], idx[ok]
            d = b[idx] - a[active]
            inside = (d <= hi_ps) & (d >= lo_ps)
            if not np.any(inside):
                break
            parts.append(d[inside])
            active = active[inside]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def count_pairs(a_ps: np.ndarray, b_ps: np.ndarray, lo_ps: float, hi_ps: float) -> int:
    """Number of (a, b) pairs with ``lo <= b - a <= hi`` (all pairs, no uniqueness)."""
    lo = np.searchsorted(b_ps, a_ps + math.ceil(lo_ps), side="left")
    hi = np.searchsorted(b_ps, a_ps + math.floor(hi_ps), side="right")
    return int(np.sum(hi - lo))


def default_shifts(window_ps: float, count: int = 10, spacing_windows: float = 20.0) -> np.ndarray:
    """Off-peak window centres: ``+-k spacing`` windows for k = 1..count (ps).

    >>> default_shifts(1000.0, 2).tolist()
    [-40000.0, -20000.0, 20000.0, 40000.0]
    """
    k = np.arange(1, count + 1) * spacing_windows * window_ps
    return np.concatenate([-k[::-1], k])


def pair_delays(a_ps: np.ndarray, b_ps: np.ndarray, lo_ps: float, hi_ps: float, stride: int = 1):
    """Alice's time and the delay ``b - a`` of every pair with ``lo <= b - a <= hi``.

    Two ``searchsorted`` calls and an expansion (no loop per click); ``stride`` > 1 uses every
    ``stride``-th of Alice's clicks only (to bound the number of pairs).
    """
    a = np.asarray(a_ps, dtype=np.int64)[::stride]
    b = np.asarray(b_ps, dtype=np.int64)
    first = np.searchsorted(b, a + math.ceil(lo_ps), side="left")
    last = np.searchsorted(b, a + math.floor(hi_ps), side="right")
    counts = last - first
    total = int(counts.sum())
    owner = np.repeat(np.arange(a.size), counts)
    offsets = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    index = offsets + np.arange(total)
    return a[owner], b[index] - a[owner]


def accidentals(
    a_ps: np.ndarray,
    b_ps: np.ndarray,
    window_ps: float,
    shifts: np.ndarray | None = None,
    *,
    insertion: np.ndarray | None = None,
):
    """Mean count in off-peak windows (the accidentals expected in the peak window) and its error.

    Returns (mean, standard error, the count of each shifted window). ``insertion`` may pass
    ``searchsorted(b, a)`` when the caller has it already.
    """
    shifts = default_shifts(window_ps) if shifts is None else np.asarray(shifts, dtype=float)
    half = window_ps / 2.0
    lo, hi = min(float(shifts.min()) - half, 0.0), max(float(shifts.max()) + half, 0.0)
    dt = np.sort(near_delays(a_ps, b_ps, lo, hi, insertion=insertion))
    first = np.searchsorted(dt, np.ceil(shifts - half), side="left")
    last = np.searchsorted(dt, np.floor(shifts + half), side="right")
    counts = (last - first).astype(float)
    mean = float(counts.mean())
    return mean, math.sqrt(mean / counts.size), counts


@dataclass(frozen=True)
class Coincidences:
    """Coincidences found in a stretch of data, and the accidentals measured beside them."""

    alice_index: np.ndarray
    bob_index: np.ndarray
    dt_ps: np.ndarray
    """Bob's time (Alice's frame) minus Alice's, per coincidence."""
    window_ps: float
    accidentals: float
    accidentals_stderr: float
    alice_events: int
    bob_events: int
    duration_s: float

    def __len__(self) -> int:
        return int(self.alice_index.size)

    @property
    def car(self) -> float:
        """Coincidence-to-accidental ratio: (coincidences - accidentals) / accidentals."""
        if self.accidentals <= 0:
            return math.inf
        return (len(self) - self.accidentals) / self.accidentals

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe counts (no indices)."""
        return {
            "coincidences": len(self),
            "accidentals": self.accidentals,
            "accidentals_stderr": self.accidentals_stderr,
            "window_s": self.window_ps * 1e-12,
            "car": self.car,
            "alice_events": self.alice_events,
            "bob_events": self.bob_events,
            "duration_s": self.duration_s,
        }


def find_coincidences(
    a_ps: np.ndarray,
    b_ps: np.ndarray,
    model: ClockModel,
    window_ps: float,
    *,
    shifts: np.ndarray | None = None,
) -> Coincidences:
    """Coincidences of two sorted streams within ``window_ps`` (full width) under ``model``."""
    check_range("window_s", window_ps * 1e-12, 0.0, 1e-3, low_open=True)
    b_alice = model.to_alice(b_ps)
    if b_alice.size > 1 and np.any(np.diff(b_alice) < 0):
        raise ValidationError("Bob's times are not in order after the clock model: check path_difference")
    a = np.asarray(a_ps, dtype=np.int64)
    insertion = np.searchsorted(b_alice, a, side="left")  # shared by the match and the accidentals
    ia, ib, dt = match(a, b_alice, window_ps, insertion=insertion)
    acc, acc_err, _ = accidentals(a, b_alice, window_ps, shifts, insertion=insertion)
    duration = 0.0
    if len(a_ps) > 1:
        duration = float(a_ps[-1] - a_ps[0]) * 1e-12
    return Coincidences(ia, ib, dt, float(window_ps), acc, acc_err, len(a_ps), len(b_ps), duration)


def delay_histogram(dt_ps: np.ndarray, half_range_ps: float, bin_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of coincidence delays in ``[-half_range, half_range]``: (counts, bin centres)."""
    edges = np.arange(-half_range_ps, half_range_ps + bin_ps / 2, bin_ps)
    counts, _ = np.histogram(dt_ps, edges)
    return counts, (edges[:-1] + edges[1:]) / 2


def window_scan(
    dt_ps: np.ndarray, accidental_density_per_ps: float, windows_ps: np.ndarray
) -> dict[str, np.ndarray]:
    """For each full width: coincidences inside it and the accidentals expected (density x width).

    ``dt_ps`` are the delays of pairs found with a window at least as wide as the widest one.
    """
    windows = np.asarray(windows_ps, dtype=float)
    absolute = np.sort(np.abs(np.asarray(dt_ps, dtype=float)))
    counts = np.searchsorted(absolute, windows / 2.0, side="right").astype(float)
    return {"window_ps": windows, "coincidences": counts, "accidentals": accidental_density_per_ps * windows}


def best_window(
    dt_ps: np.ndarray, accidental_density_per_ps: float, windows_ps: np.ndarray, intrinsic_qber: float = 0.0
) -> tuple[float, dict[str, np.ndarray]]:
    """The window maximising the asymptotic BBM92 rate C (1 - 2 h(Q)) (per sifted bit pair).

    Q(w) = [A(w) / 2 + (C(w) - A(w)) e] / C(w): accidentals carry QBER 1/2, true pairs the
    ``intrinsic_qber`` e. Returns the best width and the scan (with ``qber`` and ``rate``).
    """
    scan = window_scan(dt_ps, accidental_density_per_ps, windows_ps)
    c, acc = scan["coincidences"], np.minimum(scan["accidentals"], scan["coincidences"])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(c > 0, (acc / 2 + (c - acc) * intrinsic_qber) / c, 0.5)
    rate = c * np.maximum(0.0, 1.0 - 2.0 * _h(q))
    scan.update(qber=q, rate=rate)
    return float(scan["window_ps"][int(np.argmax(rate))]), scan


def _h(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    return -p * np.log2(p) - (1 - p) * np.log2(1 - p)
