"""``qentangle kme serve --dir DIR``: run the ETSI GS QKD 014 key management entities of a network.

``qentangle network start`` starts the KMEs with the stations; this command runs them alone, in
the foreground, until Ctrl-C (exit 130) or SIGTERM (exit 0). If ``DIR`` has no KME configuration
yet, one KME per station is configured first: the stations are ``--station NAME=STORE`` options,
or else every ``DIR/<station>/keys.sqlite``; the network CA and certificates are created in
``DIR/pki`` where missing.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from qentangle.params import Param

#: The default key size of ``enc_keys`` when the SAE names none (bits; a multiple of 8).
KEY_SIZE = Param(
    "key_size",
    int,
    low=8,
    high=65536,
    default=256,
    unit="bits",
    help="default key size of enc_keys (multiple of 8)",
)
SYNCHRONOUS = ("FULL", "NORMAL")


def register(subparsers: Any) -> None:
    """Add ``qentangle kme serve``, and make ``kme-alice`` / ``kme-bob`` node kinds of
    ``qentangle network start`` (list them in a configuration's ``[network] nodes``)."""
    from qentangle.kme.network_hook import register_kme_nodes

    register_kme_nodes()
    parser = subparsers.add_parser(
        "kme",
        help="run the ETSI GS QKD 014 key management entities (KMEs) of a network",
        description="Key delivery to applications (SAEs) over HTTPS with mutual TLS, one KME per station.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    serve = actions.add_parser(
        "serve",
        help="run the KMEs of the network in DIR until interrupted",
        description=__doc__.split("\n\n", 1)[1],
    )
    serve.add_argument("--dir", required=True, type=Path, metavar="DIR", help="the network directory")
    serve.add_argument("--kme", metavar="KME_ID", help="run only this KME (none: every KME of DIR)")
    serve.add_argument(
        "--station",
        action="append",
        default=[],
        metavar="NAME=STORE",
        help="a station and its key store, to configure KMEs when DIR has none (repeat per station)",
    )
    KEY_SIZE.add_to(serve)
    serve.add_argument(
        "--synchronous",
        default="FULL",
        choices=SYNCHRONOUS,
        help="FULL: every delivery record survives power loss; NORMAL: survives a crash of the process",
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Handler of ``qentangle kme serve``."""
    from qentangle.errors import ValidationError
    from qentangle.kme.config import load_kmes, prepare_kmes
    from qentangle.kme.server import spawn_kmes

    if args.key_size % 8:
        raise ValidationError(f"--key-size={args.key_size} is not valid: expected a multiple of 8 bits")
    configs = load_kmes(args.dir)
    if not configs:
        stations = _stations(args.dir, args.station)
        configs = prepare_kmes(args.dir, stations, default_key_size=args.key_size)
    names = [c.kme_id for c in configs]
    if args.kme is not None:
        if args.kme not in names:
            raise ValidationError(f"--kme={args.kme!r} is not valid: expected one of {', '.join(names)}")
        names = [args.kme]
    processes = []
    stop = {"signal": 0}

    def on_term(signum: int, _: Any) -> None:
        stop["signal"] = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        processes.extend(spawn_kmes(args.dir, names, synchronous=args.synchronous, die_with_parent=True))
        for process in processes:
            print(f"{process.kme_id}: {process.url} (pid {process.pid})", flush=True)
        print(f"serving {len(processes)} KME(s); Ctrl-C stops them", file=sys.stderr, flush=True)
        while all(p.process is not None and p.process.poll() is None for p in processes):
            try:
                processes[0].process.wait(timeout=1.0)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                continue
        failed = [p.kme_id for p in processes if p.process is not None and p.process.poll() not in (0, None)]
        if failed:
            sys.stderr.write(
                f"qentangle kme: error: KME {', '.join(failed)} stopped (see DIR/kme/<KME>.log)\n"
            )
            return 1
        return 0
    except KeyboardInterrupt:
        return 0 if stop["signal"] == signal.SIGTERM else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        for process in processes:
            process.stop()


def _stations(directory: Path, options: list[str]) -> dict[str, Path]:
    from qentangle.errors import ValidationError

    stations: dict[str, Path] = {}
    for option in options:
        name, sep, store = option.partition("=")
        if not sep or not name or not store:
            raise ValidationError(f"--station={option!r} is not valid: expected NAME=STORE")
        stations[name] = Path(store)
    if not stations:
        stations = {p.parent.name: p for p in sorted(directory.glob("*/keys.sqlite"))}
    if len(stations) < 2:
        raise ValidationError(
            f"--dir={str(directory)!r} has no KME configuration and {len(stations)} station store(s):"
            " expected DIR/<station>/keys.sqlite for two stations, or --station NAME=STORE twice"
        )
    return stations
