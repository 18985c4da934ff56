"""Benchmark of the key-distillation layer (not a test).

Prints, for QBER 1..5 %, Cascade and LDPC efficiency f = leaked / (n h(QBER)) and frame error
rate on blocks of ``--n`` bits (default 1e5), throughput in reconciled key bits per second (the
block length over the reconciliation time; the bits actually flipped are a QBER fraction of
that), and the time of Toeplitz privacy amplification of a 10^6-bit input. Speeds are also given as ratios
against baselines measured in the same run: a numpy XOR + popcount pass over the same key
(Cascade) and a direct matrix-product Toeplitz hash of a small input scaled per bit (PA).

    python benchmarks/distill.py [--n 1e6] [--reps 3] [--json] [--no-ldpc | --ldpc-only]

f is the mean over the repetitions and "f max" the worst one. LDPC rows also give the first-try
frame error rate (FER1) and how many kept keys differed ("bad", must be 0). "reconciled/s" is
key bits reconciled per second: the block length over the reconciliation time.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.distill.amplify import toeplitz_hash, toeplitz_matrix
from qentangle.distill.cascade import cascade_reconcile
from qentangle.distill.estimate import binary_entropy
from qentangle.distill.ldpc_ec import ldpc_reconcile

QBERS = (0.01, 0.02, 0.03, 0.04, 0.05)


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


def bench_ldpc(n: int, reps: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for q in QBERS:
        fs, fers, firsts, times, mismatched = [], [], [], [], 0
        for _ in range(reps):
            a, b = _pair(rng, n, q)
            ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 22)
            t0 = time.perf_counter()
            out = ldpc_reconcile(a, b, ch, qber=q, rng_alice=rng)
            times.append(time.perf_counter() - t0)
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
            "seconds": t, "reconciled_bits_per_second": n / t,
        })
    return rows


def bench_toeplitz(rng: np.random.Generator, n: int = 10**6) -> dict:
    m = n // 2
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        toeplitz_hash(x, seed, m)
        times.append(time.perf_counter() - t0)
    small_n, small_m = 2000, 1000
    xs = x[:small_n]
    ss = seed[: small_n + small_m - 1]
    t0 = time.perf_counter()
    toeplitz_matrix(ss, small_m, small_n).astype(np.int64) @ xs % 2
    naive = time.perf_counter() - t0
    naive_scaled = naive * (n * m) / (small_n * small_m)  # direct product is O(n m)
    fft = float(np.median(times))
    return {
        "n": n, "m": m, "fft_seconds": fft,
        "naive_matrix_seconds_small": naive, "naive_matrix_seconds_scaled": naive_scaled,
        "speedup_vs_naive": naive_scaled / fft,
    }


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(rows: list[dict]) -> None:
    """One line per row; reconciled/s is key bits reconciled per second (block length / time)."""
    print(f"{'method':8} {'QBER':>5} {'n':>8} {'f':>6} {'f max':>6} {'FER':>5} {'FER1':>5}"
          f" {'bad':>4} {'seconds':>8} {'reconciled/s':>12} {'x XOR/popcount':>15}")
    for r in rows:
        print(f"{r['method']:8} {r['qber']:5.2f} {r['n']:8d} {_cell(r['f'], '.3f'):>6}"
              f" {_cell(r['f_max'], '.3f'):>6} {r['frame_error_rate']:5.2f}"
              f" {_cell(r.get('first_try_frame_error_rate'), '.2f'):>5}"
              f" {_cell(r.get('kept_key_mismatches'), 'd'):>4} {r['seconds']:8.3f}"
              f" {r['reconciled_bits_per_second']:12.3g}"
              f" {_cell(r.get('slowdown_vs_xor_popcount'), '.0f'):>15}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=float, default=1e5, help="block size in bits")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-ldpc", action="store_true")
    parser.add_argument("--ldpc-only", action="store_true", help="LDPC rows only, no PA timing")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = int(args.n)
    if args.ldpc_only:
        rows = bench_ldpc(n, args.reps, rng)
        pa = None
    else:
        rows = bench_cascade(n, args.reps, rng)
        if not args.no_ldpc:
            rows += bench_ldpc(n, max(1, args.reps - 1), rng)
        pa = bench_toeplitz(rng)
    if args.json:
        print(json.dumps({"reconciliation": rows, "toeplitz": pa}, indent=2))
        return
    print_table(rows)
    if pa is not None:
        print(f"Toeplitz PA {pa['n']} -> {pa['m']} bits: {pa['fft_seconds']:.3f} s by FFT; direct"
              f" matrix product scaled from {2000}x{1000}: {pa['naive_matrix_seconds_scaled']:.1f} s"
              f" (FFT {pa['speedup_vs_naive']:.0f}x faster)")


if __name__ == "__main__":
    main()
