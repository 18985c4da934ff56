"""``qentangle network start|status|stop``: the source and two ground stations as processes.

``start`` launches every node of the configuration (a preset: lab, micius-2020,
micius-2020-bright; or a TOML file) as a background process on 127.0.0.1 with ephemeral
ports, waits until each is ready and writes DIR/network.json (each node's address, pid and
state). ``--node NAME`` starts one node only (to restart it, or to run the stations in
different terminals or hosts). The stations run BBM92 block by block over an authenticated TCP
connection (Wegman-Carter tags, sequence numbers) and store each block in both key stores or
in neither. ``status`` shows blocks, keys and rates per station and whether the stores agree;
``stop`` stops every node.

Error correction is Cascade (default) or LDPC (``ec`` in the configuration's [keys] table).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qentangle.cli.common import print_json

OPTIONS = {  # one table: option -> (argparse keywords); moves to params.Param declarations
    "--config": {
        "default": "lab",
        "metavar": "FILE|PRESET",
        "help": "a preset (lab, micius-2020, micius-2020-bright) or a TOML file",
    },
    "--dir": {
        "type": Path,
        "default": Path("network"),
        "metavar": "DIR",
        "help": "the network's directory (stores, logs, network.json)",
    },
    "--speed": {
        "type": float,
        "default": None,
        "metavar": "X",
        "help": "emulated seconds per second (0 = as fast as possible; default: the config's)",
    },
    "--node": {"default": None, "metavar": "NAME", "help": "start only this node (source, alice, bob)"},
}


def register(subparsers: Any) -> None:
    """Add ``qentangle network start|status|stop``."""
    parser = subparsers.add_parser(
        "network",
        help="run the source and ground stations as separate processes over TCP",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    start = actions.add_parser("start", help="start the nodes in the background and wait until ready")
    for option, keywords in OPTIONS.items():
        start.add_argument(option, **keywords)
    start.add_argument(
        "--no-kme", dest="kme", action="store_false",
        help="run no key management entities (by default each station gets an ETSI GS QKD 014 KME "
        "over mutual TLS, see `qentangle sae --help`)",
    )
    start.add_argument("--json", action="store_true", help="print network.json as one JSON object")
    start.set_defaults(handler=_start)
    status = actions.add_parser("status", help="blocks, keys and rates per station; do the stores agree")
    status.add_argument("--dir", **OPTIONS["--dir"])
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    status.set_defaults(handler=_status)
    stop = actions.add_parser("stop", help="stop every node of the network")
    stop.add_argument("--dir", **OPTIONS["--dir"])
    stop.set_defaults(handler=_stop)


def _start(args: argparse.Namespace) -> int:
    from qentangle.errors import ValidationError
    from qentangle.network.config import load_config
    from qentangle.network.nodes import start_network

    if args.speed is not None and not 0 <= args.speed <= 1e9:
        raise ValidationError(f"--speed={args.speed!r} is out of range: expected 0 <= --speed <= 1e9")
    config = load_config(args.config, speed=args.speed)
    from qentangle.kme.network_hook import register_kme_nodes, with_kme_nodes

    register_kme_nodes()  # an existing network keeps its nodes, KMEs included
    if args.kme and not (args.dir / "network.json").exists():
        config = with_kme_nodes(config)  # a new network gets a KME per station
    network = start_network(config, args.dir, node=args.node)
    if args.json:
        print_json(network)
    else:
        for name, entry in network["nodes"].items():
            address = ":".join(map(str, entry["address"])) if entry.get("address") else "-"
            print(f"{name:8s} {entry['state']:9s} pid {entry['pid']}  {address}")
        print(f"network {network['id']} in {network['dir']}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from qentangle.network.nodes import network_status

    report = network_status(args.dir)
    if args.json:
        print_json(report)
        return 0
    print(f"network {report['id']} in {report['dir']}")
    for name, info in report["nodes"].items():
        line = f"{name:8s} {info['state']:9s}"
        if "keys" in info:
            line += f" blocks {info.get('stored_blocks', 0):5d}  keys {info['keys']:7d}"
            line += f"  rate {info.get('key_rate_bps', 0.0):10.1f} bit/s"
            if info.get("pads_remaining") is not None:  # the authentication key pool
                line += f"  auth pads {info['pads_remaining']} left"
                line += f" ({info.get('pads_replenished', 0)} replenished)"
            rejected = info.get("rejected") or {}
            if rejected:
                line += "  rejected " + json.dumps(rejected, sort_keys=True)
        print(line)
    if "stores_match" in report:
        print("stores match: " + ("yes (same key IDs and bits)" if report["stores_match"] else "NO"))
    return 0


def _stop(args: argparse.Namespace) -> int:
    from qentangle.network.nodes import stop_network

    network = stop_network(args.dir)
    for name, entry in network["nodes"].items():
        print(f"{name:8s} {entry['state']}")
    return 0
