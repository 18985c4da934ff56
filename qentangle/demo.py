"""The demonstration behind ``make demo``: a CHSH test, a BBM92 key, the Micius 2020 pass, and
a message encrypted with keys from two ground stations running as separate processes.

    python -m qentangle.demo --out out

Writes the figures into ``out/`` and prints a readable report of each step. The last step
starts the ``lab`` network (a source, two stations and a key management entity per station,
each its own process on 127.0.0.1), waits until both key stores hold keys, sends a message
from Alice's application to Bob's over ETSI GS QKD 014 with mutual TLS, and stops every process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; return the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the figures")
    parser.add_argument("--seed", type=int, default=2020, help="seed of every generator (default: 2020)")
    parser.add_argument(
        "--network-timeout", type=float, default=300.0, metavar="S",
        help="give up waiting for the network's first keys after S seconds (default: 300)",
    )
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt
    import numpy as np

    from qentangle.noise import NoiseConfig
    from qentangle.plots import plot_correlators, plot_sweep, save_pass_figures
    from qentangle.protocols.bbm92 import run_bbm92
    from qentangle.protocols.chsh import chsh_sweep, run_chsh
    from qentangle.report import format_table, pass_report, protocol_report
    from qentangle.scenarios.simulate import run_pass

    started = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    noise = NoiseConfig(depolarizing=0.08, readout_a=(0.01, 0.02), readout_b=(0.01, 0.02))

    _banner("1. CHSH Bell test on Aer (phi+, 8 % depolarizing, 1 % readout error)")
    chsh = run_chsh("phi+", shots=40_000, noise=noise, seed=args.seed)
    print(
        format_table(
            "CHSH",
            [
                ("S", chsh.S),
                ("standard error", chsh.S_stderr),
                ("predicted S", chsh.predicted_S),
                ("violation (standard errors)", chsh.z_score),
                ("log10 p-value, rigorous", chsh.log10_p_value_rigorous),
            ],
        )
    )
    plt.close(plot_correlators(chsh, path=out / "chsh_correlators.png"))
    sweep = chsh_sweep("phi+", np.linspace(0, np.pi, 25), shots=4_000, noise=noise, seed=args.seed)
    plt.close(plot_sweep(sweep, path=out / "chsh_sweep.png"))

    _banner("2. BBM92 between two endpoints, with Cascade and privacy amplification")
    bbm92 = run_bbm92(2_000_000, noise=NoiseConfig(depolarizing=0.06), seed=args.seed)
    print(protocol_report(bbm92.to_dict()))

    _banner("3. Micius 2020: BBM92 over a 1120 km double downlink, 3100 s of data")
    satellite = run_pass("micius-2020", seed=args.seed)
    data = satellite.to_dict()
    data["plots"] = [str(p) for p in save_pass_figures(satellite, out / "micius-2020")]
    print(pass_report(satellite, data))

    _banner("4. Two stations as processes, keys over ETSI GS QKD 014 (mTLS), one encrypted message")
    _network_story(out / "network", timeout_s=args.network_timeout)

    print(f"\nfigures in {out}/ ; demonstration took {time.perf_counter() - started:.1f} s")
    return 0


def _network_story(directory: Path, *, timeout_s: float) -> None:
    """Start the lab network with its KMEs, send one message from Alice to Bob, stop it."""
    import shutil

    from qentangle.kme import receive_message, send_message
    from qentangle.kme.network_hook import with_kme_nodes
    from qentangle.network.config import load_config
    from qentangle.network.nodes import network_status, start_network, stop_network

    shutil.rmtree(directory, ignore_errors=True)  # a fresh network each time
    network = start_network(with_kme_nodes(load_config("lab")), directory)
    try:
        print(f"started {', '.join(network['nodes'])} in {directory}/ (each its own process)")
        deadline = time.monotonic() + timeout_s
        status = network_status(directory)
        while not _both_stations_hold_keys(status):  # the first block takes a few seconds
            if time.monotonic() > deadline:
                raise TimeoutError(f"no keys in both stores after {timeout_s:.0f} s: see {directory}/*/")
            time.sleep(0.5)
            status = network_status(directory)
        for name in ("alice", "bob"):
            info = status["nodes"][name]
            print(f"{name:6s} blocks {info.get('blocks', 0):3d}  keys {info.get('keys', 0):6d}")
        print("stores match:", "yes (same key IDs and bits)" if status.get("stores_match") else "NO")
        message = b"Delingha to Nanshan: the key came from entangled photons."
        envelope = send_message(directory, "alice", "bob", message)
        print(f"alice -> bob: {len(message)} bytes, AES-256-GCM under QKD key {envelope.key_ids[0]}")
        received = receive_message(directory, "bob", envelope)
        print(f"bob decrypted: {received.decode()!r} ({'identical' if received == message else 'DIFFERENT'})")
    finally:
        stopped = stop_network(directory)
        print("stopped:", ", ".join(f"{n} {e['state']}" for n, e in stopped["nodes"].items()))


def _both_stations_hold_keys(status: dict) -> bool:
    return all(status["nodes"][name].get("keys", 0) > 0 for name in ("alice", "bob")) and bool(
        status.get("stores_match")
    )


def _banner(text: str) -> None:
    print(f"\n{'=' * len(text)}\n{text}\n{'=' * len(text)}")


if __name__ == "__main__":
    raise SystemExit(main())
