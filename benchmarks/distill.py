"""Benchmark of the key-distillation layer (not a test).

Rows, each measured alternately with its baseline in the same run (several repetitions,
medians with min and max):

* Cascade, QBER 1..5 %: efficiency f = leaked / (n h(QBER)), frame error rate, reconciled key
  bits per second (block length / time), against one numpy XOR + popcount pass over the key.
* LDPC, QBER 1..8 %: f (mean and worst block), frame error rate after retries (FER) and of the
  first syndrome (FER1), kept keys that differ ("bad", must be 0), seconds per key, against
  the previous release's ``ldpc_reconcile`` (``git show BASELINE_REV:...``) on the same keys.
* Toeplitz hashing at the block size of the 10^8-pair run (2^22 bits): the 50-bit
  verification tag and privacy amplification to 0.95 n bits (both endpoints, one seed),
  against the previous release's ``toeplitz_hash``; the outputs are checked bit-exact.

    python benchmarks/distill.py [--n 1e5] [--reps 3] [--json] [--no-ldpc | --ldpc-only]
                                 [--baseline-rev REV | --no-baseline]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.distill.amplify import toeplitz_hash
from qentangle.distill.cascade import cascade_reconcile
from qentangle.distill.estimate import binary_entropy
from qentangle.distill.ldpc_ec import ldpc_reconcile

QBERS = (0.01, 0.02, 0.03, 0.04, 0.05)
LDPC_QBERS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08)
BASELINE_REV = "61e290e"  # the release before issue 15 (FFT verification, ldpc.BpDecoder)
ROOT = Path(__file__).resolve().parent.parent


def baseline_module(rev: str, name: str):
    """``qentangle/distill/<name>.py`` as of git revision ``rev``, imported under another name.

    It imports the rest of the package from the current tree (those modules kept their APIs).
    """
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:qentangle/distill/{name}.py"],
        capture_output=True, text=True, check=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="qentangle-baseline-")) / f"baseline_{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"baseline_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def spread(values: list[float]) -> dict:
    """Median, min and max of repeated measurements."""
    return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def _pair(rng: np.random.Generator, n: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, 2, n, dtype=np.uint8)
    return a, a ^ (rng.random(n) < q).astype(np.uint8)


def bench_cascade(n: int, reps: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for q in QBERS:
        fs, times, fails, base, flipped = [], [], 0, [], []
        for _ in range(reps):
            a, b = _pair(rng, n, q)
            ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 22)
            t0 = time.perf_counter()
            out = cascade_reconcile(a, b, ch, qber=q, rng_alice=rng)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            np.count_nonzero(a ^ b)  # baseline: one XOR + popcount pass
            base.append(time.perf_counter() - t0)
            fails += int(not np.array_equal(out.bob_key, a))
            flipped.append(out.corrected_bits)
            fs.append(out.leaked_bits / (n * binary_entropy(np.mean(a != b))))
        t = float(np.median(times))
        rows.append({
            "method": "cascade", "qber": q, "n": n, "f": float(np.mean(fs)), "f_max": float(np.max(fs)),
            "frame_error_rate": fails / reps, "seconds": t, "reconciled_bits_per_second": n / t,
            "corrected_bits_per_second": float(np.median(flipped)) / t,  # errors flipped
            "best_seconds": min(times), "best_reconciled_bits_per_second": n / min(times),
            "slowdown_vs_xor_popcount": t / float(np.median(base)),
        })
    return rows


def bench_ldpc(
    n: int, reps: int, rng: np.random.Generator, baseline=None, baseline_reps: int = 1
) -> list[dict]:
    """LDPC rows; with ``baseline`` (the old module) its time on the same keys, alternated."""
    rows = []
    for q in LDPC_QBERS:
        fs, fers, firsts, times, old_times, ratios, mismatched = [], [], [], [], [], [], 0
        for rep in range(reps):
            a, b = _pair(rng, n, q)
            if baseline is not None and rep < baseline_reps:
                ch = ClassicalChannel.with_random_key(np.random.default_rng(rep), nbytes=1 << 22)
                t0 = time.perf_counter()
                baseline.ldpc_reconcile(a, b, ch, qber=q, rng_alice=np.random.default_rng(rep))
                old_times.append(time.perf_counter() - t0)
            ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 22)
            t0 = time.perf_counter()
            out = ldpc_reconcile(a, b, ch, qber=q, rng_alice=rng)
            times.append(time.perf_counter() - t0)
            if len(old_times) > len(ratios):
                ratios.append(old_times[-1] / times[-1])
            kept = out.kept
            mismatched += int(not np.array_equal(out.bob_key[kept], a[kept]))
            if kept.any():
                fs.append(out.leaked_bits / (kept.sum() * binary_entropy(np.mean(a[kept] != b[kept]))))
            fers.append(out.frame_error_rate)
            firsts.append(out.first_try_frame_error_rate)
        t = float(np.median(times))
        rows.append({
            "method": "ldpc", "qber": q, "n": n, "f": float(np.mean(fs)) if fs else None,
            "f_max": float(np.max(fs)) if fs else None,
            "frame_error_rate": float(np.mean(fers)),
            "first_try_frame_error_rate": float(np.mean(firsts)),
            "kept_key_mismatches": mismatched,
            "seconds": t, "seconds_spread": spread(times), "reconciled_bits_per_second": n / t,
            "baseline_seconds": spread(old_times) if old_times else None,
            "speedup_vs_baseline": spread(ratios) if ratios else None,
        })
    return rows


def bench_toeplitz(rng: np.random.Generator, baseline=None, reps: int = 3, n: int = 1 << 22) -> list[dict]:
    """Verification tag and privacy amplification at the block size, against the old hash."""
    x = rng.integers(0, 2, n, dtype=np.uint8)
    y = x.copy()  # Bob's reconciled key (equal after verification)
    rows = []
    for name, m in (("verification tag", 50), ("privacy amplification", int(0.95 * n))):
        seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)

        def both(hash_function, seed=seed, m=m):  # Alice and Bob hash with the same seed
            return hash_function(x, seed, m), hash_function(y, seed, m)

        new_times, old_times, ratios = [], [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            new = both(toeplitz_hash)
            new_times.append(time.perf_counter() - t0)
            if baseline is not None:
                t0 = time.perf_counter()
                old = both(baseline.toeplitz_hash)
                old_times.append(time.perf_counter() - t0)
                ratios.append(old_times[-1] / new_times[-1])
                if not (np.array_equal(new[0], old[0]) and np.array_equal(new[1], old[1])):
                    raise SystemExit(f"{name}: output differs from the baseline")
        rows.append({
            "row": name, "n": n, "m": m, "seconds": spread(new_times),
            "baseline_seconds": spread(old_times) if old_times else None,
            "speedup_vs_baseline": spread(ratios) if ratios else None,
            "bit_exact_with_baseline": bool(old_times),
        })
    return rows


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(rows: list[dict]) -> None:
    """One line per row; reconciled/s is key bits reconciled per second (block length / time)."""
    print(f"{'method':8} {'QBER':>5} {'n':>8} {'f':>6} {'f max':>6} {'FER':>5} {'FER1':>5}"
          f" {'bad':>4} {'seconds':>8} {'reconciled/s':>12} {'x XOR/popcount':>15} {'x faster than old':>22}")
    for r in rows:
        speed = r.get("speedup_vs_baseline")
        speed_cell = "-" if speed is None else (
            f"{speed['median']:.1f} [{speed['min']:.1f}, {speed['max']:.1f}]"
        )
        print(f"{r['method']:8} {r['qber']:5.2f} {r['n']:8d} {_cell(r['f'], '.3f'):>6}"
              f" {_cell(r['f_max'], '.3f'):>6} {r['frame_error_rate']:5.2f}"
              f" {_cell(r.get('first_try_frame_error_rate'), '.2f'):>5}"
              f" {_cell(r.get('kept_key_mismatches'), 'd'):>4} {r['seconds']:8.3f}"
              f" {r['reconciled_bits_per_second']:12.3g}"
              f" {_cell(r.get('slowdown_vs_xor_popcount'), '.0f'):>15} {speed_cell:>22}")


def print_toeplitz(rows: list[dict]) -> None:
    for r in rows:
        s = r["seconds"]
        line = (f"{r['row']:22} {r['n']:>9} -> {r['m']:>9} bits: {s['median']:.4f} s"
                f" [{s['min']:.4f}, {s['max']:.4f}]")
        if r["speedup_vs_baseline"] is not None:
            b, x = r["baseline_seconds"], r["speedup_vs_baseline"]
            line += (f"; old {b['median']:.3f} s; {x['median']:.1f}x faster [{x['min']:.1f}, {x['max']:.1f}],"
                     " bit-exact")
        print(line + " (both endpoints)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=float, default=1e5, help="block size in bits")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline-reps", type=int, default=1, help="LDPC keys also run by the old code")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-ldpc", action="store_true")
    parser.add_argument("--ldpc-only", action="store_true", help="LDPC rows only, no Cascade or hashing")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the baseline")
    parser.add_argument("--no-baseline", action="store_true", help="skip the previous release's code")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = int(args.n)
    old_ldpc = old_amplify = None
    if not args.no_baseline:
        old_ldpc = baseline_module(args.baseline_rev, "ldpc_ec")
        old_amplify = baseline_module(args.baseline_rev, "amplify")
    toeplitz = None
    if args.ldpc_only:
        rows = bench_ldpc(n, args.reps, rng, old_ldpc, args.baseline_reps)
    else:
        rows = bench_cascade(n, args.reps, rng)
        if not args.no_ldpc:
            rows += bench_ldpc(n, args.reps, rng, old_ldpc, args.baseline_reps)
        toeplitz = bench_toeplitz(rng, old_amplify, args.reps)
    if args.json:
        print(json.dumps({"reconciliation": rows, "toeplitz": toeplitz}, indent=2))
        return
    print_table(rows)
    if toeplitz is not None:
        print_toeplitz(toeplitz)


if __name__ == "__main__":
    main()
