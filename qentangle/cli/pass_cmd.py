"""``qentangle pass SCENARIO``: a satellite double-downlink pass, from orbit to final key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qentangle.cli.common import print_json, seed_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pass`` sub-command."""
    parser = subparsers.add_parser(
        "pass", help="simulate a satellite pass (a preset name or a scenario TOML file)"
    )
    parser.add_argument("scenario", help="preset (micius-2017, micius-2020) or path to a TOML file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a scenario field, e.g. --set source.pair_rate_hz=1.2e7 (repeatable)",
    )
    parser.add_argument("--seed", type=seed_int, default=None, help="seed of every generator")
    parser.add_argument("--engine", choices=("exact", "shots"), default="exact")
    parser.add_argument(
        "--plot-dir", type=Path, default=None, metavar="DIR", help="write the pass plots here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from qentangle.protocols.satellite import run_pass

    result = run_pass(
        args.scenario,
        overrides=args.overrides,
        seed=args.seed,
        engine=args.engine,
        progress=None if sys.stderr.isatty() else False,
    )
    data = result.to_dict()
    if args.plot_dir is not None:
        from qentangle.plots import save_pass_figures

        data["plots"] = [str(path) for path in save_pass_figures(result, args.plot_dir)]
    if args.json:
        print_json(data)
    else:
        print(pass_report(result, data))
    return 0


def pass_report(result, data: dict) -> str:
    """The pass summary and, for presets with published figures, the comparison table."""
    from qentangle.report import format_table
    from qentangle.scenarios.compare import PUBLISHED, comparable_figures, compare
    from qentangle.scenarios.compare import format_table as comparison_table

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
        rows = compare(
            data["scenario"], lambda _name: data["expected"], simulated=comparable_figures(data)
        )
        text += (
            "\n\nLink model (expected) and this simulated pass beside the published figures\n"
            + comparison_table(data["scenario"], rows)
        )
    for path in data.get("plots", []):
        text += f"\nwrote {path}"
    return text
