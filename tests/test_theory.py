"""The closed forms of qentangle.theory against Aer, and the channel definitions they share.

The noise is defined once, as Kraus operators (NoiseConfig.channels): the Aer instructions and
the closed forms are both built from them. These tests hold (1) each channel's operators to
Qiskit's own named constructors, and (2) the closed-form distributions, S and QBER to Aer's
exact density-matrix results over a fixed set of noise configurations, every Bell state and
generic angles (to 1e-9).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.circuit.library import RYGate
from qiskit.quantum_info import Kraus, SuperOp
from qiskit_aer.noise import amplitude_damping_error, depolarizing_error, pauli_error

from qentangle.analysis import correlator
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig, amplitude_damping_kraus, dephasing_kraus, depolarizing_kraus
from qentangle.pairs import PairSetup
from qentangle.states import BELL_STATES, ideal_correlator, optimal_chsh_angles
from qentangle.theory import (
    check_chsh_angles,
    predicted_correlator,
    predicted_density_matrix,
    predicted_distribution,
    predicted_qber,
    predicted_S,
)

ANGLES_A = np.array([0.0, 0.3, 1.4, -0.9, 2.6])
ANGLES_B = np.array([0.0, -0.5, 2.2, 0.8, math.pi / 2])
NOISES = [
    NoiseConfig(),
    NoiseConfig(depolarizing=0.2),
    NoiseConfig(accidental=1.0),
    NoiseConfig(misalignment_a_deg=7.0, amplitude_damping_a=0.4),  # order matters: RY then damping
    NoiseConfig(dephasing_b=0.3, depolarizing_a=1.2, readout_b=(0.05, 0.1)),
    NoiseConfig(amplitude_damping_b=0.6, misalignment_b_deg=-30.0, depolarizing_b=0.1),
    NoiseConfig(depolarizing=0.05, accidental=0.1, dephasing_a=0.2, amplitude_damping_b=0.15,
                misalignment_a_deg=3.0, misalignment_b_deg=-4.0, readout_a=(0.02, 0.04)),
    NoiseConfig(depolarizing_a=4 / 3, depolarizing_b=4 / 3, amplitude_damping_a=1.0, dephasing_b=1.0),
]


def _superop_equal(kraus, error) -> bool:
    return bool(np.allclose(SuperOp(Kraus(list(kraus))).data, SuperOp(error).data, atol=1e-12))


# ------------------------------------------------------------------------ channel definitions
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0, 16 / 15])
def test_two_qubit_depolarizing_kraus_is_qiskits_channel(p):
    assert _superop_equal(depolarizing_kraus(p, 2), depolarizing_error(p, 2))


@pytest.mark.parametrize("p", [0.0, 0.2, 1.0, 4 / 3])
def test_one_qubit_channels_are_qiskits(p):
    assert _superop_equal(depolarizing_kraus(p, 1), depolarizing_error(p, 1))
    q = min(p, 1.0)
    assert _superop_equal(dephasing_kraus(q), pauli_error([("Z", q), ("I", 1 - q)]))
    assert _superop_equal(amplitude_damping_kraus(q), amplitude_damping_error(q))


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.describe()[:40])
def test_every_channel_is_trace_preserving_and_becomes_one_instruction(noise):
    channels = noise.channels()
    assert all(channel.is_trace_preserving() for channel in channels)
    assert [qubits for _, qubits in noise.instructions()] == [c.qubits for c in channels]


def test_misalignment_is_the_polarization_rotation():
    (channel,) = NoiseConfig(misalignment_b_deg=12.0).channels()
    assert channel.qubits == (1,)
    assert np.allclose(channel.kraus[0], RYGate(math.radians(24.0)).to_matrix())


# ------------------------------------------------------------------------ closed forms vs Aer
@pytest.mark.parametrize("state", BELL_STATES)
@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.describe()[:40])
def test_closed_form_distributions_equal_aer(exact_engine, noise, state):
    pairs = list(zip(ANGLES_A.tolist(), ANGLES_B.tolist(), strict=True))
    aer = exact_engine.distributions(PairSetup(state, noise), pairs)
    assert np.allclose(predicted_distribution(state, ANGLES_A, ANGLES_B, noise), aer, atol=1e-9)


@pytest.mark.parametrize("state", BELL_STATES)
@pytest.mark.parametrize("noise", NOISES[1:6], ids=lambda n: n.describe()[:40])
def test_closed_form_S_and_qber_equal_aer(exact_engine, noise, state):
    a, a2, b, b2 = optimal_chsh_angles(state)
    E = correlator(exact_engine.distributions(PairSetup(state, noise), [(a, b), (a, b2), (a2, b), (a2, b2)]))
    assert predicted_S(state, noise=noise) == pytest.approx(float(E[0] - E[1] + E[2] + E[3]), abs=1e-9)
    for theta in (0.0, math.pi / 2):
        sign = 1.0 if ideal_correlator(state, theta, theta) > 0 else -1.0
        aer = correlator(exact_engine.distributions(PairSetup(state, noise), [(theta, theta)]))[0]
        assert predicted_qber(state, theta, noise) == pytest.approx(float((1 - sign * aer) / 2), abs=1e-9)


@pytest.mark.parametrize("state", BELL_STATES)
def test_closed_forms_of_known_channels(state):
    p = 0.3
    pure = predicted_density_matrix(state)
    assert np.allclose(predicted_density_matrix(state, NoiseConfig(depolarizing=p)),
                       (1 - p) * pure + p * np.eye(4) / 4, atol=1e-12)
    assert predicted_S(state, noise=NoiseConfig(depolarizing=p)) == pytest.approx(2 * math.sqrt(2) * (1 - p))
    assert predicted_qber(state, 0.0, NoiseConfig(depolarizing=p)) == pytest.approx(p / 2)
    dephased = NoiseConfig(dephasing_a=0.1)  # a phase flip leaves Z alone and flips X
    assert predicted_qber(state, 0.0, dephased) == pytest.approx(0.0, abs=1e-12)
    assert predicted_qber(state, math.pi / 2, dephased) == pytest.approx(0.1)
    assert np.trace(predicted_density_matrix(state, NOISES[-1])).real == pytest.approx(1.0)


def test_correlator_broadcasts_and_validates():
    values = predicted_correlator("phi+", np.zeros((2, 3)), np.array([0.0, 0.5, 1.0]))
    assert values.shape == (2, 3) and np.allclose(values[0], np.cos([0.0, 0.5, 1.0]))
    with pytest.raises(ValidationError, match="finite"):
        predicted_distribution("phi+", math.nan, 0.0)
    with pytest.raises(ValidationError, match="angles"):
        check_chsh_angles("phi+", (0.0, 1.0))
    with pytest.raises(ValidationError, match=r"angles\[b'\]"):
        check_chsh_angles("phi+", (0.0, 1.0, 0.5, math.inf))


def test_closed_forms_are_reexported_from_chsh():
    from qentangle import theory
    from qentangle.protocols import chsh

    for name in ("predicted_density_matrix", "predicted_distribution", "predicted_correlator", "predicted_S"):
        assert getattr(chsh, name) is getattr(theory, name)
