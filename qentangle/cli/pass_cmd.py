"""``qentangle pass SCENARIO``: a satellite double-downlink pass, from orbit to final key."""

from __future__ import annotations

import argparse

from qentangle.cli.common import EXIT_ABORTED, path_arg, print_json, seed_int
from qentangle.engines import ENGINE_NAMES
from qentangle.errors import ValidationError

#: A pass runs a schedule of noise segments: the engines that sample rounds per segment.
PASS_ENGINES = tuple(name for name in ENGINE_NAMES if name != "statevector")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pass`` sub-command."""
    parser = subparsers.add_parser(
        "pass", help="simulate a satellite pass (a preset name or a scenario TOML file)",
        description="Simulate a satellite double-downlink pass from orbit to final key: per time slice "
        "the link model gives the true and accidental coincidence rates, counts are drawn, and the "
        "scenario's protocol (BBM92, E91 or a CHSH test) runs on the detected pairs. Presets with "
        "published figures are compared with them. --list-keys shows every key --set accepts.",
    )
    parser.add_argument("scenario", nargs="?", default=None,
                        help="preset (micius-2017, micius-2020) or path to a TOML file (complete, or "
                             'starting with extends = "micius-2020")')
    parser.add_argument("--list-keys", action="store_true",
                        help="list every SECTION.KEY that --set accepts, with its type, unit and the "
                             "scenario's value (default scenario: micius-2020), and exit")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a scenario field, e.g. --set source.pair_rate_hz=1.2e7 (repeatable)",
    )
    parser.add_argument("--seed", type=seed_int, default=None, help="seed of every generator")
    from qentangle.scenarios.multipass import PASSES

    PASSES.add_to(parser, extra="protocol.data_time_s becomes N times one pass's window")
    parser.add_argument("--engine", choices=PASS_ENGINES, default="exact",
                        help="how circuits become outcomes (default: exact)")
    parser.add_argument(
        "--plot-dir", type=path_arg, default=None, metavar="DIR", help="write the pass plots here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timetags", action="store_true",
                        help="run the pass through simulated detector click streams (sync, coincidences)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from qentangle.report import pass_report
    from qentangle.scenarios.simulate import run_pass

    if args.list_keys:
        print(list_keys(args.scenario or "micius-2020"))
        return 0
    if args.scenario is None:
        raise ValidationError("SCENARIO is missing: give a preset (micius-2017, micius-2020) or a TOML path")

    if args.timetags:
        from qentangle.scenarios.timetags import run_pass_timetags as run_pass
    scenario, overrides = args.scenario, args.overrides
    if args.passes != 1:  # N whole passes of data, distilled together
        from qentangle.scenarios.multipass import with_passes

        scenario, overrides = with_passes(args.scenario, args.passes, args.overrides), []
    result = run_pass(
        scenario,
        overrides=overrides,
        seed=args.seed,
        engine=args.engine,
        progress=None,
    )
    data = result.to_dict()
    if args.plot_dir is not None:
        from qentangle.plots import save_pass_figures

        data["plots"] = [str(path) for path in save_pass_figures(result, args.plot_dir)]
    if args.json:
        print_json(data)
    else:
        print(pass_report(result, data))
    return EXIT_ABORTED if result.aborted else 0


#: Units of scenario keys, by the end of their name.
_UNITS = {
    "_hz": "Hz", "_s": "s", "_deg": "degrees", "_m": "m", "_km": "km", "_db": "dB", "_nm": "nm",
    "_urad": "microradians", "_arcsec": "arcseconds", "_k": "K", "_mm": "mm", "_ns": "ns", "_ps": "ps",
}


def list_keys(scenario: str) -> str:
    """Every ``SECTION.KEY`` that ``--set`` accepts, its TOML type, unit and value in ``scenario``.

    Ranges are checked when the scenario is built; an out-of-range value gets one line naming the
    key and its accepted range.
    """
    from qentangle.scenarios import load_scenario, schema

    document = load_scenario(scenario).to_dict()
    rows = []
    for section, keys in schema().items():
        table = document
        for part in section.split("."):
            table = table.get(part, {}) if isinstance(table, dict) else {}
        for key, kind in keys.items():
            unit = next((u for end, u in _UNITS.items() if key.endswith(end)), "")
            value = table.get(key, "") if isinstance(table, dict) else ""
            rows.append((f"{section}.{key}", kind.__name__, unit, repr(value) if value != "" else "-"))
    width = max(len(row[0]) for row in rows)
    lines = [f"keys of --set SECTION.KEY=VALUE (values of {scenario})",
             f"{'key':{width}}  {'type':5}  {'unit':12}  value"]
    lines += [f"{k:{width}}  {t:5}  {u:12}  {v}" for k, t, u, v in rows]
    return "\n".join(lines)
