"""Plain-text reports of results for the command line, the demo and notebooks.

Every text table lives here: :func:`format_table` (label and value), :func:`protocol_report`
(an E91 or BBM92 run), :func:`pass_report` (a satellite pass, with the published comparison for
presets that have one) and :func:`comparison_table` (model, runs and paper, row by row).

>>> print(format_table("CHSH", [("S", 2.7071), ("shots", 40000)]))
CHSH
----
S      2.7071
shots  40,000
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qentangle.scenarios.compare import Comparison
    from qentangle.scenarios.simulate import PassResult


def format_value(value: Any) -> str:
    """A compact, readable rendering of one value."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e4 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(title: str, rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table: label and value, under a title."""
    rows = [(label, format_value(value)) for label, value in rows]
    width = max((len(label) for label, _ in rows), default=0)
    lines = [title, "-" * len(title)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)


def protocol_report(data: dict[str, Any]) -> str:
    """Human-readable report of an E91 or BBM92 result dictionary."""
    protocol = str(data.get("protocol", "?")).upper()
    keys = [
        ("pairs", "pairs"), ("state", "state"), ("engine", "engine"), ("attack", "eavesdropper"),
        ("sifted_bits", "sifted bits"), ("qber", "QBER (key basis)"), ("qber_upper", "QBER upper bound"),
        ("qber_z", "QBER Z"), ("qber_x", "QBER X"), ("S", "CHSH S"), ("S_stderr", "S standard error"),
        ("eve_information", "Eve's information (bits/bit)"),
        ("leaked_bits", "EC leakage (bits)"), ("ec_efficiency", "EC efficiency f"),
        ("asymptotic_key_bits", "asymptotic key (bits)"), ("final_key_bits", "final key (bits)"),
        ("keys_match", "keys identical"), ("aborted", "aborted"), ("abort_reason", "abort reason"),
        ("elapsed_s", "elapsed (s)"),
    ]
    rows = [(label, data[key]) for key, label in keys if key in data and data[key] is not None]
    return format_table(f"{protocol} run", rows)


def pass_report(result: PassResult, data: dict[str, Any] | None = None) -> str:
    """The pass summary and, for presets with published figures, the comparison table.

    ``data`` is ``result.to_dict()`` (computed when not given), possibly with ``plots``.
    """
    from qentangle.scenarios.compare import PUBLISHED, pass_comparison

    data = result.to_dict() if data is None else data
    keys = [
        ("protocol", "protocol"),
        ("duration_s", "data time (s)"),
        ("passes", "passes"),
        ("loss_db_min", "two-photon loss min (dB)"),
        ("loss_db_max", "two-photon loss max (dB)"),
        ("coincidences", "coincidences"),
        ("coincidence_rate_hz", "coincidence rate (Hz)"),
        ("accidental_rate_hz", "accidental rate (Hz)"),
        ("snr", "signal-to-noise"),
        ("sifted_rate_hz", "sifted rate (Hz)"),
        ("qber", "QBER"),
        ("S", "CHSH S"),
        ("S_stderr", "S standard error"),
        ("assumption", "S holds under"),
        ("asymptotic_key_rate_bps", "asymptotic key rate (bit/s)"),
        ("finite_key_rate_bps", "finite-key rate (bit/s)"),
        ("final_key_bits", "final key (bits)"),
        ("abort_reason", "abort reason"),
        ("elapsed_s", "elapsed (s)"),
    ]
    rows = [(label, data[k]) for k, label in keys if data.get(k) is not None]
    if data["protocol"] == "chsh":
        rows = [("QBER (implied by S)", v) if label == "QBER" else (label, v) for label, v in rows]
    text = format_table(f"Pass: {data['scenario']}", rows)
    if data["scenario"] in PUBLISHED:
        rows = pass_comparison(data)
        text += (
            "\n\nLink model (expected) and this simulated pass beside the published figures\n"
            + comparison_table(data["scenario"], rows)
        )
    for path in data.get("plots", []):
        text += f"\nwrote {path}"
    return text


def comparison_table(name: str, rows: Sequence[Comparison]) -> str:
    """A plain-text table of :func:`qentangle.scenarios.compare.compare` rows with their notes.

    ``ok`` judges the model column; ``[T]`` marks a model value tuned to the published one;
    ``NO*`` is a documented miss (see its note); the verdict is :func:`~qentangle.scenarios.compare.verdict`,
    as in the comparison figure.
    """
    from qentangle.scenarios.compare import verdict

    show_run = any(row.simulated is not None for row in rows)
    show_spread = any(row.spread is not None for row in rows)
    head = f"{'quantity':36s} {'model':>10s}"
    if show_run:
        head += f" {'this run':>10s}"
    if show_spread:
        head += f" {'runs: mean +- sd':>22s}"
    lines = [name, head + f" {'published':>10s} mark  {'margin':8s} ok"]
    notes: list[str] = []
    for row in rows:
        line = f"{row.quantity:36s} {row.model:10.4g}"
        if show_run:
            line += f" {_fmt(row.simulated):>10s}"
        if show_spread:
            text = "-" if row.spread is None else _spread_text(*row.spread)
            line += f" {text:>22s}"
        ok = verdict(row)
        tuned = " [T]" if row.tuned else ""
        line += f" {row.published:10.4g}  [{row.mark}]  {row.margin:8s} {ok}{tuned}"
        for note in row.notes:
            if note not in notes:
                notes.append(note)
        if row.notes:
            line += " (" + ",".join(str(notes.index(note) + 1) for note in row.notes) + ")"
        lines.append(line)
    lines.append("  ok judges the model column; [T]: tuned to the published figure; NO*: documented miss")
    lines.extend(f"  ({i}) {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines)


def _spread_text(mean: float, sd: float, count: int) -> str:
    if abs(sd) >= 100:
        return f"{mean:.0f} +- {sd:.0f} ({count})"
    return f"{mean:.4g} +- {sd:.2g} ({count})"


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"
