"""Run a planning scenario on dask.distributed: one task per time chunk, then the key per group.

:func:`run_plan` cuts the period into chunks (``period.chunk_days``) and maps
:func:`~qentangle.plan.compute.compute_chunk` over them on a ``dask.distributed`` cluster: a
``LocalCluster`` with one single-threaded worker process per core by default (``workers``), or
an existing scheduler (``scheduler="tcp://host:8786"``), or a ``Client`` you pass in. Every
task is a pure function of (scenario, chunk index, seed), so the tables are identical for any
number of workers and any order of completion; a task lost with a dying worker is run again by
dask (and any exception is retried ``retries`` times) with the same result.

Each chunk holds every satellite: a station's telescope follows one satellite at a time, so the
schedule couples the satellites of a time span (and sgp4's ``SatrecArray`` propagates them
together). With ``key_rule = "night"`` or ``"week"`` the sifted key of a station pair is pooled
over the night or week (which may span chunks) and distilled in a second round of tasks.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qentangle.errors import ValidationError
from qentangle.params import Param
from qentangle.plan.compute import (
    check_task_size,
    chunk_span,
    compute_chunk,
    finite_key_bits,
    n_chunks,
    night_index,
)
from qentangle.plan.scenario import PlanScenario

WORKERS = Param(
    "workers",
    int,
    low=1,
    high=256,
    metavar="N",
    help="dask worker processes of the local cluster, one thread each",
)
SEED = Param(
    "seed",
    int,
    low=0,
    default=0,
    metavar="N",
    help="seed of the weather draws (each station and night has its own stream)",
)
DAYS = Param(
    "days",
    float,
    low=0.0,
    high=3660.0,
    low_open=True,
    metavar="D",
    unit="days",
    help="plan this many days from the scenario's start instead of its period.days",
)
ASSUMPTIONS = (
    "key: expected figures (no sampling): BBM92 with symmetric bases, every sifted bit key, each basis's "
    "bit errors bound the other's phase errors (finite key at eps_sec, error correction leaking "
    "ec_efficiency * n * h(QBER) bits plus the verification tag), as qentangle pass's expected figures",
    "link: the single-pass link model at each slice's midpoint; background by the Sun's elevation at each "
    "station (night below -12 deg, day above 0 deg)",
    "weather: each station's night (local noon to noon) clear with its month's cloud-free probability, "
    "independently of other stations and nights; the scheduler knows the night's weather",
    "schedule: a telescope follows one satellite at a time; a satellite serves payload.max_links pairs "
    "at once; links shorter than schedule.min_link_s or of no expected asymptotic key are not scheduled",
    "windows shorter than period.scan_step_s may be missed",
)
"""What every planned figure rests on (printed with the totals)."""
GROUP_BLOCK = 256
"""Key groups (pair and night or week) distilled per task in the second round."""


@dataclass(frozen=True)
class PlanResult:
    """A planned period: the passes table, per-satellite use and the key groups.

    ``passes`` has one row per double-visibility window of a station pair and a satellite
    (columns of :data:`qentangle.plan.compute.ROW_FIELDS`, plus ``final_key_bits`` and
    ``key_group``), sorted by (chunk, satellite, pair, start).
    """

    plan: PlanScenario
    seed: int
    passes: dict[str, np.ndarray] = field(repr=False)
    satellites: dict[str, np.ndarray] = field(repr=False)
    groups: dict[str, np.ndarray] = field(repr=False)
    workers: int
    elapsed_s: float = field(compare=False)
    """Wall time of :func:`run_plan`, cluster start-up included."""
    compute_s: float = field(default=0.0, compare=False)
    """Wall time from submitting the tasks to the last table (cluster start-up excluded)."""
    dashboard: str | None = field(default=None, compare=False)

    @property
    def satellite_days(self) -> float:
        """Satellites times days planned (the benchmark's unit of work)."""
        return len(self.plan.satellites) * self.plan.period.days

    def totals(self) -> dict[str, Any]:
        """Totals over the period and the final key per pair (what ``qentangle plan --json`` prints)."""
        result = self
        plan, rows = result.plan, result.passes
        per_pair = np.bincount(rows["pair"], rows["final_key_bits"].astype(float), minlength=len(plan.pairs))
        sifted = np.bincount(rows["pair"], rows["sifted_bits"], minlength=len(plan.pairs))
        return {
            "scenario": plan.name,
            "seed": result.seed,
            "start": plan.period.start,
            "days": plan.period.days,
            "satellites": len(plan.satellites),
            "stations": len(plan.stations),
            "pairs": len(plan.pairs),
            "key_rule": plan.protocol.key_rule,
            "schedule": plan.schedule.rule,
            "passes": int(rows["pair"].size),
            "served_passes": int(np.count_nonzero(rows["served_s"] > 0)),
            "visible_s": float(rows["visible_s"].sum()),
            "clear_s": float(rows["clear_s"].sum()),
            "night_s": float(rows["night_s"].sum()),
            "served_s": float(rows["served_s"].sum()),
            "sifted_bits": float(rows["sifted_bits"].sum()),
            "final_key_bits": int(rows["final_key_bits"].sum()),
            "final_key_bits_per_pair": {plan.pair_name(p): int(per_pair[p]) for p in range(len(plan.pairs))},
            "sifted_bits_per_pair": {plan.pair_name(p): float(sifted[p]) for p in range(len(plan.pairs))},
            "satellite_utilisation": {
                s.name: float(u)
                for s, u in zip(
                    plan.satellites,
                    result.satellites["busy_s"] / np.maximum(result.satellites["span_s"], 1e-300),
                    strict=True,
                )
            },
            "assumptions": list(ASSUMPTIONS),
            "workers": result.workers,
            "elapsed_s": result.elapsed_s,
            "compute_s": result.compute_s,
            "satellite_days_per_s": result.satellite_days / max(result.compute_s, 1e-9),
        }


def _client(workers: int | None, scheduler: str | None, stack: ExitStack):
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise ValidationError(
                f"workers={workers!r} is not valid with a scheduler address: the cluster has its own workers",
                param="workers",
                template="{name}=" + repr(workers) + " is not valid with --scheduler: the "
                "cluster has its own workers",
            )
        try:
            return stack.enter_context(Client(scheduler, timeout="20s"))
        except OSError as error:
            raise ValidationError(f"--scheduler={scheduler!r} could not be reached: {error}") from None
    n = WORKERS.check(workers) if workers is not None else (os.cpu_count() or 1)
    cluster = stack.enter_context(
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            memory_limit=0,
            silence_logs=40,
        )
    )
    return stack.enter_context(Client(cluster))


def run_plan(
    plan: PlanScenario,
    *,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: bool | None = None,
    retries: int = 2,
    on_dashboard: Callable[[str | None], None] | None = None,
) -> PlanResult:
    """Plan ``plan`` over its period on dask (see the module docstring).

    ``on_dashboard`` is called with the dashboard address once the cluster is up (the CLI
    prints it). ``progress``: a bar over the tasks on stderr (``None``: when someone watches).

    Starting a cluster takes seconds, so this example is not run as a doctest
    (tests/plan/test_plan_run.py runs the same calls):

    >>> from distributed import Client  # doctest: +SKIP
    >>> from qentangle.plan.scenario import load_plan  # doctest: +SKIP
    >>> with Client(processes=False, n_workers=1, dashboard_address="127.0.0.1:0") as c:  # doctest: +SKIP
    ...     result = run_plan(load_plan("europe-4").with_period(days=1), seed=1, client=c)
    >>> result.totals()["passes"] > 0  # doctest: +SKIP
    True
    """
    from distributed import as_completed

    from qentangle.progress import progress_bar

    seed = SEED.check(seed)
    check_task_size(plan)
    started = time.perf_counter()
    with ExitStack() as stack:
        if client is None:
            client = _client(workers, scheduler, stack)
        dashboard = _dashboard(client)
        if on_dashboard is not None:
            on_dashboard(dashboard)
        n_workers = (
            len(client.scheduler_info(n_workers=-1).get("workers", {}))
            if hasattr(client, "scheduler_info")
            else 0
        )
        count = n_chunks(plan)
        token = _token(plan, seed)
        submitted = time.perf_counter()
        plan_future = client.scatter(plan, broadcast=True, hash=False)
        futures = client.map(
            compute_chunk,
            [plan_future] * count,
            list(range(count)),
            [seed] * count,
            key=[f"plan-chunk-{token}-{i}" for i in range(count)],
            retries=retries,
            pure=False,
        )
        chunks: list[dict | None] = [None] * count
        order = {f.key: i for i, f in enumerate(futures)}
        bar = stack.enter_context(progress_bar(count, progress=progress, label="plan", unit="chunk"))
        for future in as_completed(futures):
            chunks[order[future.key]] = future.result()
            bar.update(1)
        passes, satellites = _merge(plan, chunks)  # type: ignore[arg-type]
        groups = _key_groups(plan, plan_future, passes, client, token, retries)
        compute_s = time.perf_counter() - submitted
    return PlanResult(
        plan=plan,
        seed=seed,
        passes=passes,
        satellites=satellites,
        groups=groups,
        workers=n_workers,
        elapsed_s=time.perf_counter() - started,
        compute_s=compute_s,
        dashboard=dashboard,
    )


def _dashboard(client) -> str | None:
    try:
        link = client.dashboard_link
    except (AttributeError, KeyError):
        return None
    info = client.scheduler_info().get("services", {}) if hasattr(client, "scheduler_info") else {}
    return link if "dashboard" in info else None


def _token(plan: PlanScenario, seed: int) -> str:
    from dask.base import tokenize

    return tokenize(plan.to_dict(), seed, time.time_ns())[:12]


def _merge(plan: PlanScenario, chunks: list[dict]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Concatenate the chunks' rows (chunk order) and sum the satellites' use."""
    chunks = sorted(chunks, key=lambda c: c["index"])
    names = list(chunks[0]["rows"])
    passes = {n: np.concatenate([c["rows"][n] for c in chunks]) for n in names}
    n_sat = len(plan.satellites)
    satellites = {
        "satellite": np.arange(n_sat),
        "span_s": np.full(n_sat, sum(c["span_s"] for c in chunks)),
    }
    for name in ("served_s", "busy_s", "candidate_s"):
        satellites[name] = np.sum([c[name] for c in chunks], axis=0).reshape(n_sat)
    satellites["station_busy_s"] = np.sum([c["station_busy_s"] for c in chunks], axis=0)
    return passes, satellites


def key_group_ids(plan: PlanScenario, passes: dict[str, np.ndarray]) -> np.ndarray:
    """The key group of each pass row: itself (``pass``), (pair, night) or (pair, week)."""
    rule = plan.protocol.key_rule
    n = passes["pair"].size
    if rule == "pass":
        return np.arange(n)
    unit = passes["night"].astype(np.int64)
    if rule == "week":
        first = np.array(
            [
                int(night_index(_unix0(plan), plan.stations[plan.pairs[p][0]].station.longitude_deg))
                for p in range(len(plan.pairs))
            ],
            dtype=np.int64,
        )
        unit = (unit - first[passes["pair"]]) // 7
    _, ids = np.unique(np.stack([passes["pair"], unit]), axis=1, return_inverse=True)
    return ids.reshape(n)


def _unix0(plan: PlanScenario) -> float:
    from qentangle.plan.compute import _Clock

    return _Clock(plan.period.start_utc).unix0


def _distil_groups(
    plan: PlanScenario, sifted: np.ndarray, errors: np.ndarray, served: np.ndarray
) -> np.ndarray:
    return np.array(
        [finite_key_bits(plan, n, e, d) for n, e, d in zip(sifted, errors, served, strict=True)],
        dtype=np.int64,
    )


def _key_groups(
    plan: PlanScenario, plan_future, passes: dict[str, np.ndarray], client, token: str, retries: int
) -> dict[str, np.ndarray]:
    """Pool each group's sifted key and errors, distil (on the cluster), attribute to its last pass."""
    ids = key_group_ids(plan, passes)
    passes["key_group"] = ids
    n_groups = int(ids.max()) + 1 if ids.size else 0
    sifted = np.bincount(ids, passes["sifted_bits"], minlength=n_groups)
    errors = np.bincount(ids, passes["errors"], minlength=n_groups)
    served = np.bincount(ids, passes["served_s"], minlength=n_groups)
    end = np.full(n_groups, -math.inf)
    np.maximum.at(end, ids, np.where(passes["served_s"] > 0, passes["end_s"], -math.inf))
    pair = np.zeros(n_groups, dtype=np.int64)
    pair[ids] = passes["pair"]
    if plan.protocol.key_rule == "pass":
        final = passes.pop("final_key_bits").astype(np.int64)
    else:
        final = np.zeros(n_groups, dtype=np.int64)
        todo = np.flatnonzero(np.round(sifted) >= 2)
        blocks = [todo[i : i + GROUP_BLOCK] for i in range(0, todo.size, GROUP_BLOCK)]
        futures = client.map(
            _distil_groups,
            [plan_future] * len(blocks),
            [sifted[b] for b in blocks],
            [errors[b] for b in blocks],
            [served[b] for b in blocks],
            key=[f"plan-key-{token}-{i}" for i in range(len(blocks))],
            retries=retries,
            pure=False,
        )
        for block, values in zip(blocks, client.gather(futures), strict=True):
            final[block] = values
    # each group's key is counted at its last served pass (when the pooled key can be distilled)
    row_end = np.where(passes["served_s"] > 0, passes["end_s"], -math.inf)
    candidates = np.flatnonzero((row_end == end[ids]) & np.isfinite(end)[ids])
    _, first = np.unique(ids[candidates], return_index=True)
    last = np.zeros(ids.size, dtype=bool)
    last[candidates[first]] = True
    passes["final_key_bits"] = np.where(last, final[ids], 0).astype(np.int64)
    return {
        "group": np.arange(n_groups),
        "pair": pair,
        "sifted_bits": sifted,
        "errors": errors,
        "served_s": served,
        "end_s": end,
        "final_key_bits": final,
    }


__all__ = ["PlanResult", "chunk_span", "run_plan"]
