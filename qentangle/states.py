"""Bell pairs and measurement settings as Qiskit circuits.

Conventions (see docs/architecture.md): qubit 0 is Alice's photon, qubit 1 is Bob's. A setting
is a Bloch angle ``theta`` in the X-Z plane, measured as ``RY(-theta)`` then Z, i.e. the
observable ``cos(theta) Z + sin(theta) X``; the photon's polarizer angle is ``theta / 2``.
Joint outcomes are coded ``2 * bit_a + bit_b`` (00, 01, 10, 11 -> 0, 1, 2, 3).

>>> qc = bell_circuit("psi-")
>>> qc.metadata["state"], qc.num_qubits
('psi-', 2)
>>> round(ideal_correlator("phi+", 0.0, math.pi / 4), 6)
0.707107
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

# The key bases (0 = z, 1 = x) and each Bell state's <ZZ>, <XX> live in qentangle.analysis
# (no Qiskit there); re-exported here, where they always were.
from qentangle.analysis import BASIS_ANGLES, BASIS_NAMES, BELL_ZZ_XX  # noqa: F401
from qentangle.errors import check_choice, check_finite

BELL_STATES: tuple[str, ...] = ("phi+", "phi-", "psi+", "psi-")
ALICE, BOB = 0, 1
_ZZ_XX = BELL_ZZ_XX

# CHSH-optimal Bloch angles (a, a', b, b') giving S = +2*sqrt(2) for each state, with
# S = E(a,b) - E(a,b') + E(a',b) + E(a',b').
_OPTIMAL_ANGLES = {
    "phi+": (0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4),
    "phi-": (0.0, math.pi / 2, -math.pi / 4, -3 * math.pi / 4),
    "psi+": (0.0, math.pi / 2, 3 * math.pi / 4, math.pi / 4),
    "psi-": (0.0, math.pi / 2, 5 * math.pi / 4, 7 * math.pi / 4),
}


def check_state(state: str) -> str:
    """Return the canonical Bell-state name or raise a ValidationError listing them."""
    return check_choice("state", state, BELL_STATES)


def prepare_bell(qc: QuantumCircuit, state: str, alice: int = ALICE, bob: int = BOB) -> None:
    """Append the preparation of ``state`` from |00> to ``qc`` (H, CX, then X/Z)."""
    check_state(state)
    qc.h(alice)
    qc.cx(alice, bob)
    if state.startswith("psi"):
        qc.x(bob)
    if state.endswith("-"):
        qc.z(alice)


def bell_circuit(state: str = "phi+") -> QuantumCircuit:
    """A two-qubit circuit preparing one Bell state, carrying ``metadata['state']``.

    >>> bell_circuit("phi-").count_ops()["cx"]
    1
    """
    qc = QuantumCircuit(2, name=f"bell_{_slug(state)}", metadata={"state": check_state(state)})
    prepare_bell(qc, state)
    return qc


def append_setting(qc: QuantumCircuit, theta: float | Parameter, qubit: int) -> None:
    """Rotate ``qubit`` so that a Z measurement measures at Bloch angle ``theta``."""
    qc.ry(-theta, qubit)


def measurement_circuit(
    state: str, theta_a: float, theta_b: float, *, measure: bool = True
) -> QuantumCircuit:
    """Noiseless Bell pair measured at Bloch angles ``theta_a`` (Alice) and ``theta_b`` (Bob).

    >>> qc = measurement_circuit("phi+", 0.0, math.pi / 2)
    >>> qc.metadata["theta_a"], qc.metadata["theta_b"]
    (0.0, 1.5707963267948966)
    """
    theta_a = check_finite("theta_a", theta_a)
    theta_b = check_finite("theta_b", theta_b)
    qc = bell_circuit(state)
    qc.metadata.update(theta_a=theta_a, theta_b=theta_b)
    append_setting(qc, theta_a, ALICE)
    append_setting(qc, theta_b, BOB)
    if measure:
        qc.measure_all()
    return qc


def parameterised_measurement_circuit(state: str = "phi+") -> QuantumCircuit:
    """The two-setting measurement circuit with free parameters ``theta_a`` and ``theta_b``.

    >>> sorted(p.name for p in parameterised_measurement_circuit().parameters)
    ['theta_a', 'theta_b']
    """
    theta_a, theta_b = Parameter("theta_a"), Parameter("theta_b")
    qc = bell_circuit(state)
    qc.name = f"measure_{_slug(state)}"
    append_setting(qc, theta_a, ALICE)
    append_setting(qc, theta_b, BOB)
    qc.measure_all()
    return qc


def ideal_correlator(state: str, theta_a: float, theta_b: float) -> float:
    """E(a, b) = P(equal) - P(different) for the noiseless ``state``.

    phi+: cos(a - b); phi-: cos(a + b); psi+: -cos(a + b); psi-: -cos(a - b).
    """
    zz, xx = _ZZ_XX[check_state(state)]
    return zz * math.cos(theta_a) * math.cos(theta_b) + xx * math.sin(theta_a) * math.sin(theta_b)


def optimal_chsh_angles(state: str = "phi+") -> tuple[float, float, float, float]:
    """Bloch angles (a, a', b, b') at which ``state`` reaches S = 2*sqrt(2)."""
    return _OPTIMAL_ANGLES[check_state(state)]


def chsh_value(correlators: Sequence[float]) -> float:
    """S = E(a,b) - E(a,b') + E(a',b) + E(a',b') from the four correlators in that order."""
    e_ab, e_ab2, e_a2b, e_a2b2 = correlators
    return e_ab - e_ab2 + e_a2b + e_a2b2


def _slug(state: str) -> str:
    return state.replace("+", "_plus").replace("-", "_minus")
