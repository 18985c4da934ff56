"""Fixtures of the planning tests: a small in-process dask cluster, closed after the module."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def client():
    """A one-worker, one-thread dask cluster inside this process (no child processes)."""
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0") as c:
        yield c


@pytest.fixture
def one_pair():
    """One satellite and the Delingha-Nanshan pair (tests/plan/data/one-pair.toml)."""
    from qentangle.plan import load_plan

    return load_plan(DATA / "one-pair.toml")
