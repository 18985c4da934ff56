"""Dask runs: identical tables for any number of workers, a killed worker retried, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest

from qentangle.plan import load_plan, run_plan
from qentangle.plan.outputs import pair_table, satellite_table, write_outputs

pytestmark = pytest.mark.timeout(300)


def _same(a, b) -> None:
    assert a.passes.keys() == b.passes.keys()
    for name in a.passes:
        np.testing.assert_array_equal(a.passes[name], b.passes[name], err_msg=name)
    for name in a.satellites:
        np.testing.assert_array_equal(a.satellites[name], b.satellites[name], err_msg=name)
    assert pair_table(a).equals(pair_table(b))


@pytest.fixture(scope="module")
def small():
    """Four stations, two satellites, three days in half-day chunks, a pooled (nightly) key."""
    import dataclasses

    plan = load_plan("europe-4").with_period(days=3.0, chunk_days=0.5)
    stations = tuple(dataclasses.replace(s, cloud_free=(0.7,) * 12) for s in plan.stations)
    protocol = dataclasses.replace(plan.protocol, key_rule="night")
    return dataclasses.replace(plan, stations=stations, protocol=protocol)


def test_one_two_and_three_workers_give_identical_tables(small):
    from distributed import Client, LocalCluster

    results = []
    for workers in (1, 2, 3):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
            ) as cluster,
            Client(cluster) as client,
        ):
            results.append(run_plan(small, seed=5, client=client, progress=False))
    assert results[0].passes["served_s"].sum() > 0
    for other in results[1:]:
        _same(results[0], other)


def test_a_killed_worker_is_retried_and_the_result_is_unchanged(client):
    """Kill a worker process while it runs a task: dask reruns it elsewhere, the tables are the same."""
    from distributed import Client, LocalCluster

    plan = load_plan("europe-12").with_period(days=3.0, chunk_days=0.5)
    reference = run_plan(plan, seed=5, client=client, progress=False)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=50,
        ) as cluster,
        Client(cluster) as c,
    ):
        pids = c.run(os.getpid)
        killed = threading.Event()
        stop = threading.Event()

        def kill_one_busy_worker():
            while not stop.wait(0.02):  # bounded by the run: stop is set when it returns
                busy = [address for address, keys in c.processing().items() if keys]
                if busy:
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.set()
                    return

        thread = threading.Thread(target=kill_one_busy_worker, daemon=True)
        thread.start()
        try:
            result = run_plan(plan, seed=5, client=c, progress=False)
        finally:
            stop.set()
            thread.join(timeout=10)
    assert killed.is_set()
    _same(result, reference)


def test_outputs_tables_and_figures(small, client, tmp_path):
    result = run_plan(small, seed=5, client=client, progress=False)
    files = write_outputs(result, tmp_path)
    names = sorted(p.name for p in files)
    assert names == sorted(
        [
            "pairs.parquet",
            "pairs.csv",
            "satellites.parquet",
            "satellites.csv",
            "passes.parquet",
            "map.png",
            "key_per_month.png",
            "cumulative_key.png",
        ]
    )
    table = pq.read_table(tmp_path / "pairs.parquet")
    assert table.num_rows == len(small.pairs) * 1  # one month
    assert table.column("final_key_bits").to_numpy().sum() == result.passes["final_key_bits"].sum()
    assert table.column("sifted_bits").to_numpy().sum() == pytest.approx(result.passes["sifted_bits"].sum())
    sats = satellite_table(result)
    util = sats.column("utilisation").to_numpy()
    assert np.all((util >= 0) & (util <= 1))
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary files left
    totals = result.totals()
    assert totals["final_key_bits"] == sum(totals["final_key_bits_per_pair"].values())


def test_cli_runs_a_local_cluster_and_prints_json(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qentangle.cli.main",
            "plan",
            "europe-4",
            "--days",
            "1",
            "--workers",
            "1",
            "--seed",
            "2",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["days"] == 1.0 and data["satellites"] == 2 and data["workers"] == 1
    assert "dask dashboard: http://127.0.0.1:" in proc.stderr
    assert (out / "pairs.parquet").is_file() and (out / "map.png").is_file()


@pytest.mark.parametrize(("rule", "max_links"), [("greedy", 1), ("round_robin", 1), ("greedy", 2)])
def test_schedule_never_double_books_a_telescope_or_overloads_a_satellite(client, rule, max_links):
    import dataclasses

    plan = load_plan("europe-12").with_period(days=2.0)
    plan = dataclasses.replace(
        plan,
        schedule=dataclasses.replace(plan.schedule, rule=rule),
        payload=dataclasses.replace(plan.payload, max_links=max_links),
    )
    result = run_plan(plan, seed=3, client=client, progress=False)
    rows, sats = result.passes, result.satellites
    assert rows["served_s"].sum() > 0
    assert np.all(rows["served_s"] <= rows["clear_s"])
    # busy time is a union of slices: equal to the sum of served link time only without overlaps
    for k in range(len(plan.stations)):
        mine = np.isin(rows["pair"], [p for p, (i, j) in enumerate(plan.pairs) if k in (i, j)])
        assert rows["served_s"][mine].sum() == pytest.approx(sats["station_busy_s"][k])
    served_per_satellite = np.bincount(rows["satellite"], rows["served_s"], minlength=len(plan.satellites))
    np.testing.assert_allclose(served_per_satellite, sats["served_s"])
    assert np.all(sats["busy_s"] <= sats["served_s"] + 1e-9)
    assert np.all(sats["served_s"] <= max_links * sats["busy_s"] + 1e-9)
    assert np.all(sats["busy_s"] <= sats["candidate_s"] + 1e-9)


def test_an_existing_scheduler_is_used_by_address(small):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    ) as cluster:
        result = run_plan(
            small.with_period(days=1.0), seed=5, scheduler=cluster.scheduler_address, progress=False
        )
    assert result.workers == 1 and result.passes["pair"].size > 0


def test_a_chunk_too_large_is_refused_up_front_with_the_estimate():
    from qentangle.errors import ValidationError

    plan = load_plan("europe-12").with_period(chunk_days=31.0, slice_s=0.1, scan_step_s=0.1)
    with pytest.raises(ValidationError, match=r"period.chunk_days=31 .* about [0-9.]+ GiB"):
        run_plan(plan, seed=1, workers=1, progress=False)
