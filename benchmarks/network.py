"""A 10^7-pair ``lab`` run over loopback (three processes, TCP, tags, SQLite) against in-process.

Both runs distil with the same party programs and the same blocks: the in-process run
(:func:`qentangle.protocols.bbm92.run_bbm92`) cuts its 5 * 10^6 sifted bits into two blocks of
2.5 * 10^6 (its default limit is 2^22 bits); the network runs the ``lab`` preset with
``rounds_per_block = 5 * 10^6``, two blocks of the same size (``--rounds-per-block`` changes
it: smaller blocks pay a fixed cost each, estimation bounds and Cascade passes). The runs
alternate; each is repeated ``--reps`` times; the script prints the median, minimum and
maximum of each and the ratio of the medians. The network time runs from the moment every node
is ready (process start-up and warm-up, Aer and kernel compilation, are excluded and printed
apart; the in-process runs after the first are warm too) until both stations have finished
the last block.

    python benchmarks/network.py --reps 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from qentangle.network import nodes
from qentangle.network.config import load_config
from qentangle.noise import NoiseConfig
from qentangle.protocols.bbm92 import run_bbm92
from qentangle.protocols.keying import KeyOptions


def network_run(pairs: int, rounds: int, seed: int) -> tuple[float, float, int]:
    """(start-up seconds, distillation seconds, final key bits at Bob) of one network run."""
    config = replace(load_config("lab", speed=0.0), rounds_per_block=rounds, seed=seed, timeout_s=120.0)
    blocks = pairs // rounds
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "net"
        began = time.perf_counter()
        nodes.start_network(config, directory)
        ready = time.perf_counter()
        stats = directory / "bob" / "stats.json"
        try:
            while True:
                try:
                    data = json.loads(stats.read_text())
                except (OSError, ValueError):
                    data = {}
                if data.get("blocks_stored", 0) + data.get("blocks_aborted", 0) >= blocks:
                    break
                time.sleep(0.05)  # polling the station's progress
            done = time.perf_counter()
        finally:
            nodes.stop_network(directory)
        return ready - began, done - ready, int(data.get("bits_stored", 0))


def local_run(pairs: int, rounds: int, seed: int) -> tuple[float, int]:
    """(seconds, final key bits) of the in-process run (default blocks)."""
    config = load_config("lab")
    options = KeyOptions(sample_fraction=config.sample_fraction, ec=config.ec)  # blocks of 2^22 bits
    began = time.perf_counter()
    result = run_bbm92(
        pairs,
        noise=NoiseConfig(depolarizing=config.depolarizing),
        seed=seed,
        key_options=options,
        progress=False,
    )
    return time.perf_counter() - began, int(result.to_dict()["final_key_bits"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10**7)
    parser.add_argument("--rounds-per-block", type=int, default=5_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    pairs = args.pairs // args.rounds_per_block * args.rounds_per_block
    local, network, startup = [], [], []
    for rep in range(args.reps):
        seconds, bits = local_run(pairs, args.rounds_per_block, rep)
        local.append(seconds)
        print(f"rep {rep}: in-process {seconds:7.1f} s  {bits} key bits", flush=True)
        up, seconds, bits = network_run(pairs, args.rounds_per_block, rep)
        network.append(seconds)
        startup.append(up)
        print(f"rep {rep}: network    {seconds:7.1f} s  {bits} key bits (start-up {up:.1f} s)", flush=True)

    def line(name: str, values: list[float]) -> str:
        middle = statistics.median(values)
        return f"{name:10s} median {middle:7.1f} s  min {min(values):7.1f}  max {max(values):7.1f}"

    print(f"{pairs} pairs in blocks of {args.rounds_per_block}, {args.reps} alternated repetitions")
    print(line("in-process", local))
    print(line("network", network))
    print(line("start-up", startup))
    print(
        f"ratio network / in-process (medians): {statistics.median(network) / statistics.median(local):.2f}"
    )


if __name__ == "__main__":
    main()
