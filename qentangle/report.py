"""Plain-text reports of result dictionaries for the command line and notebooks."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


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
