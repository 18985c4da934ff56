"""What arrives at the detectors: a Bell state, its noise, and any circuit-level attack.

A :class:`PairSetup` is a hashable value; engines cache the outcome distribution of each
(setup, setting pair). :func:`pair_circuit` builds the circuit for one setting pair:
preparation (or an attacker's replacement source), attack stages, noise channels, then the
measurement rotations.

>>> from qentangle.noise import NoiseConfig
>>> setup = PairSetup("phi+", NoiseConfig(depolarizing=0.1))
>>> qc = pair_circuit(setup, 0.0, 0.5, measure=True)
>>> qc.num_qubits, qc.metadata["state"], qc.metadata["theta_b"]
(2, 'phi+', 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from qiskit import ClassicalRegister, QuantumCircuit

from qentangle.errors import ValidationError, check_finite
from qentangle.noise import NoiseConfig
from qentangle.states import ALICE, BOB, append_setting, check_state, prepare_bell


@runtime_checkable
class CircuitStage(Protocol):
    """A hashable circuit-level stage between source and detectors (e.g. an eavesdropper).

    ``num_ancillas`` extra qubits are appended after Alice's and Bob's (indices 2, 3, ...).
    ``replaces_source`` stages prepare the pair themselves instead of the Bell state.
    """

    num_ancillas: int
    replaces_source: bool

    def apply(self, qc: QuantumCircuit, alice: int, bob: int, ancillas: list[int]) -> None:
        """Append this stage's operations to ``qc``."""


@dataclass(frozen=True)
class PairSetup:
    """A Bell ``state`` sent through ``noise`` and optional circuit ``stages``."""

    state: str = "phi+"
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    stages: tuple[CircuitStage, ...] = ()

    def __post_init__(self) -> None:
        check_state(self.state)
        if not isinstance(self.noise, NoiseConfig):
            raise ValidationError(f"noise must be a NoiseConfig, got {type(self.noise).__name__}")
        object.__setattr__(self, "stages", tuple(self.stages))
        for stage in self.stages:
            if not isinstance(stage, CircuitStage):
                raise ValidationError(f"stage {stage!r} does not implement CircuitStage")
        if sum(stage.replaces_source for stage in self.stages) > 1:
            raise ValidationError("stages: at most one stage may replace the source")

    @property
    def num_qubits(self) -> int:
        """Alice's and Bob's qubits plus every stage's ancillas."""
        return 2 + sum(stage.num_ancillas for stage in self.stages)

    @property
    def is_noiseless(self) -> bool:
        """True without noise and without stages (a pure Bell state)."""
        return self.noise.is_ideal and not self.stages


def pair_circuit(
    setup: PairSetup, theta_a: float, theta_b: float, *, measure: bool = False
) -> QuantumCircuit:
    """The circuit of one round at Bloch angles ``theta_a`` and ``theta_b``.

    With ``measure=True`` Alice's and Bob's qubits are measured into a 2-bit register
    ``meas`` (bit 0 = Alice, bit 1 = Bob); otherwise the circuit stops before measurement.
    """
    qc = state_circuit(setup)
    qc.metadata.update(theta_a=check_finite("theta_a", theta_a), theta_b=check_finite("theta_b", theta_b))
    append_setting(qc, theta_a, ALICE)
    append_setting(qc, theta_b, BOB)
    if measure:
        register = ClassicalRegister(2, "meas")
        qc.add_register(register)
        qc.measure([ALICE, BOB], register)
    return qc


def state_circuit(setup: PairSetup) -> QuantumCircuit:
    """The circuit preparing the (noisy, possibly attacked) pair, before any setting."""
    qc = QuantumCircuit(setup.num_qubits, name=f"pair_{setup.state}")
    qc.metadata = {"state": setup.state, "noise": setup.noise.describe()}
    if not any(stage.replaces_source for stage in setup.stages):
        prepare_bell(qc, setup.state, ALICE, BOB)
    next_ancilla = 2
    for stage in setup.stages:
        ancillas = list(range(next_ancilla, next_ancilla + stage.num_ancillas))
        next_ancilla += stage.num_ancillas
        stage.apply(qc, ALICE, BOB, ancillas)
    for instruction, qubits in setup.noise.instructions():
        qc.append(instruction, list(qubits))
    return qc
