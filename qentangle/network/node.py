"""One node process: ``python -m qentangle.network.node --kind source|alice|bob --dir DIR ...``.

The process binds (or connects), then prints one line ``READY <host> <port>`` on stdout and
closes it: the starter waits for that line (readiness), never for a fixed time. Everything
else goes to ``DIR/node.log`` (never key bits). A fault at start (port in use, directory
locked by another node, corrupt store) prints one line ``ERROR <reason>`` and exits with 3.
SIGTERM stops the node cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import faulthandler
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from qentangle.errors import QentangleError
from qentangle.network.config import config_from_dict

EXIT_FAULT = 3


class _Stop(BaseException):
    pass


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _lock_directory(directory: Path, kind: str) -> int:
    fd = os.open(directory / "node.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise QentangleError(f"directory {str(directory)!r} is locked by another running node") from None
    return fd


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise QentangleError(f"cannot bind {host}:{port}: {error.strerror}") from None
    listener.listen(8)
    return listener


def _ready(host: str, port: int) -> None:
    sys.stdout.write(f"READY {host} {port}\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qentangle.network.node")
    parser.add_argument("--kind", required=True, choices=("source", "alice", "bob"))
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--source", type=_address)
    parser.add_argument("--peer", type=_address)
    args = parser.parse_args(argv)
    directory: Path = args.dir
    stopping = {"now": False}

    def on_term(*_: object) -> None:
        stopping["now"] = True
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    profile = None
    if os.environ.get("QENTANGLE_NODE_PROFILE"):  # cProfile of the whole node, to DIR/profile.pstats
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(
            filename=directory / "node.log",
            level=logging.WARNING,
            format=f"%(asctime)s {args.kind} %(levelname)s %(message)s",
        )
        logging.getLogger("qentangle").setLevel(logging.INFO)
        faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` dumps the stacks to stderr.log
        network = json.loads(args.config.read_text())
        config = config_from_dict(network["config"])
        lock = _lock_directory(directory, args.kind)
        if args.kind == "source":
            return _run_source(config, network, args, directory)
        return _run_station(config, network, args, directory, lambda: stopping["now"])
    except _Stop:
        return 0
    except (QentangleError, OSError, ValueError, KeyError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"ERROR {message}", flush=True)
        logging.getLogger("qentangle.network").error("%s", message)
        return EXIT_FAULT
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(directory / "profile.pstats")
        if "lock" in locals():
            os.close(lock)


def _run_source(config, network, args, directory: Path) -> int:
    from qentangle.network.source import Source

    listener = _listen(config.host, args.port)
    host, port = listener.getsockname()[:2]
    source = Source(config, int(network["seed"]))
    source.records(0)  # warm-up before readiness: the engine's Aer distributions, block 0
    _ready(host, port)
    source.serve_forever(listener)
    return 0


def _warm_up(station) -> None:
    """Run the station's own block programs once, both roles in lockstep, on synthetic data of
    a realistic size before readiness: every import and compiled kernel of the path a block
    takes (sifting, estimation, Cascade or LDPC, verification, privacy amplification) is then
    loaded, so the first real block does not pay for it (an in-process run pays it once too)."""
    import numpy as np

    from qentangle.channel import ClassicalChannel
    from qentangle.channel_transport import run_lockstep
    from qentangle.network.station import station_block_party

    rng = np.random.default_rng(0)
    rounds = min(station.config.rounds_per_block, 1 << 18)
    settings = [rng.integers(0, 2, rounds, dtype=np.uint8) for _ in range(2)]
    bits = rng.integers(0, 2, rounds, dtype=np.uint8)
    noisy = bits ^ (rng.random(rounds) < 0.02).astype(np.uint8)
    run_lockstep(
        ClassicalChannel.with_random_key(rng),
        lambda end: station_block_party(end, settings[0], bits, station.options, rng=rng),
        lambda end: station_block_party(end, settings[1], noisy, station.options),
    )


def _run_station(config, network, args, directory: Path, stop) -> int:
    from qentangle.network.station import Station

    station = Station(config, args.kind, directory, network["id"])
    station.source_address = args.source
    _warm_up(station)
    log = logging.getLogger("qentangle.network.station")
    try:
        if args.kind == "bob":
            listener = _listen(config.host, args.port)
            host, port = listener.getsockname()[:2]
            station.save_stats()
            _ready(host, port)
            while not stop():
                sock, _ = listener.accept()
                station.session(sock, stop)
        else:
            station.save_stats()
            _ready(config.host, 0)
            delay = 0.05
            while not stop():
                try:
                    sock = socket.create_connection(args.peer, timeout=5.0)
                except OSError as error:
                    log.info("bob not reachable (%s): retrying", error.strerror)
                    time.sleep(delay)  # back-off between reconnection attempts
                    delay = min(1.0, 2 * delay)
                    continue
                delay = 0.05
                station.session(sock, stop)
        return 0
    finally:
        station.close()


if __name__ == "__main__":
    sys.exit(main())
