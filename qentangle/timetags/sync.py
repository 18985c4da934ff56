"""Clock synchronisation: offset and drift between two stations from their click streams alone.

Coarse to fine, in the spirit of qcrypto's ``pfind``:

1. **Coarse offset** (only when the offset is unknown beyond a few microseconds): the two
   click trains of a short stretch are binned and cross-correlated by FFT (zero-padded, so
   linear, not circular), with a bin wide enough to cover +-``max_offset_s``. The stretch is
   short enough that the largest drift smears the peak by at most a bin; when the peak is not
   significant the stretch is lengthened (and the correlation smoothed over the smear).
2. **Drift tracking**: the sync span is cut into segments; in each, the delays of all click
   pairs within the remaining uncertainty are histogrammed (a vectorised sorted merge), the
   peak located, and a straight line fitted through the peaks of the significant segments
   gives offset and drift. Bins shrink level by level (each level's fit bounds the next
   level's smear) down to the timing jitter.
3. **Fine fit**: a trimmed least-squares line through the delays of the coincidences near the
   peak gives the final offset and drift; the rms of their residuals is the peak width.

A predicted path difference (``path_difference``, e.g. from the satellite's orbit) is removed
from Bob's times first, as Micius did, so that the rest is the stations' clocks.

The result reports the clock model ``t_B = t_A (1 + drift_ppm 1e-6) + offset_s``, the peak's
significance (in standard deviations of the correlation off the peak), its width, and the
coincidences, accidentals and CAR at the chosen window.

>>> from qentangle.timetags.streams import ClickModel, relative_clocks, simulate_clicks
>>> model = ClickModel.constant(pair_rate_hz=2e5, eta_a=0.2, eta_b=0.2, duration_s=1.0)
>>> model = model.with_clocks(*relative_clocks(0.123456789, 3.0))
>>> a, b = simulate_clicks(model, seed=3)
>>> s = synchronize(a.times_ps, b.times_ps)
>>> round(s.offset_s, 9), round(s.drift_ppm, 1), s.significance > 10
(0.123456789, 3.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qentangle.errors import QentangleError, check_range
from qentangle.params import Param
from qentangle.timetags.coincidences import ClockModel, PathDifference, find_coincidences, pair_delays

MAX_OFFSET_S = Param(
    "max_offset_s",
    float,
    low=0.0,
    high=1e4,
    default=1.0,
    unit="s",
    metavar="S",
    help="largest clock offset searched (|offset_s|)",
)
MAX_DRIFT_PPM = Param(
    "max_drift_ppm",
    float,
    low=0.0,
    high=1e4,
    default=10.0,
    unit="ppm",
    metavar="PPM",
    help="largest clock frequency error searched",
)
SYNC_SPAN_S = Param(
    "sync_span_s",
    float,
    low=0.0,
    high=1e6,
    low_open=True,
    default=None,
    unit="s",
    metavar="S",
    help="data used for synchronisation (default: all)",
)
MAX_FFT_BINS = 1 << 20
MAX_PAIRS = 20_000_000
SIGNIFICANCE = 6.0
"""Peak height (standard deviations) a coarse FFT correlation must reach."""
FALSE_PEAK_SIGMAS = 3.0
"""Margin above the largest of n Gaussian noise values (sqrt(2 ln n)) a histogram peak must reach."""
SEGMENT_COINCIDENCES = 80.0
MIN_SEGMENTS = 4
FINE_HALF_RANGE_PS = 5000.0
LOCAL_BINS = 512


class SyncError(QentangleError):
    """No significant correlation peak: the streams do not share pairs within the search range."""


@dataclass(frozen=True)
class SyncResult:
    """Clock model between the stations and what the peak looks like."""

    model: ClockModel
    significance: float
    """Height of the coarse correlation peak above the mean, in standard deviations."""
    peak_sigma_ps: float
    """rms width of the coincidence peak (for Gaussian jitter: sqrt(sigma_a^2 + sigma_b^2))."""
    coincidences: int
    accidentals: float
    window_s: float
    span_s: float
    levels: int

    @property
    def offset_s(self) -> float:
        """Offset of the model t_B = t_A (1 + drift) + offset (s)."""
        return self.model.offset_s

    @property
    def drift_ppm(self) -> float:
        """Frequency error of Bob's clock against Alice's (ppm)."""
        return self.model.drift_ppm

    @property
    def car(self) -> float:
        """Coincidence-to-accidental ratio in the window."""
        return (self.coincidences - self.accidentals) / self.accidentals if self.accidentals > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures."""
        return {
            "offset_s": self.offset_s,
            "drift_ppm": self.drift_ppm,
            "coincidences": self.coincidences,
            "accidentals": self.accidentals,
            "window_s": self.window_s,
            "car": self.car,
            "significance": self.significance,
            "peak_sigma_ps": self.peak_sigma_ps,
            "sync_span_s": self.span_s,
            "levels": self.levels,
        }


def synchronize(
    a_ps: np.ndarray,
    b_ps: np.ndarray,
    *,
    max_offset_s: float = 1.0,
    max_drift_ppm: float = 10.0,
    span_s: float | None = None,
    resolution_ps: float = 100.0,
    window_sigmas: float = 3.0,
    path_difference: PathDifference | None = None,
    prior: ClockModel | None = None,
) -> SyncResult:
    """Find the clock model from two sorted click-time arrays (int64 ps, each station's own clock).

    ``max_offset_s`` and ``max_drift_ppm`` bound the search (around ``prior``, when given);
    ``span_s`` limits the data used (default: all of Alice's); ``resolution_ps`` is the finest
    bin (about the timing jitter). The coincidence window reported is ``2 window_sigmas``
    times the measured peak width (at least ``resolution_ps``).
    """
    max_offset = MAX_OFFSET_S.check(max_offset_s) * 1e12
    drift_bound = MAX_DRIFT_PPM.check(max_drift_ppm) * 1e-6
    resolution = check_range("resolution_ps", resolution_ps, 1.0, 1e9)
    a = np.asarray(a_ps, dtype=np.int64)
    b = np.asarray(b_ps, dtype=np.int64)
    if a.size < 2 or b.size < 2:
        raise SyncError("too few clicks to synchronise: need at least two per station")
    t0 = int(a[0])
    span = (
        float(a[-1] - a[0]) if span_s is None else min(float(a[-1] - a[0]), SYNC_SPAN_S.check(span_s) * 1e12)
    )
    a = a[: np.searchsorted(a, t0 + span, side="right")]
    model = prior or ClockModel(path_difference=path_difference)
    if prior is not None and path_difference is not None:
        model = ClockModel(prior.offset_s, prior.drift_ppm, path_difference)
    # the offset is defined at t_A = 0: at the data's start it may differ by up to drift * t0
    sigma_o, sigma_d = max(max_offset + drift_bound * abs(t0), resolution), drift_bound
    significance: float | None = None
    rate_b = b.size / max(float(b[-1] - b[0]), 1.0)  # Bob's clicks per ps
    levels = 0
    if a.size * rate_b * 2 * (sigma_o + sigma_d * span) > MAX_PAIRS:
        model, sigma_o, significance, c_rate = _coarse(a, b, model, sigma_o, sigma_d, span)
        levels += 1
    else:
        c_rate = None
    while True:
        levels += 1
        model, sigma_o, sigma_d, c_rate, z, done = _refine(
            a, b, model, sigma_o, sigma_d, span, resolution, c_rate
        )
        significance = z if significance is None else significance
        if done or levels > 12:
            break
    model, width = _fine_fit(a, b, model, max(sigma_o, resolution))
    window = max(resolution, 2.0 * window_sigmas * width)
    found = find_coincidences(a, b, model, window)
    return SyncResult(
        model=model,
        significance=float(significance),
        peak_sigma_ps=float(width),
        coincidences=len(found),
        accidentals=found.accidentals,
        window_s=window * 1e-12,
        span_s=span * 1e-12,
        levels=levels,
    )


def _coarse(a, b, model: ClockModel, sigma_o: float, sigma_d: float, span: float):
    """FFT cross-correlation over a short stretch: the offset to within a coarse bin."""
    t0 = int(a[0])
    b_alice = model.to_alice(b)
    stretch = min(span, max(2 * sigma_o / (MAX_FFT_BINS * max(sigma_d, 1e-15)), 1e9))
    while True:
        width = math.ceil((2 * stretch + 2 * sigma_o) / (MAX_FFT_BINS // 2))
        reach = sigma_o + sigma_d * stretch + 2 * width  # lags searched: +-reach
        width = math.ceil((2 * stretch + 2 * reach) / (MAX_FFT_BINS // 2))
        a_part = a[: np.searchsorted(a, t0 + stretch)]
        lo = np.searchsorted(b_alice, t0 - reach)
        hi = np.searchsorted(b_alice, t0 + stretch + reach)
        b_part = b_alice[lo:hi]
        n_a = math.ceil(stretch / width) + 1
        n_b = math.ceil((stretch + 2 * reach) / width) + 1
        size = 1 << max(1, (n_a + n_b).bit_length())
        train_a = np.bincount((a_part - t0) // width, minlength=n_a).astype(np.float32)
        train_b = np.bincount((b_part - (t0 - math.floor(reach))) // width, minlength=n_b).astype(np.float32)
        corr = np.fft.irfft(np.conj(np.fft.rfft(train_a, size)) * np.fft.rfft(train_b, size), size)
        corr = corr[: int(2 * reach // width) + 2]
        smear = max(1, math.ceil(sigma_d * stretch / width) + 1)
        if smear > 1:
            corr = np.convolve(corr, np.ones(smear), mode="same")
            corr[:smear], corr[-smear:] = corr[smear], corr[-smear - 1]  # edges: partial sums
        local_mean, local_std = _local_statistics(corr, max(8, min(LOCAL_BINS, corr.size // 32)), 2 * smear)
        score = (corr - local_mean) / np.maximum(local_std, np.sqrt(np.maximum(local_mean, 1.0)))
        k = int(np.argmax(score))
        z = float(score[k])
        if z >= SIGNIFICANCE:
            residual = (k + 0.5) * width - math.floor(reach)
            excess = (corr[k] - float(local_mean[k])) / smear
            model = model.refined(residual, 0.0, float(t0))
            c_rate = max(excess, 1.0) / stretch
            return model, 2.0 * width * smear, z, c_rate
        if stretch >= span:
            raise SyncError(
                f"no significant correlation peak within +-{sigma_o * 1e-12:g} s over {span * 1e-12:g} s of "
                f"data (best {z:.1f} standard deviations): wrong pair of files, or too few coincidences"
            )
        stretch = min(span, stretch * 4)


def _local_statistics(values: np.ndarray, half: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``values`` over +-``half`` neighbours, leaving out +-``gap``.

    The background of a correlation is judged locally: where one station has no data for a lag,
    the correlation drops to zero, which a global standard deviation would mistake for noise.
    """
    v = np.asarray(values, dtype=float)
    s1 = np.concatenate([[0.0], np.cumsum(v)])
    s2 = np.concatenate([[0.0], np.cumsum(v * v)])
    idx = np.arange(v.size)

    def window_sum(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo, hi = np.clip(lo, 0, v.size), np.clip(hi, 0, v.size)
        return cum[hi] - cum[lo], hi - lo

    outer1, n_outer = window_sum(s1, idx - half, idx + half + 1)
    inner1, n_inner = window_sum(s1, idx - gap, idx + gap + 1)
    outer2, _ = window_sum(s2, idx - half, idx + half + 1)
    inner2, _ = window_sum(s2, idx - gap, idx + gap + 1)
    n = np.maximum(n_outer - n_inner, 1)
    mean = (outer1 - inner1) / n
    var = np.maximum((outer2 - inner2) / n - mean**2, 0.0)
    return mean, np.sqrt(var)


def _refine(a, b, model: ClockModel, sigma_o, sigma_d, span, resolution, c_rate):
    """One level of segmented delay histograms and a line through their peaks."""
    t0 = float(a[0])
    if c_rate is None:
        segment = span
    else:
        # enough coincidences per segment, and at least MIN_SEGMENTS segments to fit a drift
        segment = min(span / MIN_SEGMENTS, max(SEGMENT_COINCIDENCES / c_rate, 1e6))
    bin_ps = max(resolution, sigma_d * segment, sigma_o / 4096)
    half = 4.0 * sigma_o + sigma_d * span + 4.0 * bin_ps
    b_alice = model.to_alice(b)
    rate_b = b.size / max(float(b[-1] - b[0]), 1.0)
    stride = max(1, math.ceil(a.size * rate_b * 2 * half / MAX_PAIRS))
    t_a, dt = pair_delays(a, b_alice, -half, half, stride)
    n_seg = max(1, int(span // segment))
    seg = np.minimum(((t_a - t0) // segment).astype(np.int64), n_seg - 1)
    n_bins = math.ceil(2 * half / bin_ps)
    lag = np.clip(((dt + half) // bin_ps).astype(np.int64), 0, n_bins - 1)
    hist = np.bincount(seg * n_bins + lag, minlength=n_seg * n_bins).reshape(n_seg, n_bins).astype(float)
    peak = np.argmax(hist, axis=1)
    top = hist[np.arange(n_seg), peak]
    background = (hist.sum(axis=1) - top) / max(n_bins - 1, 1)
    z = (top - background) / np.sqrt(np.maximum(background, 1.0))
    threshold = max(4.0, math.sqrt(2.0 * math.log(max(hist.size, 2))) + FALSE_PEAK_SIGMAS)
    good = z >= threshold
    if not np.any(good):
        raise SyncError(
            f"no significant coincidence peak in {n_seg} segments of {segment * 1e-12:g} s (best "
            f"{float(z.max()):.1f} standard deviations): too few coincidences or drift beyond the bound"
        )
    # centroid of the peak over +-1 bin
    rows = np.flatnonzero(good)
    cols = peak[rows]
    left = hist[rows, np.maximum(cols - 1, 0)] - background[rows]
    mid = hist[rows, cols] - background[rows]
    right = hist[rows, np.minimum(cols + 1, n_bins - 1)] - background[rows]
    weights = np.maximum(left, 0) + np.maximum(mid, 0) + np.maximum(right, 0)
    offset_bins = (np.maximum(right, 0) - np.maximum(left, 0)) / np.maximum(weights, 1e-12)
    residual = (cols + 0.5 + offset_bins) * bin_ps - half
    centre = t0 + (rows + 0.5) * segment
    excess = np.maximum(weights, 1.0)
    new_c_rate = float(excess.sum()) * stride / (rows.size * segment)
    if rows.size >= 3 and (centre[-1] - centre[0]) > 0:
        slope, intercept = np.polyfit(centre - t0, residual, 1, w=np.sqrt(excess))
        model = model.refined(float(intercept), float(slope), t0)
        lever = centre[-1] - centre[0]
        new_sigma_d = min(sigma_d, 2.0 * bin_ps / lever)
    else:
        model = model.refined(float(np.average(residual, weights=excess)), 0.0, t0)
        new_sigma_d = sigma_d
    new_sigma_o = 2.0 * bin_ps
    done = bin_ps <= resolution * 1.0001 and new_sigma_d * span <= resolution
    if not done and new_sigma_o >= sigma_o * 0.99 and new_sigma_d >= sigma_d * 0.99:
        done = True  # no further progress possible with this much data
    return model, new_sigma_o, new_sigma_d, new_c_rate, float(z[good].max()), done


def _fine_fit(a, b, model: ClockModel, half_width: float):
    """A line through the delays of the pairs in the peak, and the peak's rms width.

    Pairs within +-``half`` of the current model are fitted (least squares), then only those
    within 4 robust widths (1.4826 MAD) of the line, a few times over. Accidental pairs are flat
    in delay: their number inside the core is estimated from the density outside it, and their
    variance (a uniform spread) is taken out of the core's variance to give the peak's width.
    """
    b_alice = model.to_alice(b)
    half = max(3.0 * half_width, FINE_HALF_RANGE_PS)
    stride = max(1, math.ceil(a.size * (b.size / max(float(b[-1] - b[0]), 1.0)) * 2 * half / MAX_PAIRS))
    t_a, dt = pair_delays(a, b_alice, -half, half, stride)
    if dt.size < 3:
        return model, half_width
    t0 = float(a[0])
    x_all, y_all = t_a - t0, dt.astype(float)
    keep = np.ones(dt.size, bool)
    slope, intercept = 0.0, float(np.median(y_all))
    width = half_width
    for _ in range(6):
        x, y = x_all[keep], y_all[keep]
        if x.size < 3:
            break
        if np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
        else:
            slope, intercept = 0.0, float(np.median(y))
        residual = y_all - (intercept + slope * x_all)
        core = residual[keep]
        width = max(1.4826 * float(np.median(np.abs(core - np.median(core)))), 1.0)
        keep = np.abs(residual) <= 4.0 * width
    model = model.refined(float(intercept), float(slope), t0)
    residual = y_all - (intercept + slope * x_all)
    cut = min(4.0 * width, half)
    core = residual[np.abs(residual) <= cut]
    outside = dt.size - core.size
    background = outside / max(2 * half - 2 * cut, 1.0) * 2 * cut  # accidentals expected in the core
    signal = core.size - background
    if signal <= 2:
        return model, width
    variance = (float(np.mean(core**2)) * core.size - background * cut**2 / 3.0) / signal
    return model, math.sqrt(variance) if variance > 0 else width
