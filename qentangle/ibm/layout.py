"""Choose the physical qubit pair for Alice (first) and Bob (second) from a backend's target.

Each coupled pair gets an expected CHSH visibility from its calibrated error figures (two-qubit
gate error, single-qubit ``sx`` errors, readout errors); the pair with the highest visibility
wins. ``qubits=(i, j)`` overrides the choice after checking the pair is coupled.

The visibility is the closed form used for ranking (and as a cross-check of
:mod:`qentangle.ibm.prediction`)::

    V = (1 - 4/3 e2) * prod_arm (1 - 2 e1)^n1 * (1 - p01 - p10)

with e2 the average infidelity of the two-qubit gate (a 2-qubit depolarizing channel of the
same infidelity has p = 4/3 e2), e1 that of ``sx`` (p = 2 e1), ``n1`` physical single-qubit
gates per arm and (p01, p10) the readout flip probabilities. S = 2*sqrt(2) * V.

>>> from qentangle.ibm.backend import resolve_backend
>>> target = resolve_backend("fake_manila").backend.target
>>> figures = choose_pair(target)
>>> figures.qubits in coupled_pairs(target)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qentangle.errors import ValidationError

TWO_QUBIT_GATES: tuple[str, ...] = ("ecr", "cz", "cx")
ONE_QUBIT_GATES: tuple[str, ...] = ("sx", "x")
NOMINAL_1Q_GATES = 3  # sx gates per arm in a transpiled setting circuit (prep + rotation), typical


@dataclass(frozen=True)
class PairErrors:
    """Calibrated error figures of one physical pair (Alice's qubit first).

    Attributes:
        qubits: physical (alice, bob).
        gate: the two-qubit gate's name (ecr, cz or cx).
        gate_error: its average infidelity e2 (best of both directions).
        sx_error: (alice, bob) average infidelity of ``sx``.
        readout: ((p01, p10) alice, (p01, p10) bob); symmetric when the target only gives
            one measurement error per qubit.
        t1, t2: (alice, bob) in seconds, ``None`` where the target has no value.
    """

    qubits: tuple[int, int]
    gate: str
    gate_error: float
    sx_error: tuple[float, float]
    readout: tuple[tuple[float, float], tuple[float, float]]
    t1: tuple[float | None, float | None] = (None, None)
    t2: tuple[float | None, float | None] = (None, None)

    def visibility(self, n1: float | Sequence[float] = NOMINAL_1Q_GATES, *, readout: bool = True) -> float:
        """Closed-form CHSH visibility (S / 2*sqrt(2)); ``n1`` sx gates per arm."""
        counts = (n1, n1) if isinstance(n1, (int, float)) else tuple(n1)
        v = max(0.0, 1 - 4 / 3 * self.gate_error)
        for e1, n in zip(self.sx_error, counts, strict=True):
            v *= max(0.0, 1 - 2 * e1) ** n
        if readout:
            for p01, p10 in self.readout:
                v *= max(0.0, 1 - p01 - p10)
        return v

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "qubits": list(self.qubits),
            "gate": self.gate,
            "gate_error": self.gate_error,
            "sx_error": list(self.sx_error),
            "readout": [list(r) for r in self.readout],
            "t1": list(self.t1),
            "t2": list(self.t2),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairErrors:
        """Inverse of :meth:`to_dict`."""
        return cls(
            qubits=tuple(data["qubits"]),
            gate=data["gate"],
            gate_error=float(data["gate_error"]),
            sx_error=tuple(data["sx_error"]),
            readout=tuple(tuple(r) for r in data["readout"]),
            t1=tuple(data.get("t1", (None, None))),
            t2=tuple(data.get("t2", (None, None))),
        )


def coupled_pairs(target: Any) -> set[tuple[int, int]]:
    """Every ordered pair (i, j) joined by a two-qubit gate in either direction."""
    pairs: set[tuple[int, int]] = set()
    for gate in TWO_QUBIT_GATES:
        if gate in target.operation_names:
            for qargs in target[gate]:
                if qargs is not None and len(qargs) == 2:
                    pairs.add((qargs[0], qargs[1]))
                    pairs.add((qargs[1], qargs[0]))
    return pairs


def pair_errors(target: Any, qubits: tuple[int, int]) -> PairErrors:
    """The :class:`PairErrors` of ``qubits`` (validated against the coupling map)."""
    i, j = check_qubits(target, qubits)
    best: tuple[float, str] | None = None
    for gate in TWO_QUBIT_GATES:
        if gate not in target.operation_names:
            continue
        for qargs in ((i, j), (j, i)):
            props = target[gate].get(qargs)
            if props is not None and props.error is not None and (best is None or props.error < best[0]):
                best = (float(props.error), gate)
    if best is None:
        raise ValidationError(f"qubits={i},{j}: the backend reports no two-qubit gate error for this pair")
    return PairErrors(
        qubits=(i, j),
        gate=best[1],
        gate_error=best[0],
        sx_error=(_one_qubit_error(target, i), _one_qubit_error(target, j)),
        readout=(_readout(target, i), _readout(target, j)),
        t1=(_qubit_prop(target, i, "t1"), _qubit_prop(target, j, "t1")),
        t2=(_qubit_prop(target, i, "t2"), _qubit_prop(target, j, "t2")),
    )


def choose_pair(target: Any, qubits: Sequence[int] | None = None) -> PairErrors:
    """The best coupled pair by closed-form visibility, or ``qubits`` if given (validated).

    Pairs with missing calibration data are skipped; ties go to the lowest indices.
    """
    if qubits is not None:
        return pair_errors(target, tuple(qubits))
    best: tuple[float, tuple[int, int]] | None = None
    for pair in sorted(coupled_pairs(target)):
        try:
            figures = pair_errors(target, pair)
        except ValidationError:
            continue
        v = figures.visibility()
        if best is None or v > best[0] + 1e-15:
            best = (v, pair)
    if best is None:
        raise ValidationError("backend: no coupled qubit pair with calibrated errors (ecr, cz or cx)")
    return pair_errors(target, best[1])


def parse_qubits(text: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"3,5"`` (CLI) or ``(3, 5)`` as a pair of distinct non-negative ints; ``None`` passes.

    >>> parse_qubits("3, 5")
    (3, 5)
    """
    if text is None:
        return None
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = tuple(int(str(p).strip()) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or min(values) < 0 or values[0] == values[1]:
        raise ValidationError(
            f"qubits={text!r} is not valid: expected two distinct physical qubit indices I,J (e.g. 0,1)"
        )
    return values  # type: ignore[return-value]


def check_qubits(target: Any, qubits: Sequence[int]) -> tuple[int, int]:
    """``qubits`` as (i, j) if both exist and are coupled, else a ValidationError naming neighbours."""
    i, j = parse_qubits(tuple(qubits))  # type: ignore[misc]
    n = target.num_qubits
    for q in (i, j):
        if q >= n:
            raise ValidationError(f"qubits={i},{j} is out of range: this backend has qubits 0..{n - 1}")
    pairs = coupled_pairs(target)
    if (i, j) not in pairs:
        neighbours = sorted(b for a, b in pairs if a == i)
        raise ValidationError(
            f"qubits={i},{j} are not coupled on this backend: qubit {i} is coupled to "
            f"{', '.join(map(str, neighbours)) or 'no qubit'}"
        )
    return i, j


def _one_qubit_error(target: Any, qubit: int) -> float:
    for gate in ONE_QUBIT_GATES:
        if gate in target.operation_names:
            props = target[gate].get((qubit,))
            if props is not None and props.error is not None:
                return float(props.error)
    raise ValidationError(f"qubit {qubit}: the backend reports no single-qubit (sx) gate error")


def _readout(target: Any, qubit: int) -> tuple[float, float]:
    props = target["measure"].get((qubit,)) if "measure" in target.operation_names else None
    if props is None or props.error is None:
        raise ValidationError(f"qubit {qubit}: the backend reports no measurement error")
    p01 = getattr(props, "prob_meas1_prep0", None)
    p10 = getattr(props, "prob_meas0_prep1", None)
    if p01 is None or p10 is None:
        p01 = p10 = float(props.error)
    return (float(p01), float(p10))


def _qubit_prop(target: Any, qubit: int, name: str) -> float | None:
    props = target.qubit_properties
    if not props or props[qubit] is None:
        return None
    value = getattr(props[qubit], name, None)
    return None if value is None or not math.isfinite(value) else float(value)
