"""Set-up for the docstring examples, run by ``pytest --doctest-modules qentangle`` (pytest only).

Each example runs in a scratch directory of its own: the working directory, ``tempfile``'s
default directory (so ``tempfile.mkdtemp()`` in an example leaves nothing behind in /tmp) and
``QENTANGLE_HOME`` (job records, saved settings) all point into pytest's ``tmp_path``. Figures
use matplotlib's non-interactive Agg backend.

Examples that need the ``ibm`` extra (``qiskit_ibm_runtime``: IBM's fake devices and the
runtime sampler) are skipped with a reason when it is not installed: every example of
``qentangle/ibm/`` and every other example that names a fake device or builds a
``BackendEngine``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

os.environ.setdefault("MPLBACKEND", "Agg")

PACKAGE = Path(__file__).resolve().parent
IBM_PACKAGE = PACKAGE / "ibm"
IBM_MARKERS = ("fake_", "BackendEngine", "resolve_backend", "qiskit_ibm_runtime")


def has_ibm_extra() -> bool:
    """True when ``qiskit_ibm_runtime`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("qiskit_ibm_runtime") is not None
    except (ImportError, ValueError):  # ValueError: a None entry in sys.modules (import blocked)
        return False


def needs_ibm_extra(item: DoctestItem) -> bool:
    """Whether a docstring example needs the ``ibm`` extra (by where it lives and what it names)."""
    if IBM_PACKAGE in Path(item.path).resolve().parents:
        return True
    return any(marker in example.source for example in item.dtest.examples for marker in IBM_MARKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if has_ibm_extra():
        return
    skip = pytest.mark.skip(reason="needs the ibm extra: pip install 'qentangle[ibm]'")
    for item in items:
        ours = isinstance(item, DoctestItem) and PACKAGE in Path(item.path).resolve().parents
        if ours and needs_ibm_extra(item):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _qiskit_one_time_costs() -> None:
    """Pay Qiskit's one-time costs before the first example: importing Qiskit and Aer (about
    2 s) and loading the transpiler's stage plugins on the first transpile (about 3 s, since
    they import ``qiskit_ibm_runtime`` when it is installed). ``--durations`` then shows each
    example's own work; these costs show as the set-up of the first example."""
    importlib.import_module("qiskit_aer")
    from qiskit.transpiler import generate_preset_pass_manager

    generate_preset_pass_manager(optimization_level=0)


@pytest.fixture(autouse=True)
def _example_scratch_directory(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run every docstring example inside its own temporary directory."""
    if not isinstance(request.node, DoctestItem):
        return
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("QENTANGLE_HOME", str(tmp_path / "qentangle-home"))
