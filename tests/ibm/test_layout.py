"""Qubit pair choice from the target, and the --qubits override."""

from __future__ import annotations

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.ibm.backend import resolve_backend
from qentangle.ibm.layout import choose_pair, coupled_pairs, pair_errors, parse_qubits
from qentangle.pairs import PairSetup

FAKE_BACKENDS = ("fake_sherbrooke", "fake_torino")


@pytest.mark.parametrize("name", FAKE_BACKENDS)
def test_best_pair_is_coupled_and_maximises_visibility(name):
    target = resolve_backend(name).backend.target
    best = choose_pair(target)
    pairs = coupled_pairs(target)
    assert best.qubits in pairs
    visibilities = []
    for pair in pairs:
        try:
            visibilities.append(pair_errors(target, pair).visibility())
        except ValidationError:
            pass
    assert best.visibility() == pytest.approx(max(visibilities))
    assert 0 < best.gate_error < 0.05 and all(0 <= r <= 0.5 for arm in best.readout for r in arm)


def test_override_is_honoured_end_to_end(manila_engine):
    from qentangle.ibm import BackendEngine

    engine = BackendEngine("fake_manila", qubits="2,1", record=False, calibration_shots=64)
    assert engine.qubits == (2, 1)
    circuits = engine.transpiled(PairSetup("phi+"), [(0.0, 0.5)], np.random.default_rng(0))
    used = {circuits[0].find_bit(q).index for inst in circuits[0].data for q in inst.qubits}
    assert used == {1, 2}
    assert engine.info()["qubits"] == [2, 1]


@pytest.mark.parametrize(
    ("qubits", "match"),
    [
        ("0,4", "not coupled.*coupled to 1"),
        ("0,9", "out of range"),
        ("1,1", "distinct"),
        ("a,b", "distinct"),
        ("1", "distinct"),
        ("-1,0", "distinct"),
    ],
)
def test_bad_overrides(qubits, match):
    target = resolve_backend("fake_manila").backend.target
    with pytest.raises(ValidationError, match=match):
        choose_pair(target, parse_qubits(qubits))
