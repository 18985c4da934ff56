"""Eve's information under intercept-resend, against closed forms and an independent computation."""

import itertools
import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qentangle.distill.estimate import binary_entropy
from qentangle.pairs import PairSetup, state_circuit
from qentangle.protocols.attacks import EntanglingProbe, InterceptResend


@pytest.mark.parametrize("fraction", [0.2, 0.6, 1.0])
def test_closed_forms_for_z_and_x_bases(fraction):
    for arm in ("alice", "bob"):
        assert InterceptResend(fraction, arm).information(0.0) == pytest.approx(fraction / 2)
    # A wrong-basis measurement of Alice's photon erases what Bob's photon told Eve.
    assert InterceptResend(fraction, "both").information(0.0) == pytest.approx(fraction - fraction**2 / 2)
    z_only = InterceptResend(fraction, "both", ("z",))
    assert z_only.information(0.0) == pytest.approx(1 - (1 - fraction) ** 2)  # each arm alone informs
    assert z_only.information(math.pi / 2) == pytest.approx(0.0)


def _measurement_as_copy(state, fraction, arm, bases, key_angle):
    """Eve's information from the pure state of photons and Eve's copies, by simulation.

    Measure-and-resend in basis beta is the same channel as a CNOT copy of the photon in beta
    into an ancilla (``EntanglingProbe`` at strength pi) that Eve then reads in the
    computational basis: her result. Eve knows which photons she took and in which bases, so
    her information is the average over those choices of the classical mutual information
    between Alice's outcome at ``key_angle`` and Eve's results.
    """
    arms = ("alice", "bob") if arm == "both" else (arm,)
    total = 0.0
    for picks in itertools.product([None, *bases], repeat=len(arms)):
        weight = math.prod(1 - fraction if p is None else fraction / len(bases) for p in picks)
        chosen = [(a, p) for a, p in zip(arms, picks, strict=True) if p is not None]
        stages = tuple(EntanglingProbe(math.pi, a, p) for a, p in chosen)
        if weight and stages:
            total += weight * _mutual_information(PairSetup(state, stages=stages), key_angle)
    return total


def _mutual_information(setup, key_angle):
    qc = state_circuit(setup)
    qc.ry(-key_angle, 0)
    ancillas = list(range(2, setup.num_qubits))
    joint = Statevector(qc).probabilities([0, *ancillas]).reshape(-1, 2)  # [Eve's results, Alice]
    alice, eve = joint.sum(axis=0), joint.sum(axis=1)
    mask = joint > 1e-15
    return float(np.sum(joint[mask] * np.log2(joint[mask] / np.outer(eve, alice)[mask])))


@pytest.mark.parametrize("state", ["phi+", "psi+"])
@pytest.mark.parametrize("arm", ["alice", "bob", "both"])
@pytest.mark.parametrize(
    ("fraction", "bases", "key_angle"),
    [(0.7, (0.0, math.pi / 2), 0.0), (1.0, (0.0, math.pi / 2), math.pi / 4), (0.5, (0.3, 2.0), 1.1)],
)
def test_information_matches_a_simulation_of_eves_records(state, arm, fraction, bases, key_angle):
    attack = InterceptResend(fraction, arm, bases)
    expected = _measurement_as_copy(state, fraction, arm, bases, key_angle)
    assert attack.information(key_angle, state) == pytest.approx(expected, abs=1e-6)


def test_breidbart_basis_information():
    attack = InterceptResend(1.0, "bob", (math.pi / 4,))
    expected = 1 - binary_entropy((1 + math.cos(math.pi / 4)) / 2)
    assert attack.information(0.0) == pytest.approx(expected)
    assert attack.information(math.pi / 2) == pytest.approx(expected)
