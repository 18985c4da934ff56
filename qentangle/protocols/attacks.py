"""Eavesdroppers as circuit-level stages between the source and the detectors.

Each attack is a frozen, hashable :class:`~qentangle.pairs.CircuitStage`, so the engine
computes the attacked outcome distribution exactly like any other channel.

- :class:`InterceptResend`: on a fraction ``f`` of pairs Eve measures the photon on an arm in
  one of her bases (Z and X at random by default) and resends what she saw. Full
  intercept-resend on one arm gives BBM92 QBER 1/4 and E91 |S| = sqrt(2); a fraction f gives
  QBER f/4.
- :class:`EntanglingProbe`: Eve couples an ancilla to the photon with a controlled rotation of
  angle ``strength`` (pi = a CNOT copy in her basis) and keeps the ancilla.
- :class:`FakeSource`: Eve replaces the source with separable pairs, classically correlated
  in one basis (perfect there, random in the conjugate basis); she knows every bit.

:func:`eve_information` reports what Eve learns about Alice's key bit.

>>> from qentangle.pairs import PairSetup
>>> setup = PairSetup("phi+", stages=(InterceptResend(1.0, "bob"),))
>>> round(eve_information(setup, 0.0), 3)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit_aer.noise import kraus_error

from qentangle.distill.estimate import binary_entropy
from qentangle.engines import ExactEngine
from qentangle.errors import ValidationError, check_choice, check_finite, check_probability
from qentangle.pairs import PairSetup, state_circuit
from qentangle.states import BASIS_ANGLES, BASIS_NAMES, ideal_correlator

ARMS = ("alice", "bob", "both")
ATTACKS = ("intercept-resend", "probe", "fake-source")
_BASIS_ANGLE_OF = dict(zip(BASIS_NAMES, BASIS_ANGLES, strict=True))


def _arm_qubits(arm: str, alice: int, bob: int) -> list[int]:
    return {"alice": [alice], "bob": [bob], "both": [alice, bob]}[arm]


def _bases(value: tuple) -> tuple[float, ...]:
    angles = tuple(_BASIS_ANGLE_OF.get(b, b) if isinstance(b, str) else b for b in value)
    for b in angles:
        if isinstance(b, str):
            raise ValidationError(f"bases: {b!r} is not valid: expected 'z', 'x' or a Bloch angle")
    if not angles:
        raise ValidationError("bases must name at least one basis")
    return tuple(check_finite("bases", b) for b in angles)


@dataclass(frozen=True)
class InterceptResend:
    """Measure-and-resend on a ``fraction`` of pairs, on ``arm``, in random ``bases``.

    Intercepting half of Bob's photons in Z or X teaches Eve a quarter of a bit per Z key bit
    (``f / 2`` on one arm) and shows up as a QBER of ``f / 4``:

    >>> attack = InterceptResend(0.5, "bob")
    >>> str(attack), attack.information(key_angle=0.0)
    ('intercept-resend (fraction 0.5, arm bob, bases 0,1.571)', 0.25)

    Pass it to a protocol as ``attacks=(attack,)``, e.g. ``run_bbm92(10**5, attacks=(attack,))``.
    """

    fraction: float = 1.0
    arm: str = "bob"
    bases: tuple = ("z", "x")
    num_ancillas: int = 0
    replaces_source: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "fraction", check_probability("eve_fraction", self.fraction))
        check_choice("eve_arm", self.arm, ARMS)
        object.__setattr__(self, "bases", _bases(tuple(self.bases)))

    def __str__(self) -> str:
        bases = ",".join(f"{b:.4g}" for b in self.bases)
        return f"intercept-resend (fraction {self.fraction:g}, arm {self.arm}, bases {bases})"

    def kraus(self) -> list[np.ndarray]:
        """Kraus operators of the one-photon channel (identity with weight 1 - fraction)."""
        ops = [math.sqrt(1 - self.fraction) * np.eye(2)]
        weight = math.sqrt(self.fraction / len(self.bases))
        for beta in self.bases:
            observable = np.array([[math.cos(beta), math.sin(beta)], [math.sin(beta), -math.cos(beta)]])
            for sign in (1, -1):
                ops.append(weight * (np.eye(2) + sign * observable) / 2)
        return ops

    def apply(self, qc: QuantumCircuit, alice: int, bob: int, ancillas: list[int]) -> None:
        instruction = kraus_error(self.kraus()).to_instruction()
        for qubit in _arm_qubits(self.arm, alice, bob):
            qc.append(instruction, [qubit])

    def information(self, key_angle: float, state: str = "phi+") -> float:
        """Mutual information (bits) between Eve's results and Alice's key bit, per sifted bit.

        Eve knows which photons she measured and in which basis; Alice's bit depends on her
        results as follows. If Eve measured *Alice's* photon at beta, Alice measures Eve's
        resent eigenstate: her bit equals Eve's result with probability (1 + cos(beta - k)) / 2,
        whatever Eve did to Bob's photon. If Eve measured only *Bob's* photon, Alice's photon
        collapsed with it: the agreement is (1 + E(k, beta)) / 2, E being the ideal state's
        correlator. Each case gives 1 - h(agreement) bits, averaged over Eve's bases, so with
        intercept probability f per arm::

            alice: f I_A        bob: f I_B        both: f I_A + (1 - f) f I_B

        (Z/X bases, Z key: f/2 on one arm, f - f^2/2 on both, 1/2 at f = 1: a wrong-basis
        measurement of Alice's photon erases what Bob's photon told Eve.)
        """
        agree_alice = [(1 + math.cos(beta - key_angle)) / 2 for beta in self.bases]
        agree_bob = [(1 + ideal_correlator(state, key_angle, beta)) / 2 for beta in self.bases]
        info_alice = 1 - float(np.mean(binary_entropy(np.clip(agree_alice, 0.0, 1.0))))
        info_bob = 1 - float(np.mean(binary_entropy(np.clip(agree_bob, 0.0, 1.0))))
        f = self.fraction
        if self.arm == "alice":
            return f * info_alice
        if self.arm == "bob":
            return f * info_bob
        return f * info_alice + (1 - f) * f * info_bob


@dataclass(frozen=True)
class EntanglingProbe:
    """Eve's ancilla, rotated by ``strength`` conditioned on the photon in basis ``basis``.

    A weak probe (``strength`` near 0) learns little and disturbs little; ``pi`` is a full
    CNOT copy in ``basis``. One ancilla per attacked arm:

    >>> probe = EntanglingProbe(strength=0.5, arm="both")
    >>> str(probe), probe.num_ancillas
    ('entangling probe (strength 0.5 rad, arm both, basis 0)', 2)
    """

    strength: float = math.pi / 4
    arm: str = "bob"
    basis: float = 0.0
    replaces_source: bool = False

    def __post_init__(self) -> None:
        strength = check_finite("probe strength", self.strength)
        if not 0 <= strength <= math.pi:
            raise ValidationError(
                f"probe strength={strength!r} is out of range: expected 0 <= strength <= pi"
            )
        object.__setattr__(self, "strength", strength)
        check_choice("eve_arm", self.arm, ARMS)
        object.__setattr__(self, "basis", check_finite("basis", self.basis))

    def __str__(self) -> str:
        return f"entangling probe (strength {self.strength:.4g} rad, arm {self.arm}, basis {self.basis:.4g})"

    @property
    def num_ancillas(self) -> int:  # type: ignore[override]
        """One ancilla per attacked arm."""
        return 2 if self.arm == "both" else 1

    def apply(self, qc: QuantumCircuit, alice: int, bob: int, ancillas: list[int]) -> None:
        for qubit, ancilla in zip(_arm_qubits(self.arm, alice, bob), ancillas, strict=True):
            qc.ry(-self.basis, qubit)
            qc.cry(self.strength, qubit, ancilla)
            qc.ry(self.basis, qubit)


@dataclass(frozen=True)
class FakeSource:
    """Separable pairs, equal (or opposite, for psi states) in basis ``basis``; Eve keeps a copy.

    The pairs replace the entangled source, so they agree perfectly in ``basis`` but not in
    the conjugate one, and a Bell test cannot exceed 2:

    >>> source = FakeSource()
    >>> str(source), source.replaces_source
    ('fake source (correlated in basis 0)', True)
    """

    basis: float = 0.0
    num_ancillas: int = 1
    replaces_source: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "basis", check_finite("basis", self.basis))

    def __str__(self) -> str:
        return f"fake source (correlated in basis {self.basis:.4g})"

    def apply(self, qc: QuantumCircuit, alice: int, bob: int, ancillas: list[int]) -> None:
        (eve,) = ancillas
        qc.h(eve)
        qc.cx(eve, alice)
        qc.cx(eve, bob)
        if str(qc.metadata.get("state", "phi+")).startswith("psi"):
            qc.x(bob)
        qc.ry(self.basis, alice)
        qc.ry(self.basis, bob)


def make_attack(kind: str, *, fraction: float = 1.0, arm: str = "bob", basis: float = 0.0):
    """The attack the CLI names: ``fraction`` is the intercepted fraction or probe strength."""
    kind = check_choice("eve", kind, ATTACKS)
    if kind == "intercept-resend":
        return InterceptResend(fraction, arm)
    if kind == "probe":
        return EntanglingProbe(fraction * math.pi, arm, basis)
    return FakeSource(basis)


def describe_attacks(attacks) -> str:
    """One line naming the attacks of a run ('none' without any)."""
    return "; ".join(str(a) for a in attacks) or "none"


def eve_information(setup: PairSetup, key_angle: float) -> float:
    """What Eve knows about Alice's key bit measured at Bloch angle ``key_angle`` (bits).

    Intercept-resend: mutual information of Eve's measurement results. Ancilla attacks (probe,
    fake source): the Holevo quantity chi(A:E) of Alice's outcome and Eve's ancillas, computed
    from Aer's density matrix.
    """
    key_angle = check_finite("key_angle", key_angle)
    information = sum(
        stage.information(key_angle, setup.state)
        for stage in setup.stages
        if isinstance(stage, InterceptResend)
    )
    if any(stage.num_ancillas for stage in setup.stages):
        information += _holevo_alice_eve(setup, key_angle)
    return float(min(1.0, information))


def _holevo_alice_eve(setup: PairSetup, key_angle: float) -> float:
    qc = state_circuit(setup)
    qc.ry(-key_angle, 0)
    ancillas = list(range(2, setup.num_qubits))
    qc.save_density_matrix([0, *ancillas])
    rho = ExactEngine().density_matrix_of(qc)
    blocks = [rho[a::2, a::2] for a in (0, 1)]  # Alice's qubit is the least significant index
    probabilities = [float(np.real(np.trace(b))) for b in blocks]
    conditional = sum(p * _entropy(b / p) for p, b in zip(probabilities, blocks, strict=True) if p > 1e-12)
    return max(0.0, _entropy(blocks[0] + blocks[1]) - conditional)


def _entropy(rho: np.ndarray) -> float:
    eigenvalues = np.clip(np.linalg.eigvalsh(rho), 0.0, None)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(-np.sum(eigenvalues * np.log2(eigenvalues)))
