"""Pairs per second of the protocol engines, measured side by side in one run.

Rows:
  numpy floor         settings and outcomes drawn from fixed distributions, no physics
  exact engine        settings + exact-engine outcomes (the quantum phase, E91 and BBM92 noise)
  e91 / bbm92 run     the whole protocol up to the key stage: quantum phase, authenticated
                      basis announcements, sifting, CHSH tallies, QBER estimation
  aer shots engine    BBM92 with every round sampled by Aer's SamplerV2
  naive aer loop      one circuit and one Aer run per round (what one-circuit-per-pair
                      notebooks do), on a few hundred rounds

Ratios are against the numpy floor and the Aer shots engine measured in the same run.
``--memory`` also runs the default command ``qentangle bbm92 --pairs 1e8 --seed 1 --json``
(distillation on, in blocks of 2^22 sifted bits) in a child process and reports its peak
resident memory (the child's ru_maxrss) and its wall time.

    python benchmarks/throughput.py [--pairs 2e7] [--json] [--memory]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np

from qentangle.engines import ExactEngine
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup, pair_circuit
from qentangle.protocols.bbm92 import BASES, run_bbm92
from qentangle.protocols.e91 import ALICE_ANGLES, BOB_ANGLES, run_e91
from qentangle.protocols.endpoints import DEFAULT_CHUNK, Endpoint, measure_chunk
from qentangle.protocols.keying import KeyOptions

NOISE = NoiseConfig(depolarizing=0.05, misalignment_b_deg=2.0, readout_a=(0.01, 0.02), readout_b=(0.01, 0.02))
ESTIMATE_ONLY = KeyOptions(distill=False)


def timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


FIXED_JOINT = np.array([0.45, 0.05, 0.05, 0.45])  # one distribution for every round


def numpy_floor(pairs: int, seed: int = 0) -> None:
    """Settings, and outcomes from one fixed joint distribution: the same draws, no physics."""
    rng = np.random.default_rng(seed)
    thresholds = (np.cumsum(FIXED_JOINT)[:3] * 2.0**32).astype(np.uint32)
    for start in range(0, pairs, DEFAULT_CHUNK):
        size = min(DEFAULT_CHUNK, pairs - start)
        rng.integers(0, 3, size, dtype=np.uint8)
        rng.integers(0, 3, size, dtype=np.uint8)
        uniform = rng.integers(0, 2**32, size, dtype=np.uint32)
        codes = np.greater_equal(uniform, thresholds[0]).view(np.uint8)
        codes += np.greater_equal(uniform, thresholds[1]).view(np.uint8)
        codes += np.greater_equal(uniform, thresholds[2]).view(np.uint8)


def exact_quantum_phase(pairs: int, angles_a, angles_b, seed: int = 0) -> None:
    engine, setup = ExactEngine(), PairSetup("phi+", NOISE)
    rngs = [np.random.default_rng(seed + i) for i in range(3)]
    alice, bob = Endpoint("alice", angles_a, rngs[0]), Endpoint("bob", angles_b, rngs[1])
    for start in range(0, pairs, DEFAULT_CHUNK):
        measure_chunk(setup, engine, rngs[2], alice, bob, min(DEFAULT_CHUNK, pairs - start))


def naive_aer_loop(rounds: int, seed: int = 0) -> None:
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(method="density_matrix")
    rng = np.random.default_rng(seed)
    setup = PairSetup("phi+", NOISE)
    for _ in range(rounds):
        a, b = rng.choice(ALICE_ANGLES), rng.choice(BOB_ANGLES)
        circuit = transpile(pair_circuit(setup, a, b, measure=True), simulator, optimization_level=0)
        simulator.run(circuit, shots=1, seed_simulator=int(rng.integers(2**31))).result()


def measure(pairs: int, shots_pairs: int, naive_rounds: int) -> dict:
    # Warm-up: Aer start-up and the one-off compilation of the setting circuits.
    run_e91(10_000, noise=NOISE, seed=1, key_options=ESTIMATE_ONLY)
    run_bbm92(10_000, noise=NOISE, seed=1, key_options=ESTIMATE_ONLY)
    exact_quantum_phase(10_000, ALICE_ANGLES, BOB_ANGLES)
    rows = {
        "numpy floor": (pairs, timed(numpy_floor, pairs)),
        "exact engine (e91 settings)": (pairs, timed(exact_quantum_phase, pairs, ALICE_ANGLES, BOB_ANGLES)),
        "exact engine (bbm92 settings)": (pairs, timed(exact_quantum_phase, pairs, BASES, BASES)),
        "e91 run (to key stage)": (
            pairs,
            timed(run_e91, pairs, noise=NOISE, seed=2, key_options=ESTIMATE_ONLY),
        ),
        "bbm92 run (to key stage)": (
            pairs,
            timed(run_bbm92, pairs, noise=NOISE, seed=2, key_options=ESTIMATE_ONLY),
        ),
        "aer shots engine (e91 run)": (
            shots_pairs,
            timed(run_e91, shots_pairs, noise=NOISE, engine="shots", seed=3, key_options=ESTIMATE_ONLY),
        ),
        "aer shots engine (bbm92 run)": (
            shots_pairs,
            timed(run_bbm92, shots_pairs, noise=NOISE, engine="shots", seed=3, key_options=ESTIMATE_ONLY),
        ),
        "naive aer loop (1 circuit/round)": (naive_rounds, timed(naive_aer_loop, naive_rounds)),
    }
    rates = {name: n / seconds for name, (n, seconds) in rows.items()}
    floor = rates["numpy floor"]
    shots = {"e91": rates["aer shots engine (e91 run)"], "bbm92": rates["aer shots engine (bbm92 run)"]}
    return {
        "pairs": pairs,
        "rows": [
            {
                "name": name,
                "pairs": rows[name][0],
                "seconds": rows[name][1],
                "pairs_per_s": rate,
                "ratio_to_numpy_floor": rate / floor,
                # each row against the Aer shots engine running the same protocol
                "ratio_to_aer_shots": rate / shots["e91" if "e91" in name.lower() else "bbm92"],
            }
            for name, rate in rates.items()
        ],
    }


MEMORY_COMMAND = ("bbm92", "--pairs", "1e8", "--seed", "1", "--json")


def peak_memory_of_large_run() -> dict:
    """Run ``qentangle`` + MEMORY_COMMAND in a child process; its peak RSS and key figures."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    command = [sys.executable, "-m", "qentangle.cli.main", *MEMORY_COMMAND]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib <= before:
        raise SystemExit("could not attribute the peak memory to the large run")
    data = json.loads(out)
    return {
        "command": "qentangle " + " ".join(MEMORY_COMMAND),
        "pairs": data["pairs"],
        "seconds": data["elapsed_s"],
        "peak_rss_mib": peak_kib / 1024,
        "sifted_bits": data["sifted_bits"],
        "key_blocks": data["key_blocks"],
        "final_key_bits": data["final_key_bits"],
        "keys_match": data["keys_match"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=float, default=2e7)
    parser.add_argument("--shots-pairs", type=float, default=2e5)
    parser.add_argument("--naive-rounds", type=int, default=200)
    parser.add_argument(
        "--memory", action="store_true", help="also run 1e8 BBM92 pairs with distillation; report peak memory"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # The large run first: this process has no other child whose peak could be mistaken for it.
    large = peak_memory_of_large_run() if args.memory else None
    report = measure(int(args.pairs), int(args.shots_pairs), args.naive_rounds)
    if large is not None:
        report["large_run"] = large
    report["this_process_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'row':<36}{'pairs':>12}{'pairs/s':>14}{'vs floor':>10}{'vs shots':>10}")
    for row in report["rows"]:
        print(
            f"{row['name']:<36}{row['pairs']:>12,}{row['pairs_per_s']:>14,.0f}"
            f"{row['ratio_to_numpy_floor']:>10.3f}{row['ratio_to_aer_shots']:>10.1f}"
        )
    if "large_run" in report:
        large = report["large_run"]
        print(
            f"\n{large['command']}: {large['seconds']:.1f} s, peak memory {large['peak_rss_mib']:.0f} MiB,"
            f" {large['sifted_bits']:,} sifted bits in {large['key_blocks']} blocks,"
            f" {large['final_key_bits']:,} final key bits (keys match: {large['keys_match']})"
        )
    if not math.isfinite(report["rows"][0]["pairs_per_s"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
