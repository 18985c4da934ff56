"""Benchmark of the time-tag layer (not a test): clicks per second of sync and coincidence finding.

Streams of the ``lab`` preset (about 10^5 clicks/s per station, Bob's clock 0.7 s ahead and
4 ppm fast). Each repetition measures, alternately and in this order:

* **floor**: a plain numpy sorted merge of the two streams (Bob's times already in Alice's
  frame): ``np.sort(np.concatenate([a, b]), kind="stable")``, the least any coincidence finder
  must do;
* **coincidences**: :func:`qentangle.timetags.coincidences.find_coincidences` over the whole
  streams (clock model applied, nearest-neighbour match, accidentals in 20 off-peak windows);
* **sync**: :func:`qentangle.timetags.sync.synchronize` on the first ``--sync-span`` seconds
  (offset searched over +-1 s, drift over +-10 ppm);
* **pipeline**: sync on the first ``--sync-span`` seconds, then coincidences over everything,
  as a file is processed: all clicks of both stations over the total time.

Clicks per second count both stations' clicks per CPU second of this process (numpy runs on
one core; on a shared machine wall time would also count the other processes). Reported:
median, min and max over the repetitions, and each row's median ratio to the floor measured in
the same repetition.

``--stream-seconds T`` adds a streamed run over qcrypto files of T seconds (written to a
temporary folder): synchronisation and coincidences between the two stations over the channel
(:func:`qentangle.protocols.clicks.coincide`, 1-s epochs), and the process's peak resident
memory before and after, to show that it does not grow with the files (the key's distillation,
which follows, holds about 100 bytes per sifted bit up to its block of 2^22 bits).

    python benchmarks/timetags.py [--duration 20] [--sync-span 1] [--reps 5] [--json]
                                  [--stream-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qentangle.scenarios.timetags import click_model, write_streams
from qentangle.timetags.coincidences import find_coincidences
from qentangle.timetags.streams import simulate_clicks
from qentangle.timetags.sync import synchronize

OFFSET_S, DRIFT_PPM = 0.7, -4.0


def _timed(function) -> tuple[float, object]:
    """CPU seconds of this process (the machine is shared: wall time would measure the others)."""
    start = time.process_time()
    value = function()
    return time.process_time() - start, value


def run(duration: float, sync_span: float, reps: int) -> dict:
    setup = click_model("lab", duration_s=duration, offset_s=OFFSET_S, drift_ppm=DRIFT_PPM)
    alice, bob = simulate_clicks(setup.model, 1)
    a, b = alice.times_ps, bob.times_ps
    total = a.size + b.size
    in_span = int(np.searchsorted(a, a[0] + sync_span * 1e12)) + int(
        np.searchsorted(b, b[0] + sync_span * 1e12)
    )
    window = setup.window_s * 1e12
    reference = synchronize(a, b, span_s=sync_span)
    b_alice = reference.model.to_alice(b)
    rows: dict[str, list[float]] = {"floor": [], "coincidences": [], "sync": [], "pipeline": []}
    ratios: dict[str, list[float]] = {"coincidences": [], "sync": [], "pipeline": []}
    for _ in range(reps):
        t_floor, _ = _timed(lambda: np.sort(np.concatenate([a, b_alice]), kind="stable"))
        t_coinc, found = _timed(lambda: find_coincidences(a, b, reference.model, window))
        t_sync, result = _timed(lambda: synchronize(a, b, span_s=sync_span))
        assert abs(result.offset_s - OFFSET_S) < 1e-10 and len(found) > 0.9 * 1e4 * duration
        floor_rate = total / t_floor
        rates = {
            "floor": floor_rate,
            "coincidences": total / t_coinc,
            "sync": in_span / t_sync,
            "pipeline": total / (t_sync + t_coinc),
        }
        for name, rate in rates.items():
            rows[name].append(rate)
            if name != "floor":
                ratios[name].append(rate / floor_rate)
    return {
        "clicks": total,
        "duration_s": duration,
        "sync_span_s": sync_span,
        "sync_clicks": in_span,
        "repetitions": reps,
        "clicks_per_s": {
            name: {"median": statistics.median(v), "min": min(v), "max": max(v)} for name, v in rows.items()
        },
        "ratio_to_floor": {name: statistics.median(v) for name, v in ratios.items()},
        "coincidences": len(found),
        "offset_error_ps": (result.offset_s - OFFSET_S) * 1e12,
    }


def streamed(seconds: float) -> dict:
    """A streamed run over qcrypto files: peak memory before and after, and its wall time."""
    from qentangle.protocols.clicks import coincide, open_parties
    from qentangle.timetags.formats import open_clicks

    with tempfile.TemporaryDirectory() as folder:
        setup = click_model("lab", duration_s=seconds, offset_s=OFFSET_S, drift_ppm=DRIFT_PPM)
        write_streams(setup, folder, format="qcrypto", seed=2, epoch_s=1.0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        alice, bob = open_clicks(Path(folder) / "alice.raw"), open_clicks(Path(folder) / "bob.raw")
        elapsed, result = _timed(
            lambda: coincide(open_parties(1), alice, bob, epoch_s=1.0, sync_span_s=1.0, progress=False)
        )
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "seconds": seconds,
            "events": alice.events + bob.events,
            "file_bytes": 8 * (alice.events + bob.events),
            "cpu_s": elapsed,
            "coincidences": result.stats["coincidences"],
            "peak_rss_mib_before": before / 1024,
            "peak_rss_mib_after": after / 1024,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of lab streams (default 20)")
    parser.add_argument("--sync-span", type=float, default=1.0, help="seconds used by sync (default 1)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--stream-seconds", type=float, default=0.0, help="also stream files of this length")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.duration, args.sync_span, args.reps)
    if args.stream_seconds > 0:
        report["streamed"] = streamed(args.stream_seconds)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"{report['clicks']} clicks ({args.duration:g} s of lab streams), sync on {args.sync_span:g} s "
        f"({report['sync_clicks']} clicks), {args.reps} repetitions"
    )
    print(f"{'row':<14}{'median clicks/s':>18}{'min':>12}{'max':>12}{'x floor':>10}")
    for name, row in report["clicks_per_s"].items():
        ratio = report["ratio_to_floor"].get(name, 1.0)
        print(f"{name:<14}{row['median']:>18.3e}{row['min']:>12.3e}{row['max']:>12.3e}{ratio:>10.3f}")
    if "streamed" in report:
        s = report["streamed"]
        print(
            f"streamed {s['events']} events ({s['file_bytes'] / 2**20:.0f} MiB of files) "
            f"in {s['cpu_s']:.1f} CPU s; "
            f"peak RSS {s['peak_rss_mib_before']:.0f} -> {s['peak_rss_mib_after']:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
