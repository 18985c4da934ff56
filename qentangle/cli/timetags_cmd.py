"""``qentangle timetags``: detector click streams, clock synchronisation, keys from clicks.

* ``simulate SCENARIO --duration S --out DIR``: one file per station (``alice.*``, ``bob.*``)
  from a preset (the fixed ``lab`` link or a satellite scenario), written together.
* ``sync ALICE BOB``: offset and drift of Bob's clock (``t_B = t_A (1 + drift_ppm 1e-6) +
  offset_s``), coincidences, accidentals, window and CAR.
* ``key ALICE BOB``: synchronisation, coincidences, sifting and distillation; ``--out DIR``
  writes both final keys (0600) and the report together (an abort writes no key).

Files are qcrypto raw events or the native format (detected from their first bytes unless
``--format`` says); a native file's header gives its detector map, the synchronisation bounds
and the predicted path difference of a satellite pass. A malformed file is one line on stderr
naming the file and the byte offset (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qentangle.cli.common import EXIT_ABORTED, print_json, seed_int

FORMATS = ("qcrypto", "native")
PROTOCOLS = ("bbm92", "e91", "chsh")
STATES = ("phi+", "phi-", "psi+", "psi-")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``timetags`` and its three sub-commands."""
    from qentangle.protocols.clicks import EPOCH_S
    from qentangle.timetags.coincidences import WINDOW_NS
    from qentangle.timetags.streams import DRIFT_PPM, DURATION_S, OFFSET_S
    from qentangle.timetags.sync import MAX_DRIFT_PPM, MAX_OFFSET_S, SYNC_SPAN_S

    parser = subparsers.add_parser(
        "timetags", help="detector click streams: simulate, synchronise, distil keys"
    )
    commands = parser.add_subparsers(dest="timetags_command", metavar="ACTION")
    commands.required = True

    simulate = commands.add_parser("simulate", help="write both stations' click streams of a preset")
    simulate.add_argument(
        "scenario", help="lab (a fixed 20 dB ground link) or a satellite preset (micius-2020, ...)"
    )
    DURATION_S.add_to(
        simulate,
        flag="--duration",
        default=None,
        extra="default: 10 s for lab, the whole pass for a satellite preset",
    )
    simulate.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for alice.* and bob.*"
    )
    simulate.add_argument("--format", choices=FORMATS, default="native", help="file format (default: native)")
    OFFSET_S.add_to(simulate)
    DRIFT_PPM.add_to(simulate)
    simulate.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=None,
        help="detector settings for this protocol (default: the scenario's, bbm92 for lab)",
    )
    simulate.add_argument("--seed", type=seed_int, default=None, help="seed of every generator")
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate.set_defaults(handler=_simulate)

    for name, help_text in (
        ("sync", "clock offset, drift, coincidences, accidentals and CAR of two click files"),
        ("key", "synchronise, find coincidences, sift and distil keys from two click files"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("alice", type=Path, help="Alice's click file")
        sub.add_argument("bob", type=Path, help="Bob's click file")
        sub.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="file format of both files (default: detected from the first bytes)",
        )
        MAX_OFFSET_S.add_to(sub, default=None, extra="default: the file header's bound, else 1 s")
        MAX_DRIFT_PPM.add_to(sub, default=None, extra="default: the file header's bound, else 10 ppm")
        SYNC_SPAN_S.add_to(sub)
        WINDOW_NS.add_to(sub, flag="--window-ns")
        if name == "key":
            sub.add_argument(
                "--protocol",
                choices=PROTOCOLS,
                default=None,
                help="protocol (default: the native header's, else bbm92)",
            )
            sub.add_argument(
                "--state",
                choices=STATES,
                default=None,
                help="Bell state of the source (default: the native header's, else psi+)",
            )
            EPOCH_S.add_to(sub)
            sub.add_argument(
                "--out",
                type=Path,
                default=None,
                metavar="DIR",
                help="write alice.key, bob.key (0600) and report.json here, as one set",
            )
            sub.add_argument("--seed", type=seed_int, default=None, help="seed of every generator")
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        # None: the bound the file header states, else the library's default
        sub.set_defaults(handler=_sync if name == "sync" else _key, max_offset_s=None, max_drift_ppm=None)


def _simulate(args: argparse.Namespace) -> int:
    from qentangle.scenarios.timetags import click_model, write_streams

    setup = click_model(
        args.scenario,
        protocol=args.protocol,
        offset_s=args.offset_s,
        drift_ppm=args.drift_ppm,
        duration_s=args.duration_s,
    )
    written = write_streams(setup, args.out, format=args.format, seed=args.seed, progress=None)
    if args.json:
        print_json(written)
    else:
        for side, path in written["files"].items():
            print(f"wrote {path}: {written['events'][side]} events ({side}, {written['format']})")
        model = written["clock_model"]
        print(
            f"{written['duration_s']:g} s of {written['source']}; Bob's clock: "
            f"t_B = t_A (1 + {model['drift_ppm']:g} ppm) {'-' if model['offset_s'] < 0 else '+'} "
            f"{abs(model['offset_s']):g} s"
        )
    return 0


def _open(args: argparse.Namespace):
    from qentangle.timetags.formats import open_clicks

    return open_clicks(args.alice, format=args.format), open_clicks(args.bob, format=args.format)


def _sync_options(args: argparse.Namespace, header: dict[str, Any]) -> dict[str, Any]:
    from qentangle.scenarios.timetags import analysis_from_header

    options = analysis_from_header(header)
    if args.max_offset_s is not None:
        options["max_offset_s"] = args.max_offset_s
    if args.max_drift_ppm is not None:
        options["max_drift_ppm"] = args.max_drift_ppm
    return options


def _sync(args: argparse.Namespace) -> int:
    from qentangle.timetags.coincidences import ClockModel, find_coincidences
    from qentangle.timetags.sync import synchronize

    alice, bob = _open(args)
    options = _sync_options(args, bob.header)
    first = alice.first_time_ps
    end = alice.last_time_ps + 1 if args.sync_span_s is None else first + int(args.sync_span_s * 1e12)
    a = alice.between(first, end).times_ps
    reach = options.get("max_offset_s", 1.0) * 1e12 + options.get("max_drift_ppm", 10.0) * 1e-6 * abs(end)
    b = bob.between(int(first - reach - 1e9), int(end + reach + 1e9)).times_ps
    result = synchronize(a, b, **options)
    data = result.to_dict()
    if args.window_ns is not None:
        model = ClockModel(result.offset_s, result.drift_ppm, options.get("path_difference"))
        found = find_coincidences(a, b, model, args.window_ns * 1e3)
        data.update(
            coincidences=len(found),
            accidentals=found.accidentals,
            window_s=found.window_ps * 1e-12,
            car=found.car,
        )
    data["files"] = {"alice": str(args.alice), "bob": str(args.bob)}
    if args.json:
        print_json(data)
    else:
        print(
            f"offset_s     {data['offset_s']:.12f}\ndrift_ppm    {data['drift_ppm']:.6f}\n"
            f"coincidences {data['coincidences']}\naccidentals  {data['accidentals']:.1f}\n"
            f"window_s     {data['window_s']:.3e}\ncar          {data['car']:.1f}\n"
            f"significance {data['significance']:.1f}\npeak rms     {data['peak_sigma_ps']:.0f} ps"
        )
    return 0


def _key(args: argparse.Namespace) -> int:
    from qentangle.files import write_set
    from qentangle.jsonout import dumps
    from qentangle.protocols.clicks import detector_maps, run_on_clicks

    alice, bob = _open(args)
    protocol = args.protocol or alice.header.get("protocol") or "bbm92"
    state = args.state or alice.header.get("state") or "psi+"
    maps = detector_maps(protocol, state)
    if alice.detector_map is not None and bob.detector_map is not None:
        maps = (alice.detector_map, bob.detector_map)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        from qentangle.errors import ValidationError

        raise ValidationError(f"--out={str(args.out)!r} exists and is not a directory")
    run = run_on_clicks(
        alice,
        bob,
        protocol=protocol,
        state=state,
        maps=maps,
        window_s=None if args.window_ns is None else args.window_ns * 1e-9,
        epoch_s=args.epoch_s,
        sync_span_s=args.sync_span_s,
        sync_options=_sync_options(args, bob.header),
        seed=args.seed,
        progress=None,
    )
    data = run.to_dict()
    if args.out is not None:
        keys = None
        result = run.result
        if protocol != "chsh" and not run.aborted and result.key.distillation is not None:
            chain = result.key.distillation
            keys = {"alice.key": _key_text(chain.alice_key), "bob.key": _key_text(chain.bob_key)}
            data.update(alice_key_file=str(args.out / "alice.key"), bob_key_file=str(args.out / "bob.key"))
        args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
        files: dict[str, bytes | None] = {"alice.key": None, "bob.key": None, **(keys or {})}
        files["report.json"] = (dumps(data, indent=2) + "\n").encode()
        write_set(args.out, files)
    if args.json:
        print_json(data)
    else:
        timing = data["timetags"]
        lines = [
            f"protocol      {protocol}",
            f"coincidences  {timing['coincidences']}",
            f"accidentals   {timing['accidentals']:.1f}",
            f"car           {timing['car']:.1f}",
        ]
        for key in ("sifted_bits", "qber", "S", "S_stderr", "final_key_bits", "abort_reason"):
            if data.get(key) is not None:
                lines.append(f"{key:<13} {data[key]}")
        print("\n".join(lines))
    return EXIT_ABORTED if run.aborted else 0


def _key_text(bits) -> bytes:
    import numpy as np

    return (np.asarray(bits).astype(np.uint8) + ord("0")).tobytes() + b"\n"
