"""Fixtures of the IBM backend tests: offline, fake devices only, job record in a temp dir."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime")

from qentangle.analysis import chsh_statistic, correlator, mitigated_probabilities
from qentangle.pairs import PairSetup
from qentangle.states import optimal_chsh_angles

FAKE_BACKENDS = ("fake_sherbrooke", "fake_torino")
CHSH_SHOTS = 4000  # per setting pair
# Fake-device outcomes are not seeded (see qentangle.ibm.engine), so every band check on them
# must fail with negligible probability: 4 standard errors. From the exact outcome
# distributions of the pair simulators, the mitigated-band checks fail with probability
# <= 2e-5 per run at 4 (about 1e-3 at 3); the raw-band checks < 1e-8.
SIGMAS = 4.0


@pytest.fixture(autouse=True)
def _job_home(tmp_path, monkeypatch):
    """Every test gets its own job record; none touches ~/.qentangle."""
    monkeypatch.setenv("QENTANGLE_HOME", str(tmp_path / "qhome"))
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)
    monkeypatch.delenv("QISKIT_IBM_INSTANCE", raising=False)


def chsh_measurement(engine, state: str = "phi+", shots: int = CHSH_SHOTS, seed: int = 7) -> dict:
    """S_raw, mitigated S and their standard errors from ``engine.sample`` at the optimal angles.

    ``S_stderr`` (from the library's chsh_statistic) includes the calibration's own error.
    """
    a, a2, b, b2 = optimal_chsh_angles(state)
    pairs = [(a, b), (a, b2), (a2, b), (a2, b2)]
    drawn = engine.sample(PairSetup(state), pairs, [shots] * 4, np.random.default_rng(seed))
    counts = np.array([np.bincount(d, minlength=4) for d in drawn], dtype=float)
    signs = np.array([1, -1, 1, 1])
    E_raw = correlator(counts / counts.sum(axis=1, keepdims=True))
    E = correlator(mitigated_probabilities(counts, engine.readout_confusion()))
    stderr = math.sqrt(float(np.sum((1 - E_raw**2) / counts.sum(axis=1))))
    _, _, S, S_stderr = chsh_statistic(counts, signs, engine.readout_confusion())
    assert float(S) == pytest.approx(float(signs @ E), abs=1e-12)
    return {
        "S_raw": float(signs @ E_raw),
        "S": float(signs @ E),
        "stderr": stderr,
        "S_stderr": float(S_stderr),
        "counts": counts,
        "drawn": drawn,
        "pairs": pairs,
    }


@pytest.fixture(scope="session", params=FAKE_BACKENDS)
def chsh_on_fake(request, tmp_path_factory):
    """One CHSH measurement per fake device, shared by the tests that inspect it."""
    from qentangle.ibm import BackendEngine

    home = tmp_path_factory.mktemp(f"home_{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QENTANGLE_HOME", str(home))
        engine = BackendEngine(request.param, calibration_shots=CHSH_SHOTS)
        measured = chsh_measurement(engine)
    return {"engine": engine, "home": home, **measured}


@pytest.fixture(scope="session")
def manila_engine():
    """A small (5-qubit) fake device engine, no record."""
    from qentangle.ibm import BackendEngine

    return BackendEngine("fake_manila", record=False, calibration_shots=1000)


@pytest.fixture(scope="session")
def measure_chsh():
    """The :func:`chsh_measurement` helper as a fixture."""
    return chsh_measurement


def read_all_files(root) -> str:
    """Text of every file under ``root`` (for secret scans)."""
    text = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as handle:
                text.append(handle.read())
    return "\n".join(text)


@pytest.fixture(scope="session")
def scan_files():
    """The :func:`read_all_files` helper as a fixture."""
    return read_all_files
