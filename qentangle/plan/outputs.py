"""What a planner reads: tidy tables (Parquet and CSV), totals and figures of a :class:`PlanResult`.

* :func:`pair_table`: one row per station pair and month: passes, visible, clear-sky, night and
  served time, expected sifted and final key bits (every pair and month, zeros included).
* :func:`satellite_table`: per satellite, link time, time busy, time with a candidate link and
  the utilisation (busy time over the period).
* :func:`write_outputs`: the tables as Parquet and CSV and three figures (a map of stations and
  links weighted by key volume, key per pair per month, cumulative key) in one folder.

A pooled key (``key_rule = "night"`` or ``"week"``) counts in the month of its group's last
served pass.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from qentangle.files import save_figure, write_atomic
from qentangle.plan.run import PlanResult

_SUMS = ("visible_s", "clear_s", "night_s", "served_s", "sifted_bits", "final_key_bits")


def _months(result: PlanResult, seconds: np.ndarray) -> np.ndarray:
    start = np.datetime64(result.plan.period.start_utc.replace(tzinfo=None), "s")
    return (start + np.asarray(seconds, float).astype("timedelta64[s]")).astype("datetime64[M]")


def _period_months(result: PlanResult) -> np.ndarray:
    span = result.plan.period.span_s
    first, last = _months(result, np.array([0.0, max(0.0, span - 1.0)]))
    return np.arange(first, last + 1)


def pair_table(result: PlanResult) -> pa.Table:
    """The tidy table per station pair and month (see the module docstring).

    >>> # pair_table(result).to_pandas() if pandas is at hand
    """
    plan, rows = result.plan, result.passes
    months = _period_months(result)
    n_pairs, n_months = len(plan.pairs), months.size
    month_index = np.searchsorted(months, _months(result, rows["start_s"]))
    cell = rows["pair"] * n_months + month_index
    size = n_pairs * n_months
    columns: dict[str, Any] = {
        "pair": np.repeat([plan.pair_name(p) for p in range(n_pairs)], n_months),
        "station_a": np.repeat([plan.stations[i].name for i, _ in plan.pairs], n_months),
        "station_b": np.repeat([plan.stations[j].name for _, j in plan.pairs], n_months),
        "month": np.tile(months.astype(str), n_pairs),
        "passes": np.bincount(cell, minlength=size).astype(np.int64),
        "served_passes": np.bincount(cell, rows["served_s"] > 0, minlength=size).astype(np.int64),
    }
    for name in _SUMS:
        columns[name] = np.bincount(cell, rows[name].astype(float), minlength=size)
    columns["final_key_bits"] = np.round(columns["final_key_bits"]).astype(np.int64)
    return pa.table(columns)


def satellite_table(result: PlanResult) -> pa.Table:
    """Per satellite: link seconds, busy and candidate time, utilisation = busy / period."""
    sat = result.satellites
    span = np.maximum(sat["span_s"], 1e-300)
    return pa.table(
        {
            "satellite": [s.name for s in result.plan.satellites],
            "served_link_s": sat["served_s"],
            "busy_s": sat["busy_s"],
            "candidate_s": sat["candidate_s"],
            "utilisation": sat["busy_s"] / span,
            "demand_served": np.where(
                sat["candidate_s"] > 0, sat["busy_s"] / np.maximum(sat["candidate_s"], 1e-300), 0.0
            ),
        }
    )


def _table_bytes(table: pa.Table, kind: str) -> bytes:
    sink = io.BytesIO()
    if kind == "parquet":
        pq.write_table(table, sink)
    else:
        pa_csv.write_csv(table, sink)
    return sink.getvalue()


def write_outputs(result: PlanResult, out_dir: str | Path, *, figures: bool = True) -> list[Path]:
    """Write pairs.{parquet,csv}, satellites.{parquet,csv}, passes.parquet and the figures."""
    out = Path(out_dir)
    written = []
    passes = pa.table({k: np.asarray(v) for k, v in result.passes.items()})
    for name, table in (
        ("pairs", pair_table(result)),
        ("satellites", satellite_table(result)),
        ("passes", passes),
    ):
        kinds = ("parquet",) if name == "passes" else ("parquet", "csv")
        for kind in kinds:
            path = out / f"{name}.{kind}"
            write_atomic(path, _table_bytes(table, kind))
            written.append(path)
    if figures:
        for name, build in (
            ("map.png", plot_map),
            ("key_per_month.png", plot_key_per_month),
            ("cumulative_key.png", plot_cumulative_key),
        ):
            path = out / name
            save_figure(build(result), path, dpi=110)
            written.append(path)
    return written


# ---------------------------------------------------------------------------------- figures
def plot_map(result: PlanResult) -> Figure:
    """Stations and the links between them, line width by final key volume, over country outlines."""
    from qentangle.link.plots import world_outline

    plan = result.plan
    lat = np.array([s.station.latitude_deg for s in plan.stations])
    lon = np.array([s.station.longitude_deg for s in plan.stations])
    key = np.bincount(
        result.passes["pair"], result.passes["final_key_bits"].astype(float), minlength=len(plan.pairs)
    )
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    outline_lon, outline_lat = world_outline()
    ax.plot(outline_lon, outline_lat, color="0.6", lw=0.5)
    top = key.max() if key.size and key.max() > 0 else 1.0
    for p, (i, j) in enumerate(plan.pairs):
        if key[p] > 0:
            ax.plot(
                [lon[i], lon[j]], [lat[i], lat[j]], color="tab:blue", alpha=0.7, lw=0.5 + 6.0 * key[p] / top
            )
    ax.scatter(lon, lat, color="tab:red", zorder=3)
    for s, x, y in zip(plan.stations, lon, lat, strict=True):
        ax.annotate(s.name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    pad = 8.0
    ax.set_xlim(lon.min() - pad, lon.max() + pad)
    ax.set_ylim(max(-90, lat.min() - pad), min(90, lat.max() + pad))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(f"{plan.name}: final key per pair over {plan.period.days:g} days (line width)")
    ax.set_aspect(1.0 / max(0.2, np.cos(np.radians(lat.mean()))))
    fig.tight_layout()
    return fig


def plot_key_per_month(result: PlanResult) -> Figure:
    """Final key bits per pair (rows) and month (columns), as a heat map."""
    table = pair_table(result)
    plan = result.plan
    months = _period_months(result)
    grid = np.asarray(table["final_key_bits"]).reshape(len(plan.pairs), months.size)
    fig = Figure(figsize=(max(5, 0.6 * months.size + 3), max(3, 0.25 * len(plan.pairs) + 1.5)))
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(len(plan.pairs)), [plan.pair_name(p) for p in range(len(plan.pairs))], fontsize=7)
    ax.set_xticks(range(months.size), months.astype(str), rotation=90, fontsize=7)
    fig.colorbar(image, ax=ax, label="final key (bits)")
    ax.set_title("final key per pair per month")
    fig.tight_layout()
    return fig


def plot_cumulative_key(result: PlanResult) -> Figure:
    """Cumulative final key over the period: all pairs and the five largest pairs."""
    plan, rows = result.plan, result.passes
    keyed = rows["final_key_bits"] > 0
    order = np.argsort(rows["end_s"][keyed], kind="stable")
    days = rows["end_s"][keyed][order] / 86400.0
    bits = rows["final_key_bits"][keyed][order].astype(float)
    pairs = rows["pair"][keyed][order]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.step(
        np.concatenate([[0.0], days, [plan.period.days]]),
        np.concatenate([[0.0], np.cumsum(bits), [bits.sum()]]),
        where="post",
        label="all pairs",
        color="k",
    )
    totals_per_pair = np.bincount(pairs, bits, minlength=len(plan.pairs))
    for p in np.argsort(-totals_per_pair)[:5]:
        if totals_per_pair[p] <= 0:
            continue
        mine = pairs == p
        ax.step(
            np.concatenate([[0.0], days[mine], [plan.period.days]]),
            np.concatenate([[0.0], np.cumsum(bits[mine]), [bits[mine].sum()]]),
            where="post",
            label=plan.pair_name(int(p)),
        )
    ax.set_xlabel(f"days after {plan.period.start[:10]}")
    ax.set_ylabel("cumulative final key (bits)")
    ax.legend(fontsize=7)
    ax.set_title(f"{plan.name}: cumulative key")
    fig.tight_layout()
    return fig
