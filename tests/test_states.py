"""Bell-state circuits, measurement settings and the ideal correlators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from qentangle.errors import ValidationError
from qentangle.states import (
    BELL_STATES,
    bell_circuit,
    chsh_value,
    ideal_correlator,
    measurement_circuit,
    optimal_chsh_angles,
    parameterised_measurement_circuit,
)

S = 1 / math.sqrt(2)
# Amplitudes over Qiskit's little-endian basis |q1 q0>: index = 2 * bit_bob + bit_alice.
EXPECTED = {
    "phi+": [S, 0, 0, S],
    "phi-": [S, 0, 0, -S],
    "psi+": [0, S, S, 0],
    "psi-": [0, -S, S, 0],  # (|alice=0,bob=1> - |alice=1,bob=0>)/sqrt2
}

finite = st.floats(min_value=-10, max_value=10, allow_nan=False)


@pytest.mark.parametrize("state", BELL_STATES)
def test_bell_circuit_prepares_the_state(state):
    vector = Statevector(bell_circuit(state))
    # Equal up to a global phase.
    assert abs(abs(np.vdot(EXPECTED[state], vector.data)) - 1) < 1e-12
    assert bell_circuit(state).metadata["state"] == state


def _observable(theta: float) -> np.ndarray:
    return math.cos(theta) * np.diag([1, -1]) + math.sin(theta) * np.array([[0, 1], [1, 0]])


@pytest.mark.parametrize("state", BELL_STATES)
@given(a=finite, b=finite)
def test_ideal_correlator_is_the_expectation_of_the_observables(state, a, b):
    vector = Statevector(bell_circuit(state))
    # Qiskit's Operator on (q1 ⊗ q0): Bob's observable on the left.
    observable = Operator(np.kron(_observable(b), _observable(a)))
    expected = float(np.real(vector.expectation_value(observable)))
    assert ideal_correlator(state, a, b) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("state", BELL_STATES)
def test_measurement_rotation_maps_the_observable_to_z(state):
    a, b = 0.37, -1.21
    qc = measurement_circuit(state, a, b, measure=False)
    zz = float(np.real(Statevector(qc).expectation_value(SparsePauliOp("ZZ"))))
    assert zz == pytest.approx(ideal_correlator(state, a, b), abs=1e-12)


@pytest.mark.parametrize("state", BELL_STATES)
def test_optimal_angles_reach_tsirelson(state):
    a, a2, b, b2 = optimal_chsh_angles(state)
    values = [ideal_correlator(state, x, y) for x, y in ((a, b), (a, b2), (a2, b), (a2, b2))]
    assert chsh_value(values) == pytest.approx(2 * math.sqrt(2), abs=1e-12)


@pytest.mark.parametrize("state", BELL_STATES)
@given(a=finite, b=finite)
def test_parameterised_circuit_binds_to_the_measurement_circuit(state, a, b):
    template = parameterised_measurement_circuit(state)
    params = {p.name: p for p in template.parameters}
    bound = template.assign_parameters({params["theta_a"]: a, params["theta_b"]: b})
    bound.remove_final_measurements()
    direct = measurement_circuit(state, a, b, measure=False)
    assert Statevector(bound).equiv(Statevector(direct))


def test_measurement_circuit_metadata():
    qc = measurement_circuit("phi-", 0.25, 1.5)
    assert qc.metadata == {"state": "phi-", "theta_a": 0.25, "theta_b": 1.5}
    assert qc.count_ops()["measure"] == 2


@given(bad=st.sampled_from([math.nan, math.inf, -math.inf, "x", None]))
def test_non_finite_angles_are_rejected(bad):
    with pytest.raises(ValidationError, match="theta_a"):
        measurement_circuit("phi+", bad, 0.0)
    with pytest.raises(ValidationError, match="theta_b"):
        measurement_circuit("phi+", 0.0, bad)


@given(name=st.text(max_size=6).filter(lambda s: s not in BELL_STATES))
def test_unknown_state_is_rejected(name):
    with pytest.raises(ValidationError, match="state"):
        bell_circuit(name)
