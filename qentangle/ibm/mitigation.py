"""Readout mitigation: calibration circuits and per-endpoint (tensored) confusion matrices.

Four calibration circuits prepare |00>, |01>, |10>, |11> on (Alice, Bob) and measure into the
same 2-bit ``meas`` register as the setting circuits; they run in the same job. Each
endpoint's confusion matrix ``M[read, true]`` is estimated from all calibration shots (the
other qubit's preparation marginalised out), and the joint correction is
``inverse(M_alice) (x) inverse(M_bob)``. The matrices come as a :class:`ReadoutConfusion`,
which also knows how many calibration shots estimated each column: the four estimated flip
probabilities are binomial, and their variances let a mitigated statistic carry the
calibration's own sampling error (see :func:`qentangle.protocols.chsh.chsh_statistic`).

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


class ReadoutConfusion(tuple):
    """``(M_alice, M_bob)``, each ``M[read, true]``, with the calibration shots behind them.

    ``shots[arm, true]`` is the number of calibration shots that estimated column ``true`` of
    that arm's matrix. It unpacks like the plain pair ``(M_alice, M_bob)``.

    >>> m = np.array([[0.98, 0.03], [0.02, 0.97]])
    >>> confusion = ReadoutConfusion(m, m, np.full((2, 2), 2000))
    >>> m_a, m_b = confusion
    >>> (confusion.flip_variances() * 1e6).round(2).tolist()
    [9.92, 14.66, 9.92, 14.66]
    """

    shots: np.ndarray

    def __new__(cls, alice: np.ndarray, bob: np.ndarray, shots: np.ndarray) -> ReadoutConfusion:
        confusion = super().__new__(cls, (np.asarray(alice, float), np.asarray(bob, float)))
        confusion.shots = np.asarray(shots, dtype=float).reshape(2, 2)
        return confusion

    def flip_variances(self) -> np.ndarray:
        """Variances of the estimated flips ``(P_a(1|0), P_a(0|1), P_b(1|0), P_b(0|1))``.

        Binomial ``p (1 - p) / n`` with ``p = (k + 1/2) / (n + 1)`` (k flips in n shots), so a
        flip never seen in calibration still counts as uncertain.
        """
        variances = []
        for arm, m in enumerate(self):
            for true in (0, 1):
                n = self.shots[arm, true]
                p = (m[1 - true, true] * n + 0.5) / (n + 1)
                variances.append(p * (1 - p) / n)
        return np.array(variances)

    def weight_gradients(self, observable: np.ndarray) -> np.ndarray:
        """d w / d flip for ``w = observable @ kron(inv(M_a), inv(M_b))``, shape (4 flips, 4 codes).

        ``w . frequencies`` is the mitigated expectation of ``observable`` (one value per code);
        the flips are ordered as in :meth:`flip_variances`. Uses d inv(M) = -inv(M) dM inv(M).
        """
        inverses = [np.linalg.inv(m) for m in self]
        # dM/dP(1|0) and dM/dP(0|1) for M = [[1 - P(1|0), P(0|1)], [P(1|0), 1 - P(0|1)]]
        steps = (np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, -1.0]]))
        rows = []
        for arm in (0, 1):
            for step in steps:
                d_inverse = -inverses[arm] @ step @ inverses[arm]
                pair = (d_inverse, inverses[1]) if arm == 0 else (inverses[0], d_inverse)
                rows.append(np.asarray(observable, float) @ np.kron(*pair))
        return np.array(rows)


def confusion_from_codes(codes: Sequence[np.ndarray]) -> ReadoutConfusion:
    """Per-endpoint confusion matrices M[read, true] from the four calibration code arrays."""
    if len(codes) != len(CALIBRATION_STATES):
        raise ValidationError(f"calibration: expected 4 code arrays (|00>..|11>), got {len(codes)}")
    counts = np.array([np.bincount(np.asarray(c, dtype=np.intp), minlength=4)[:4] for c in codes], float)
    return confusion_from_counts(counts)


def confusion_from_counts(counts: np.ndarray) -> ReadoutConfusion:
    """Per-endpoint M[read, true] from calibration counts, shape (4 prepared, 4 codes)."""
    counts = np.asarray(counts, dtype=float).reshape(4, 2, 2)  # [prepared, read_a, read_b]
    if np.any(counts.reshape(4, 4).sum(axis=1) <= 0):
        raise ValidationError("calibration: every calibration circuit needs at least one shot")
    matrices, shots = [], []
    for arm in (0, 1):
        m = np.zeros((2, 2))
        for k, prepared in enumerate(CALIBRATION_STATES):
            read = counts[k].sum(axis=1 - arm)  # marginal over the other endpoint's reading
            m[:, prepared[arm]] += read
        shots.append(m.sum(axis=0))
        matrices.append(m / shots[-1])
    for name, m in zip(("alice", "bob"), matrices, strict=True):
        if abs(np.linalg.det(m)) < 1e-6:
            raise ValidationError(f"calibration: {name}'s readout confusion matrix is singular: {m.tolist()}")
    return ReadoutConfusion(matrices[0], matrices[1], np.array(shots))


def mitigated_probabilities(counts: np.ndarray, confusion: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Joint probabilities over codes 0..3 with readout inverted (rows: setting pairs).

    The result can leave the simplex slightly (sampling noise); it is not clipped so that
    correlators stay unbiased.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    freq = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    inverse = np.kron(np.linalg.inv(confusion[0]), np.linalg.inv(confusion[1]))
    return freq @ inverse.T
