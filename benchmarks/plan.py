"""Benchmark of mission planning on dask (issue 16's acceptance; not a test).

Plans the ``europe-12`` preset (12 satellites, 10 stations, 45 pairs, 1 s slices in passes) on
a local dask cluster of 1 and of 2 worker processes, alternated, and prints satellite-days per
second for each, the scaling ratio (2 workers over 1, per repetition: median, min, max), the
wall time and the peak resident memory of the whole process tree (client, scheduler and
workers, sampled every 0.2 s), and checks that both give identical tables.

    python benchmarks/plan.py                 # 30 days, 3 repetitions of each worker count
    python benchmarks/plan.py --days 365 --reps 1 --workers 2   # the acceptance run (a year)

The cluster is started before the clock starts (worker start-up is not planning time); the
time counted runs from submitting the tasks to the last table. The machine's load average is
printed beside the figures: on a shared machine the ratio is only as good as the cores are free.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

import numpy as np
import psutil

from qentangle.plan import load_plan, run_plan
from qentangle.plan.outputs import pair_table


class PeakMemory:
    """Peak summed RSS of this process and all its children, sampled in a thread."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s, self.peak, self._stop = interval_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def one_run(plan, workers: int, seed: int) -> dict:
    from distributed import Client, LocalCluster

    with PeakMemory() as memory:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                silence_logs=40,
                memory_limit=0,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: __import__("qentangle.plan.compute"))  # warm the workers' imports
            started = time.perf_counter()
            result = run_plan(plan, seed=seed, client=client, progress=False)
            elapsed = time.perf_counter() - started
    return {
        "workers": workers,
        "elapsed_s": elapsed,
        "satellite_days_per_s": result.satellite_days / elapsed,
        "peak_rss_gib": memory.peak / 2**30,
        "final_key_bits": int(result.passes["final_key_bits"].sum()),
        "table": pair_table(result),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="europe-12", help="planning preset or file (default: europe-12)")
    parser.add_argument("--days", type=float, default=30.0, help="days planned per run (default: 30)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each worker count (default: 3)")
    parser.add_argument("--workers", default="1,2", help="worker counts, alternated (default: 1,2)")
    parser.add_argument("--seed", type=int, default=1, help="weather seed (default: 1)")
    parser.add_argument("--json", action="store_true", help="print only the summary (one JSON object)")
    args = parser.parse_args()
    plan = load_plan(args.preset).with_period(days=args.days)
    counts = [int(w) for w in args.workers.split(",")]
    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for rep in range(args.reps):
        for w in counts if rep % 2 == 0 else counts[::-1]:
            run = one_run(plan, w, args.seed)
            runs[w].append(run)
            if not args.json:
                print(
                    f"rep {rep} workers {w}: {run['elapsed_s']:.1f} s, {run['satellite_days_per_s']:.2f} "
                    f"satellite-days/s, peak {run['peak_rss_gib']:.2f} GiB, "
                    f"load {run['load_average'][0]:.1f}",
                    flush=True,
                )
    tables = [r["table"] for rs in runs.values() for r in rs]
    identical = all(t.equals(tables[0]) for t in tables)
    summary = {
        "preset": args.preset,
        "days": args.days,
        "satellites": len(plan.satellites),
        "stations": len(plan.stations),
        "pairs": len(plan.pairs),
        "reps": args.reps,
        "identical_tables": identical,
        "cpu_count": os.cpu_count(),
        "load_average_end": os.getloadavg(),
    }
    for w, rs in runs.items():
        speeds = [r["satellite_days_per_s"] for r in rs]
        summary[f"workers_{w}"] = {
            "satellite_days_per_s_median": statistics.median(speeds),
            "satellite_days_per_s_min": min(speeds),
            "satellite_days_per_s_max": max(speeds),
            "elapsed_s_median": statistics.median(r["elapsed_s"] for r in rs),
            "elapsed_s_max": max(r["elapsed_s"] for r in rs),
            "peak_rss_gib_max": max(r["peak_rss_gib"] for r in rs),
            "final_key_bits": rs[0]["final_key_bits"],
        }
    if 1 in runs and 2 in runs:
        ratios = np.array(
            [
                b["satellite_days_per_s"] / a["satellite_days_per_s"]
                for a, b in zip(runs[1], runs[2], strict=True)
            ]
        )
        summary["scaling_2_over_1"] = {
            "median": float(np.median(ratios)),
            "min": float(ratios.min()),
            "max": float(ratios.max()),
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
