"""Pairs per second of the protocol engines, measured side by side in one run.

Rows:
  numpy floor         settings and outcomes drawn from fixed distributions, no physics
  exact engine        settings + exact-engine outcomes (the quantum phase, E91 and BBM92 noise)
  e91 / bbm92 run     the whole protocol up to the key stage: quantum phase, authenticated
                      basis announcements, sifting, CHSH tallies, QBER estimation
  aer shots engine    BBM92 with every round sampled by Aer's SamplerV2
  naive aer loop      one circuit and one Aer run per round (what one-circuit-per-pair
                      notebooks do), on a few hundred rounds

Every row is timed alternately with the numpy floor (floor, row, floor, row, ...) over
``--reps`` repetitions; its "vs floor" ratio is the median of the per-repetition ratios, given
with their min and max, so a load change on the machine moves both sides of a ratio alike.
"vs shots" divides the median rates.

``--end-to-end`` runs ``qentangle bbm92 --pairs 1e8 --seed 1 --json`` (distillation on, in
blocks of 2^22 sifted bits) in child processes, alternating this tree with the previous
release's code path (``git archive BASELINE_REV`` unpacked in a temporary directory, run with
the same interpreter), ``--e2e-reps`` times each: wall time, CPU time and peak resident memory
(each child's own ru_maxrss via ``os.wait4``), and the key figures of both (final key bits,
keys identical between Alice and Bob). ``--memory`` is the old name of this option.

    python benchmarks/throughput.py [--pairs 2e7] [--reps 3] [--json] [--end-to-end]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def measure(pairs: int, shots_pairs: int, naive_rounds: int, reps: int = 3) -> dict:
    # Warm-up: Aer start-up and the one-off compilation of the setting circuits.
    run_e91(10_000, noise=NOISE, seed=1, key_options=ESTIMATE_ONLY)
    run_bbm92(10_000, noise=NOISE, seed=1, key_options=ESTIMATE_ONLY)
    exact_quantum_phase(10_000, ALICE_ANGLES, BOB_ANGLES)
    rows = {
        "exact engine (e91 settings)": (pairs, lambda: exact_quantum_phase(pairs, ALICE_ANGLES, BOB_ANGLES)),
        "exact engine (bbm92 settings)": (pairs, lambda: exact_quantum_phase(pairs, BASES, BASES)),
        "e91 run (to key stage)": (
            pairs, lambda: run_e91(pairs, noise=NOISE, seed=2, key_options=ESTIMATE_ONLY)
        ),
        "bbm92 run (to key stage)": (
            pairs, lambda: run_bbm92(pairs, noise=NOISE, seed=2, key_options=ESTIMATE_ONLY)
        ),
        "aer shots engine (e91 run)": (
            shots_pairs,
            lambda: run_e91(shots_pairs, noise=NOISE, engine="shots", seed=3, key_options=ESTIMATE_ONLY),
        ),
        "aer shots engine (bbm92 run)": (
            shots_pairs,
            lambda: run_bbm92(shots_pairs, noise=NOISE, engine="shots", seed=3, key_options=ESTIMATE_ONLY),
        ),
        "naive aer loop (1 circuit/round)": (naive_rounds, lambda: naive_aer_loop(naive_rounds)),
    }
    floor_rates: list[float] = []
    measured: dict[str, dict] = {}
    for name, (n, run) in rows.items():
        rates, ratios = [], []
        for _ in range(reps):  # alternated with the floor, on the same number of pairs
            floor_rate = n / timed(numpy_floor, n)
            rate = n / timed(run)
            floor_rates.append(floor_rate)
            rates.append(rate)
            ratios.append(rate / floor_rate)
        measured[name] = {"pairs": n, "rates": rates, "ratios": ratios}
    shots = {
        "e91": float(np.median(measured["aer shots engine (e91 run)"]["rates"])),
        "bbm92": float(np.median(measured["aer shots engine (bbm92 run)"]["rates"])),
    }
    out_rows = [{
        "name": "numpy floor", "pairs": pairs, "pairs_per_s": float(np.median(floor_rates)),
        "pairs_per_s_min": float(np.min(floor_rates)), "pairs_per_s_max": float(np.max(floor_rates)),
        "ratio_to_numpy_floor": 1.0, "ratio_min": 1.0, "ratio_max": 1.0,
        "ratio_to_aer_shots": float(np.median(floor_rates)) / shots["bbm92"],
    }]
    for name, m in measured.items():
        rate = float(np.median(m["rates"]))
        out_rows.append({
            "name": name, "pairs": m["pairs"], "pairs_per_s": rate,
            "pairs_per_s_min": float(np.min(m["rates"])), "pairs_per_s_max": float(np.max(m["rates"])),
            "ratio_to_numpy_floor": float(np.median(m["ratios"])),
            "ratio_min": float(np.min(m["ratios"])), "ratio_max": float(np.max(m["ratios"])),
            # each row against the Aer shots engine running the same protocol
            "ratio_to_aer_shots": rate / shots["e91" if "e91" in name.lower() else "bbm92"],
        })
    return {"pairs": pairs, "reps": reps, "rows": out_rows}


MEMORY_COMMAND = ("bbm92", "--pairs", "1e8", "--seed", "1", "--json")
BASELINE_REV = "61e290e"  # the release before issue 15
ROOT = Path(__file__).resolve().parent.parent


def baseline_tree(rev: str) -> Path:
    """The package as of git revision ``rev``, unpacked (``git archive``) in a temporary directory."""
    where = Path(tempfile.mkdtemp(prefix="qentangle-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "qentangle"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def run_child(cwd: Path, command: tuple[str, ...] = MEMORY_COMMAND) -> dict:
    """``python -m qentangle.cli.main <command>`` with the package found first in ``cwd``.

    Returns wall and CPU seconds, the child's own peak RSS (``os.wait4``) and its JSON figures.
    """
    env = dict(os.environ, PYTHONPATH=str(cwd))
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "qentangle.cli.main", *command], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} in {cwd} exited with {child.returncode}")
    data = json.loads(out)
    return {
        "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024,
        "sifted_bits": data["sifted_bits"], "key_blocks": data["key_blocks"],
        "final_key_bits": data["final_key_bits"], "keys_match": data["keys_match"],
    }


def _spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def end_to_end(reps: int, rev: str) -> dict:
    """The 10^8-pair command, this tree against ``rev``, alternated, ``reps`` times each."""
    old_tree = baseline_tree(rev)
    try:
        runs: dict[str, list[dict]] = {"current": [], "baseline": []}
        for _ in range(reps):
            runs["baseline"].append(run_child(old_tree))
            runs["current"].append(run_child(ROOT))
    finally:
        shutil.rmtree(old_tree, ignore_errors=True)
    ratios = [b["wall_s"] / c["wall_s"] for b, c in zip(runs["baseline"], runs["current"], strict=True)]
    cpu_ratios = [b["cpu_s"] / c["cpu_s"] for b, c in zip(runs["baseline"], runs["current"], strict=True)]
    summary = {}
    for side, results in runs.items():
        summary[side] = {
            "wall_s": _spread([r["wall_s"] for r in results]),
            "cpu_s": _spread([r["cpu_s"] for r in results]),
            "peak_rss_mib": _spread([r["peak_rss_mib"] for r in results]),
            **{k: results[0][k] for k in ("sifted_bits", "key_blocks", "final_key_bits", "keys_match")},
        }
    return {
        "command": "qentangle " + " ".join(MEMORY_COMMAND), "baseline_rev": rev, "reps": reps,
        **summary,
        "speedup_wall": _spread(ratios), "speedup_cpu": _spread(cpu_ratios),
        "same_key_length": summary["current"]["final_key_bits"] == summary["baseline"]["final_key_bits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=float, default=2e7)
    parser.add_argument("--shots-pairs", type=float, default=2e5)
    parser.add_argument("--naive-rounds", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each row (with its floor)")
    parser.add_argument(
        "--end-to-end", "--memory", action="store_true",
        help="also run 1e8 BBM92 pairs with distillation, this tree against --baseline-rev",
    )
    parser.add_argument("--e2e-reps", type=int, default=2, help="runs of each side of --end-to-end")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the baseline")
    parser.add_argument("--no-rows", action="store_true", help="only the --end-to-end comparison")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict = {}
    if args.end_to_end:
        report["end_to_end"] = end_to_end(args.e2e_reps, args.baseline_rev)
    if not args.no_rows:
        report.update(measure(int(args.pairs), int(args.shots_pairs), args.naive_rounds, args.reps))
    report["this_process_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps(report, indent=2))
        return
    if "rows" in report:
        print(f"{'row':<36}{'pairs':>12}{'pairs/s':>14}{'vs floor [min, max]':>24}{'vs shots':>10}")
        for row in report["rows"]:
            spread = f"{row['ratio_to_numpy_floor']:.3f} [{row['ratio_min']:.3f}, {row['ratio_max']:.3f}]"
            print(f"{row['name']:<36}{row['pairs']:>12,}{row['pairs_per_s']:>14,.0f}{spread:>24}"
                  f"{row['ratio_to_aer_shots']:>10.1f}")
        if not math.isfinite(report["rows"][0]["pairs_per_s"]):
            raise SystemExit(1)
    if "end_to_end" in report:
        e = report["end_to_end"]
        print(f"\n{e['command']}, {e['reps']} alternated runs each (median [min, max]):")
        for side in ("baseline", "current"):
            r = e[side]
            label = f"previous release ({e['baseline_rev']})" if side == "baseline" else "this tree"
            print(f"  {label:<28} wall {r['wall_s']['median']:.1f} s [{r['wall_s']['min']:.1f},"
                  f" {r['wall_s']['max']:.1f}], CPU {r['cpu_s']['median']:.1f} s, peak"
                  f" {r['peak_rss_mib']['median']:.0f} MiB, {r['final_key_bits']:,} final key bits in"
                  f" {r['key_blocks']} blocks, keys match: {r['keys_match']}")
        w, c = e["speedup_wall"], e["speedup_cpu"]
        print(f"  speed-up: wall {w['median']:.2f}x [{w['min']:.2f}, {w['max']:.2f}], CPU {c['median']:.2f}x"
              f" [{c['min']:.2f}, {c['max']:.2f}]; same final key length: {e['same_key_length']}")


if __name__ == "__main__":
    main()
