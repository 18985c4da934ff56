"""Plots of a pass: geometry, losses, rates, QBER and the ground track over a map outline.

Every function takes a :class:`~qentangle.link.physics.LinkSlices` (and the stations where a
map needs them), returns a :class:`matplotlib.figure.Figure` and, given ``path``, saves it.
Figures are built without pyplot (no global state); in Jupyter they display as usual.
When the slices cover several repetitions of a pass (``LinkSlices.tile``), time plots show
the first pass.

>>> from qentangle.scenarios import load_scenario
>>> scenario = load_scenario("micius-2020")
>>> fig = plot_loss(scenario.physics())
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from qentangle.files import save_figure
from qentangle.link.physics import LinkSlices
from qentangle.link.stations import GroundStation

_COLORS = {"a": "tab:blue", "b": "tab:orange", "pair": "black", "acc": "tab:red"}


def _first_pass(slices: LinkSlices) -> LinkSlices:
    keep = slices.pass_index == 0
    if keep.all():
        return slices
    changes = {
        f.name: getattr(slices, f.name)[keep]
        for f in fields(slices)
        if isinstance(getattr(slices, f.name), np.ndarray)
    }
    return replace(slices, **changes)


def _time_axis(slices: LinkSlices) -> np.ndarray:
    return slices.t_s - slices.window.start_s


def _names(stations: Sequence[GroundStation] | None) -> tuple[str, str]:
    if stations:
        return stations[0].name, stations[1].name
    return "Alice", "Bob"


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=120)
    return fig


def _title(slices: LinkSlices, what: str) -> str:
    label = f"{slices.label}: " if slices.label else ""
    return f"{label}{what} (pass starting {slices.window.start:%Y-%m-%d %H:%M:%S} UTC)"


def plot_geometry(
    slices: LinkSlices,
    stations: Sequence[GroundStation] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Elevation and slant range of both stations against time."""
    s = _first_pass(slices)
    t = _time_axis(s)
    name_a, name_b = _names(stations)
    fig = Figure(figsize=(8, 6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(t, s.elevation_a_deg, color=_COLORS["a"], label=name_a)
    ax1.plot(t, s.elevation_b_deg, color=_COLORS["b"], label=name_b)
    ax1.set_ylabel("elevation (deg)")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax1.set_title(_title(s, "geometry"), fontsize=10)
    ax2.plot(t, s.range_a_m / 1e3, color=_COLORS["a"], label=name_a)
    ax2.plot(t, s.range_b_m / 1e3, color=_COLORS["b"], label=name_b)
    ax2.plot(t, (s.range_a_m + s.range_b_m) / 1e3, color=_COLORS["pair"], ls="--", label="sum")
    ax2.set_ylabel("slant range (km)")
    ax2.set_xlabel("time since start of pass (s)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    return _finish(fig, path)


def plot_loss(
    slices: LinkSlices,
    stations: Sequence[GroundStation] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Each downlink's loss and the two-photon loss (dB) against time."""
    s = _first_pass(slices)
    t = _time_axis(s)
    name_a, name_b = _names(stations)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.plot(t, s.loss_a_db, color=_COLORS["a"], label=f"{name_a} downlink")
    ax.plot(t, s.loss_b_db, color=_COLORS["b"], label=f"{name_b} downlink")
    ax.plot(t, s.loss_db, color=_COLORS["pair"], lw=2, label="two-photon")
    ax.plot(t, s.channel_loss_db, color=_COLORS["pair"], ls=":", label="two-photon, no detectors")
    ax.set_xlabel("time since start of pass (s)")
    ax.set_ylabel("loss (dB)")
    ax.set_title(_title(s, "link loss"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def plot_rates(slices: LinkSlices, path: str | Path | None = None) -> Figure:
    """True and accidental coincidence rates (log scale) against time."""
    s = _first_pass(slices)
    t = _time_axis(s)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.semilogy(t, s.coincidence_rate_hz, color=_COLORS["pair"], label="true coincidences")
    ax.semilogy(t, s.accidental_rate_hz, color=_COLORS["acc"], label="accidental coincidences")
    ax.semilogy(t, s.multipair_rate_hz, color=_COLORS["acc"], ls=":", label="  of which multi-pair")
    ax.set_xlabel("time since start of pass (s)")
    ax.set_ylabel("rate (Hz)")
    ax.set_title(_title(s, "coincidence rates"), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _finish(fig, path)


def plot_qber(slices: LinkSlices, path: str | Path | None = None) -> Figure:
    """Expected QBER (and accidental fraction) against time."""
    s = _first_pass(slices)
    t = _time_axis(s)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.plot(t, 100 * s.qber, color=_COLORS["pair"], label="expected QBER")
    ax.plot(t, 100 * s.accidental, color=_COLORS["acc"], ls="--", label="accidental fraction w")
    ax.axhline(100 * s.depolarizing / 2, color="gray", ls=":", label="source alone, (1 - V)/2")
    ax.set_xlabel("time since start of pass (s)")
    ax.set_ylabel("percent")
    ax.set_ylim(bottom=0)
    ax.set_title(_title(s, "QBER"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


@lru_cache(maxsize=1)
def world_outline() -> tuple[np.ndarray, np.ndarray]:
    """Country outlines (lon, lat in degrees, NaN between rings) from Natural Earth 1:110m.

    >>> lon, lat = world_outline()
    >>> lon.shape == lat.shape and bool(np.isnan(lon).any())
    True
    """
    with resources.files("qentangle.link").joinpath("data/world_110m.npz").open("rb") as handle:
        data = np.load(handle)
        return data["lon"].astype(float), data["lat"].astype(float)


def plot_ground_track(
    slices: LinkSlices,
    stations: Sequence[GroundStation],
    path: str | Path | None = None,
    *,
    margin_deg: float = 8.0,
) -> Figure:
    """The pass's ground track over a country outline map, with the stations marked.

    Equirectangular map (longitude, latitude) of the region around the stations and track;
    outlines: Natural Earth 1:110m (public domain), shipped with the package.
    """
    s = _first_pass(slices)
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    lon, lat = world_outline()
    ax.plot(lon, lat, color="0.55", lw=0.7)
    track_lon = np.mod(s.subpoint_longitude_deg + 180.0, 360.0) - 180.0
    ax.plot(track_lon, s.subpoint_latitude_deg, color=_COLORS["pair"], lw=2, label="ground track")
    if track_lon.size > 1:  # arrow head: direction of flight
        ax.annotate(
            "", xy=(track_lon[-1], s.subpoint_latitude_deg[-1]),
            xytext=(track_lon[-2], s.subpoint_latitude_deg[-2]),
            arrowprops={"arrowstyle": "->", "color": _COLORS["pair"]},
        )
    mid = track_lon.size // 2
    lons = [*track_lon.tolist()]
    lats = [*s.subpoint_latitude_deg.tolist()]
    for station, key in zip(stations, ("a", "b"), strict=False):
        ax.plot(station.longitude_deg, station.latitude_deg, marker="^", ms=10,
                color=_COLORS[key], ls="none", label=station.name)
        ax.plot([station.longitude_deg, track_lon[mid]],
                [station.latitude_deg, s.subpoint_latitude_deg[mid]],
                color=_COLORS[key], lw=0.8, ls="--")
        lons.append(station.longitude_deg)
        lats.append(station.latitude_deg)
    y0, y1 = max(-90.0, min(lats) - margin_deg), min(90.0, max(lats) + margin_deg)
    x0, x1 = min(lons) - margin_deg, max(lons) + margin_deg
    squash = max(np.cos(np.radians(np.mean(lats))), 0.2)
    widen = max(0.0, (y1 - y0) / squash - (x1 - x0)) / 2.0  # at least as wide as tall
    ax.set_xlim(x0 - widen, x1 + widen)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / squash)
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(_title(s, "ground track"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _finish(fig, path)


def save_pass_plots(
    slices: LinkSlices,
    stations: Sequence[GroundStation],
    directory: str | Path,
    *,
    prefix: str = "",
) -> list[Path]:
    """Write every pass plot as PNG into ``directory``; return the paths.

    Files: geometry, loss, rates, qber, ground_track (each ``{prefix}{name}.png``).
    """
    directory = Path(directory)
    paths = {
        name: directory / f"{prefix}{name}.png"
        for name in ("geometry", "loss", "rates", "qber", "ground_track")
    }
    plot_geometry(slices, stations, paths["geometry"])
    plot_loss(slices, stations, paths["loss"])
    plot_rates(slices, paths["rates"])
    plot_qber(slices, paths["qber"])
    plot_ground_track(slices, stations, paths["ground_track"])
    return list(paths.values())
