"""Readout mitigation on a device: the calibration circuits (the numpy part lives in analysis).

Four calibration circuits prepare |00>, |01>, |10>, |11> on (Alice, Bob) and measure into the
same 2-bit ``meas`` register as the setting circuits; they run in the same job. Each
endpoint's confusion matrix ``M[read, true]`` is estimated from all calibration shots (the
other qubit's preparation marginalised out), and the joint correction is
``inverse(M_alice) (x) inverse(M_bob)``. The matrices come as a :class:`ReadoutConfusion`,
which also knows how many calibration shots estimated each column: the four estimated flip
probabilities are binomial, and their variances let a mitigated statistic carry the
calibration's own sampling error (see :func:`qentangle.analysis.chsh_statistic`).

The estimation and inversion (:class:`~qentangle.analysis.ReadoutConfusion`,
:func:`~qentangle.analysis.confusion_from_codes`, :func:`~qentangle.analysis.confusion_from_counts`,
:func:`~qentangle.analysis.mitigated_probabilities`) live in :mod:`qentangle.analysis`, below
both the protocols and this package; they are re-exported here for one release.

>>> import numpy as np
>>> from qentangle.analysis import confusion_from_codes
>>> codes = [np.array([0] * 95 + [2] * 5), np.array([1] * 100), np.array([2] * 90 + [0] * 10),
...          np.array([3] * 100)]
>>> m_a, m_b = confusion_from_codes(codes)
>>> m_a.round(3).tolist(), m_b.round(3).tolist()
([[0.975, 0.05], [0.025, 0.95]], [[1.0, 0.0], [0.0, 1.0]])
"""

from __future__ import annotations

from qiskit import ClassicalRegister, QuantumCircuit

from qentangle.analysis import (  # noqa: F401  (re-exported from their old home for one release)
    CALIBRATION_STATES,
    ReadoutConfusion,
    confusion_from_codes,
    confusion_from_counts,
    mitigated_probabilities,
)
from qentangle.states import ALICE, BOB


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
