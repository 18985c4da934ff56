"""Readout mitigation: calibration circuits and per-endpoint (tensored) confusion matrices.

Four calibration circuits prepare |00>, |01>, |10>, |11> on (Alice, Bob) and measure into the
same 2-bit ``meas`` register as the setting circuits; they run in the same job. Each
endpoint's confusion matrix ``M[read, true]`` is estimated from all calibration shots (the
other qubit's preparation marginalised out), and the joint correction is
``inverse(M_alice) (x) inverse(M_bob)``.

>>> import numpy as np
>>> codes = [np.array([0] * 95 + [2] * 5), np.array([1] * 100), np.array([2] * 90 + [0] * 10),
...          np.array([3] * 100)]
>>> m_a, m_b = confusion_from_codes(codes)
>>> m_a.round(3).tolist(), m_b.round(3).tolist()
([[0.975, 0.05], [0.025, 0.95]], [[1.0, 0.0], [0.0, 1.0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit

from qentangle.errors import ValidationError
from qentangle.states import ALICE, BOB

#: Prepared (bit_a, bit_b) of each calibration circuit, in order.
CALIBRATION_STATES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))


def calibration_circuits() -> list[QuantumCircuit]:
    """The four circuits preparing |bit_a bit_b> and measuring into ``meas`` (bit 0 = Alice)."""
    circuits = []
    for bit_a, bit_b in CALIBRATION_STATES:
        qc = QuantumCircuit(2, name=f"cal_{bit_a}{bit_b}", metadata={"calibration": [bit_a, bit_b]})
        if bit_a:
            qc.x(ALICE)
        if bit_b:
            qc.x(BOB)
        register = ClassicalRegister(2, "meas")
        qc.add_register(register)
        qc.measure([ALICE, BOB], register)
        circuits.append(qc)
    return circuits


def confusion_from_codes(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-endpoint confusion matrices M[read, true] from the four calibration code arrays."""
    if len(codes) != len(CALIBRATION_STATES):
        raise ValidationError(f"calibration: expected 4 code arrays (|00>..|11>), got {len(codes)}")
    counts = np.array([np.bincount(np.asarray(c, dtype=np.intp), minlength=4)[:4] for c in codes], float)
    return confusion_from_counts(counts)


def confusion_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-endpoint M[read, true] from calibration counts, shape (4 prepared, 4 codes)."""
    counts = np.asarray(counts, dtype=float).reshape(4, 2, 2)  # [prepared, read_a, read_b]
    if np.any(counts.reshape(4, 4).sum(axis=1) <= 0):
        raise ValidationError("calibration: every calibration circuit needs at least one shot")
    matrices = []
    for arm in (0, 1):
        m = np.zeros((2, 2))
        for k, prepared in enumerate(CALIBRATION_STATES):
            read = counts[k].sum(axis=1 - arm)  # marginal over the other endpoint's reading
            m[:, prepared[arm]] += read
        matrices.append(m / m.sum(axis=0, keepdims=True))
    for name, m in zip(("alice", "bob"), matrices, strict=True):
        if abs(np.linalg.det(m)) < 1e-6:
            raise ValidationError(f"calibration: {name}'s readout confusion matrix is singular: {m.tolist()}")
    return matrices[0], matrices[1]


def mitigated_probabilities(counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Joint probabilities over codes 0..3 with readout inverted (rows: setting pairs).

    The result can leave the simplex slightly (sampling noise); it is not clipped so that
    correlators stay unbiased.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    freq = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    inverse = np.kron(np.linalg.inv(confusion[0]), np.linalg.inv(confusion[1]))
    return freq @ inverse.T
