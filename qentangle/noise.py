"""The channel from the pair source to the detectors, as a validated, serialisable value.

A :class:`NoiseConfig` describes the noise; :meth:`NoiseConfig.channels` gives each channel once,
as numpy Kraus operators (the closed forms of :mod:`qentangle.theory` are built from them);
:meth:`NoiseConfig.instructions` turns the same operators into Aer channel instructions
(``QuantumError.to_instruction()``, which survive transpilation, unlike noise attached to
``id`` gates). Readout error is classical: it is applied to the outcome
distribution as a confusion matrix per endpoint (Aer's saved probabilities do not include it).

Channels act in this order: two-qubit depolarizing (source), accidental coincidences (white
noise), then on each arm misalignment, dephasing, amplitude damping and depolarizing.

>>> noise = NoiseConfig(depolarizing=0.1, readout_b=(0.02, 0.03))
>>> NoiseConfig.from_dict(noise.to_dict()) == noise
True
>>> NoiseConfig.from_toml(noise.to_toml()) == noise
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from qentangle.errors import ValidationError, check_probability
from qentangle.params import Param

if TYPE_CHECKING:  # pragma: no cover
    from qiskit.circuit import Instruction

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_ARMS = ("a", "b")
#: The noise parameters' ranges, declared once (NoiseConfig checks them; the CLI's options use them).
DEPOLARIZING = Param("depolarizing", float, low=0.0, high=1.0, default=0.0, metavar="P",
                     help="two-qubit depolarizing probability, rho -> (1-P) rho + P I/4")
ACCIDENTAL = Param("accidental", float, low=0.0, high=1.0, default=0.0, metavar="W",
                   help="fraction of accidental (white-noise) coincidences")
DEPHASING = Param("dephasing", float, low=0.0, high=1.0, default=0.0, metavar="P",
                  help="phase-flip probability on each arm")
AMPLITUDE_DAMPING = Param("amplitude_damping", float, low=0.0, high=1.0, default=0.0, metavar="G",
                          help="amplitude-damping probability on each arm")
MISALIGNMENT = Param("misalignment", float, low=-360.0, high=360.0, default=0.0, unit="degrees",
                     metavar="DEG", help="rotation of the photon's polarization")
READOUT = Param("readout", float, low=0.0, high=1.0, default=0.0, metavar="P",
                help="readout flip probability")


@dataclass(frozen=True)
class NoiseConfig:
    """Noise on a Bell pair between source and detectors (all fields default to none).

    Attributes:
        depolarizing: two-qubit depolarizing p (Qiskit: rho -> (1-p) rho + p I/4).
        accidental: fraction of detected pairs that are accidental coincidences (white noise).
        depolarizing_a, depolarizing_b: one-qubit depolarizing p on Alice's / Bob's arm
            (rho -> (1-p) rho + p I/2).
        dephasing_a, dephasing_b: phase-flip probability p (rho -> (1-p) rho + p Z rho Z).
        amplitude_damping_a, amplitude_damping_b: damping probability gamma.
        misalignment_a_deg, misalignment_b_deg: rotation of the photon's polarization in
            degrees (Bloch angle twice that), any finite value.
        readout_a, readout_b: (P(read 1 | 0), P(read 0 | 1)) at each endpoint.

    >>> noise = NoiseConfig(depolarizing=0.1, misalignment_b_deg=2)
    >>> noise.describe()
    'depolarizing=0.1, misalignment_b_deg=2.0'
    >>> NoiseConfig.symmetric_readout(0.05).readout_b  # P(read 1 | 0), P(read 0 | 1)
    (0.05, 0.05)
    >>> NoiseConfig(dephasing_b=1.5)
    Traceback (most recent call last):
        ...
    qentangle.errors.ValidationError: dephasing_b=1.5 is out of range: expected 0 <= dephasing_b <= 1
    """

    depolarizing: float = 0.0
    accidental: float = 0.0
    depolarizing_a: float = 0.0
    depolarizing_b: float = 0.0
    dephasing_a: float = 0.0
    dephasing_b: float = 0.0
    amplitude_damping_a: float = 0.0
    amplitude_damping_b: float = 0.0
    misalignment_a_deg: float = 0.0
    misalignment_b_deg: float = 0.0
    readout_a: tuple[float, float] = (0.0, 0.0)
    readout_b: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for param in (DEPOLARIZING, ACCIDENTAL):
            object.__setattr__(self, param.name, param.check(getattr(self, param.name)))
        for arm in _ARMS:
            name = f"depolarizing_{arm}"
            object.__setattr__(self, name, check_probability(name, getattr(self, name), upper=4 / 3))
            for param in (DEPHASING, AMPLITUDE_DAMPING):
                name = f"{param.name}_{arm}"
                object.__setattr__(self, name, param.check(getattr(self, name), label=name))
            name = f"misalignment_{arm}_deg"
            object.__setattr__(self, name, MISALIGNMENT.check(getattr(self, name), label=name))
            name = f"readout_{arm}"
            object.__setattr__(self, name, _readout_pair(name, getattr(self, name)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def symmetric_readout(cls, p: float, **kwargs: Any) -> NoiseConfig:
        """Both endpoints flip each outcome with probability ``p``."""
        p = check_probability("readout", p)
        return cls(readout_a=(p, p), readout_b=(p, p), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoiseConfig:
        """Build from a dict such as :meth:`to_dict` returns; unknown keys are errors."""
        if not isinstance(data, dict):
            raise ValidationError(f"noise must be a table/dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(
                f"noise.{unknown[0]} is not a noise parameter: expected one of {', '.join(sorted(known))}"
            )
        values = {
            k: tuple(v) if k.startswith("readout") and isinstance(v, (list, tuple)) else v
            for k, v in data.items()
        }
        return cls(**values)

    @classmethod
    def from_toml(cls, text: str) -> NoiseConfig:
        """Parse the ``[noise]`` table (or a bare table) of a TOML document."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValidationError(f"noise TOML is not valid: {error}") from None
        return cls.from_dict(document.get("noise", document))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def to_toml(self) -> str:
        """A ``[noise]`` TOML table that :meth:`from_toml` reads back exactly."""
        lines = ["[noise]"]
        for key, value in self.to_dict().items():
            text = f"[{value[0]!r}, {value[1]!r}]" if isinstance(value, list) else repr(value)
            lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ properties
    @property
    def is_ideal(self) -> bool:
        """True when every channel is the identity."""
        return self == NoiseConfig()

    @property
    def has_readout_error(self) -> bool:
        """True when either endpoint misreads outcomes."""
        return any(self.readout_a) or any(self.readout_b)

    @property
    def has_quantum_noise(self) -> bool:
        """True when some channel acts on the pair (anything but readout)."""
        return NoiseConfig(readout_a=self.readout_a, readout_b=self.readout_b) != self

    def confusion_matrix(self, arm: str) -> np.ndarray:
        """2x2 matrix M[read, true] of one endpoint's readout (``arm`` is 'a' or 'b')."""
        p01, p10 = self.readout_a if arm == "a" else self.readout_b
        return np.array([[1 - p01, p10], [p01, 1 - p10]])

    # ------------------------------------------------------------------ channels
    def channels(self) -> list[Channel]:
        """Every channel that acts on the pair, in order, as Kraus operators (numpy).

        The one definition of the noise: :meth:`instructions` builds the Aer instructions from
        it and :mod:`qentangle.theory` the closed-form density matrix. Channels at zero
        strength are left out.

        >>> [c.name for c in NoiseConfig(depolarizing=0.1, dephasing_b=0.2).channels()]
        ['depolarizing', 'dephasing_b']
        """
        out: list[Channel] = []
        if self.depolarizing:
            out.append(Channel("depolarizing", (0, 1), depolarizing_kraus(self.depolarizing, 2)))
        if self.accidental:
            out.append(Channel("accidental", (0, 1), depolarizing_kraus(self.accidental, 2)))
        for qubit, arm in enumerate(_ARMS):
            misalignment = math.radians(getattr(self, f"misalignment_{arm}_deg"))
            if misalignment:
                out.append(Channel(f"misalignment_{arm}", (qubit,), (ry_matrix(2 * misalignment),)))
            dephasing = getattr(self, f"dephasing_{arm}")
            if dephasing:
                out.append(Channel(f"dephasing_{arm}", (qubit,), dephasing_kraus(dephasing)))
            damping = getattr(self, f"amplitude_damping_{arm}")
            if damping:
                out.append(Channel(f"amplitude_damping_{arm}", (qubit,), amplitude_damping_kraus(damping)))
            depolarizing = getattr(self, f"depolarizing_{arm}")
            if depolarizing:
                out.append(Channel(f"depolarizing_{arm}", (qubit,), depolarizing_kraus(depolarizing, 1)))
        return out

    # ------------------------------------------------------------------ circuits
    def instructions(self) -> list[tuple[Instruction, tuple[int, ...]]]:
        """Aer channel instructions and the qubits they act on (0 = Alice, 1 = Bob)."""
        return list(_instructions(self))

    def describe(self) -> str:
        """One line naming the channels that are on, e.g. 'depolarizing p=0.1'."""
        parts = [
            f"{k}={v}" for k, v in self.to_dict().items() if v not in (0.0, [0.0, 0.0])
        ]
        return ", ".join(parts) if parts else "noiseless"


def _readout_pair(name: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        p01, p10 = value
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name}={value!r} is not valid: expected (P(1|0), P(0|1)), each in [0, 1]"
        ) from None
    return (check_probability(f"{name}[0]", p01), check_probability(f"{name}[1]", p10))


@functools.lru_cache(maxsize=256)
def _instructions(noise: NoiseConfig) -> tuple[tuple[Instruction, tuple[int, ...]], ...]:
    """Built once per noise value: engines build a circuit per (setup, setting pair)."""
    return tuple((channel.instruction(), channel.qubits) for channel in noise.channels())


# ---------------------------------------------------------------------------------- Kraus operators
_PAULIS = (
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.diag([1.0, -1.0]).astype(complex),
)


@dataclass(frozen=True, eq=False)
class Channel:
    """One noise channel: its Kraus operators and the qubits it acts on (0 = Alice, 1 = Bob).

    ``kraus`` act on ``qubits`` in Qiskit's order (the first qubit is the least significant
    index). A single unitary Kraus operator (misalignment) becomes a gate, anything else an
    Aer ``quantum_channel`` instruction (``QuantumError.to_instruction()``, which survives
    transpilation).

    >>> channel = Channel("dephasing_a", (0,), dephasing_kraus(0.1))
    >>> channel.instruction().name, channel.is_trace_preserving()
    ('quantum_channel', True)
    """

    name: str
    qubits: tuple[int, ...]
    kraus: tuple[np.ndarray, ...]

    def is_trace_preserving(self) -> bool:
        """True when sum_k K^dagger K = I (to 1e-12)."""
        total = sum(k.conj().T @ k for k in self.kraus)
        return bool(np.allclose(total, np.eye(total.shape[0]), atol=1e-12))

    def instruction(self) -> Instruction:
        """The Aer instruction of this channel (Qiskit is imported here, not with the module)."""
        from qiskit.circuit.library import UnitaryGate
        from qiskit.quantum_info import Kraus
        from qiskit_aer.noise import QuantumError

        if len(self.kraus) == 1:
            return UnitaryGate(self.kraus[0], label=self.name)
        return QuantumError(Kraus(list(self.kraus))).to_instruction()


def depolarizing_kraus(p: float, num_qubits: int) -> tuple[np.ndarray, ...]:
    """Kraus operators of Qiskit's depolarizing channel rho -> (1 - p) rho + p I / d.

    With I/d = (1/d^2) sum_P P rho P over the d^2 Pauli strings: weight 1 - p + p/d^2 on the
    identity and p/d^2 on every other string (valid up to p = d^2 / (d^2 - 1)).

    >>> len(depolarizing_kraus(0.1, 2)), round(float(abs(depolarizing_kraus(0.1, 1)[0][0, 0]) ** 2), 6)
    (16, 0.925)
    """
    strings = [np.eye(1, dtype=complex)]
    for _ in range(num_qubits):
        strings = [np.kron(pauli, s) for s in strings for pauli in _PAULIS]
    weight = p / len(strings)
    return tuple(
        math.sqrt(max(0.0, 1 - p + weight) if i == 0 else weight) * s for i, s in enumerate(strings)
    )


def dephasing_kraus(p: float) -> tuple[np.ndarray, ...]:
    """Phase flip with probability p: sqrt(1 - p) I, sqrt(p) Z.

    >>> [k.real.round(3).tolist() for k in dephasing_kraus(0.36)]
    [[[0.8, 0.0], [0.0, 0.8]], [[0.6, 0.0], [0.0, -0.6]]]
    """
    return (math.sqrt(1 - p) * _PAULIS[0], math.sqrt(p) * _PAULIS[3])


def amplitude_damping_kraus(gamma: float) -> tuple[np.ndarray, ...]:
    """Amplitude damping (|1> decays to |0> with probability gamma), as Qiskit defines it.

    >>> [k.real.round(3).tolist() for k in amplitude_damping_kraus(0.36)]
    [[[1.0, 0.0], [0.0, 0.8]], [[0.0, 0.6], [0.0, 0.0]]]
    """
    return (
        np.array([[1, 0], [0, math.sqrt(1 - gamma)]], dtype=complex),
        np.array([[0, math.sqrt(gamma)], [0, 0]], dtype=complex),
    )


def ry_matrix(angle: float) -> np.ndarray:
    """RY(angle) = exp(-i angle Y / 2): a polarization rotation by angle / 2.

    >>> ry_matrix(math.pi).real.round(6).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    c, s = math.cos(angle / 2), math.sin(angle / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)
