"""The channel from the pair source to the detectors, as a validated, serialisable value.

A :class:`NoiseConfig` describes the noise; :meth:`NoiseConfig.instructions` turns it into Aer
channel instructions (``QuantumError.to_instruction()``, which survive transpilation, unlike
noise attached to ``id`` gates). Readout error is classical: it is applied to the outcome
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

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from qiskit.circuit import Instruction
from qiskit.circuit.library import RYGate
from qiskit_aer.noise import amplitude_damping_error, depolarizing_error, pauli_error

from qentangle.errors import ValidationError, check_probability, check_range

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_ARMS = ("a", "b")


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
        for name in ("depolarizing", "accidental"):
            object.__setattr__(self, name, check_probability(name, getattr(self, name)))
        for arm in _ARMS:
            for base, upper in (("depolarizing", 4 / 3), ("dephasing", 1), ("amplitude_damping", 1)):
                name = f"{base}_{arm}"
                object.__setattr__(self, name, check_probability(name, getattr(self, name), upper=upper))
            name = f"misalignment_{arm}_deg"
            object.__setattr__(self, name, check_range(name, getattr(self, name), -360, 360))
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

    # ------------------------------------------------------------------ circuits
    def instructions(self) -> list[tuple[Instruction, tuple[int, ...]]]:
        """Aer channel instructions and the qubits they act on (0 = Alice, 1 = Bob)."""
        out: list[tuple[Instruction, tuple[int, ...]]] = []
        if self.depolarizing:
            out.append((depolarizing_error(self.depolarizing, 2).to_instruction(), (0, 1)))
        if self.accidental:
            out.append((depolarizing_error(self.accidental, 2).to_instruction(), (0, 1)))
        for qubit, arm in enumerate(_ARMS):
            misalignment = math.radians(getattr(self, f"misalignment_{arm}_deg"))
            if misalignment:
                out.append((RYGate(2 * misalignment), (qubit,)))
            dephasing = getattr(self, f"dephasing_{arm}")
            if dephasing:
                error = pauli_error([("Z", dephasing), ("I", 1 - dephasing)])
                out.append((error.to_instruction(), (qubit,)))
            damping = getattr(self, f"amplitude_damping_{arm}")
            if damping:
                out.append((amplitude_damping_error(damping).to_instruction(), (qubit,)))
            depolarizing = getattr(self, f"depolarizing_{arm}")
            if depolarizing:
                out.append((depolarizing_error(depolarizing, 1).to_instruction(), (qubit,)))
        return out

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
