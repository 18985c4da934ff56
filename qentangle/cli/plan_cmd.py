"""``qentangle plan FILE``: a constellation over many ground stations for months, on dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qentangle.cli.common import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` sub-command."""
    from qentangle.plan.run import DAYS, SEED, WORKERS

    parser = subparsers.add_parser(
        "plan",
        help="mission planning: key per station pair over months, on a dask cluster",
        description=(
            "Plan a constellation over many ground stations (a planning TOML file or a shipped preset: "
            "europe-4, europe-12): double-visibility windows, link model, weather, schedule and the "
            "expected sifted and final key per station pair, computed on dask.distributed."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="planning TOML file, or a preset (europe-4, europe-12)")
    WORKERS.add_to(parser, extra="not with --scheduler; default: one per core")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="use an existing dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a local cluster "
        "(default: none, start a local cluster)",
    )
    SEED.add_to(parser)
    DAYS.add_to(parser, extra="default: the scenario's period.days")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write tables (Parquet, CSV) and figures (PNG) here (default: none, totals only)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the totals as one JSON object (default: a table)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from qentangle.plan.run import run_plan
    from qentangle.plan.scenario import load_plan

    plan = load_plan(args.file)
    if args.days is not None:
        plan = plan.with_period(days=args.days)

    def show_dashboard(link: str | None) -> None:
        if link:
            sys.stderr.write(f"dask dashboard: {link}\n")

    result = run_plan(
        plan,
        seed=args.seed,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=None,
        on_dashboard=show_dashboard,
    )
    data = result.totals()
    if args.out is not None:
        from qentangle.plan.outputs import write_outputs

        data["files"] = [str(path) for path in write_outputs(result, args.out)]
    if args.json:
        print_json(data)
    else:
        print(_report(data))
    return 0


def _report(data: dict) -> str:
    from qentangle.report import format_table

    rows = [
        ("satellites x stations (pairs)", f"{data['satellites']} x {data['stations']} ({data['pairs']})"),
        ("period", f"{data['days']:g} days from {data['start']}"),
        ("double-visibility windows", data["passes"]),
        ("windows served", data["served_passes"]),
        ("visible time (s)", data["visible_s"]),
        ("clear-sky time (s)", data["clear_s"]),
        ("served link time (s)", data["served_s"]),
        ("expected sifted key (bits)", data["sifted_bits"]),
        (f"expected final key (bits, key rule {data['key_rule']})", data["final_key_bits"]),
        ("workers", data["workers"]),
        ("elapsed (s), cluster start included", data["elapsed_s"]),
        ("satellite-days per second (tasks only)", data["satellite_days_per_s"]),
    ]
    text = format_table(f"Plan: {data['scenario']} (seed {data['seed']})", rows)
    best = sorted(data["final_key_bits_per_pair"].items(), key=lambda item: -item[1])[:10]
    text += "\n\n" + format_table("Final key per pair (largest ten)", best)
    for path in data.get("files", []):
        text += f"\nwrote {path}"
    return text
