"""Shared fixtures and helpers for the test suite.

Statistical tests compare an estimate with a closed-form value within ``SIGMAS`` standard
errors, over the seeds in ``SEEDS`` (fixed, so failures reproduce).
"""

from __future__ import annotations

import math
import os

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests check invariants, not speed: a loaded CI machine must not fail them on
# Hypothesis's default 200 ms deadline per example.
settings.register_profile("qentangle", deadline=None)
settings.load_profile("qentangle")

SEEDS = (11, 22, 33)
SIGMAS = 4.0
TSIRELSON = 2 * math.sqrt(2)


def assert_within(observed, expected, stderr, sigmas: float = SIGMAS, what: str = "value") -> None:
    """Assert every |observed - expected| <= sigmas * stderr (arrays broadcast)."""
    observed, expected, stderr = np.broadcast_arrays(
        np.asarray(observed, float), np.asarray(expected, float), np.asarray(stderr, float)
    )
    deviation = np.abs(observed - expected)
    bad = deviation > sigmas * stderr
    assert not bad.any(), (
        f"{what}: {observed[bad]} vs expected {expected[bad]} "
        f"({deviation[bad] / stderr[bad]} standard errors, limit {sigmas})"
    )


def pytest_addoption(parser):
    parser.addoption(
        "--run-fuzz", action="store_true", default=False,
        help="also run the long fuzz / soak tests (marked fuzz); `make fuzz` sets it",
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked ``fuzz`` run only with ``--run-fuzz`` (``make fuzz``), never in ``make test``."""
    if config.getoption("--run-fuzz"):
        return
    skip = pytest.mark.skip(reason="long fuzz/soak run: `make fuzz` runs it")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def exact_engine():
    """One ExactEngine for the session (its distribution cache is shared)."""
    from qentangle.engines import ExactEngine

    return ExactEngine()


@pytest.fixture(params=SEEDS)
def seed(request) -> int:
    """Each statistical test runs once per seed."""
    return request.param


@pytest.fixture(autouse=True)
def _close_figures():
    """Close matplotlib figures a test opened."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def within():
    """The :func:`assert_within` helper, as a fixture (no imports from conftest needed)."""
    return assert_within
