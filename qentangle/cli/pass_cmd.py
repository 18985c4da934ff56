"""``qentangle pass SCENARIO``: a satellite double-downlink pass, from orbit to final key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qentangle.cli.common import print_json, seed_int
from qentangle.engines import ENGINE_NAMES

#: A pass runs a schedule of noise segments: the engines that sample rounds per segment.
PASS_ENGINES = tuple(name for name in ENGINE_NAMES if name != "statevector")


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
    parser.add_argument("--engine", choices=PASS_ENGINES, default="exact",
                        help="how circuits become outcomes (default: exact)")
    parser.add_argument(
        "--plot-dir", type=Path, default=None, metavar="DIR", help="write the pass plots here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timetags", action="store_true",
                        help="run the pass through simulated detector click streams (sync, coincidences)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from qentangle.report import pass_report
    from qentangle.scenarios.simulate import run_pass

    if args.timetags:
        from qentangle.scenarios.timetags import run_pass_timetags as run_pass
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
