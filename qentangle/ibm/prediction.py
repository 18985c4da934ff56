"""What a qubit pair's error figures predict for S and the QBER, as a value with a band.

The figures become a :class:`~qentangle.noise.NoiseConfig` of our own:

- two-qubit depolarizing ``p = 4/3 e2`` (a 2-qubit depolarizing channel with the gate's
  average infidelity e2; thermal relaxation during the gate is part of e2);
- per-arm one-qubit depolarizing ``p = 1 - (1 - 2 e1)^n1`` for the ``n1`` physical ``sx``/``x``
  gates on that arm (``rz`` is virtual and error-free);
- per-arm readout ``(P(1|0), P(0|1))`` from the measurement error.

The closed forms of :mod:`qentangle.theory` (built from the same channel definitions the
simulators use) then give that model's ``S`` at the CHSH angles (the state's optimal ones
unless given) and the Z/X-basis QBER, with and without readout error (what mitigation aims
at). The band scales every error figure by
``1 -+ relative_uncertainty`` (default 0.5: calibrations drift and depolarizing is only a model
of the device's channels); :meth:`Prediction.interval` widens it by the sampling error of a
measurement.

>>> from qentangle.ibm.layout import PairErrors
>>> figures = PairErrors((0, 1), "cz", 0.005, (0.0003, 0.0003), ((0.02, 0.02), (0.02, 0.02)))
>>> p = predict(figures, "phi+")
>>> round(p.S, 3), p.S_low < p.S < p.S_high
(2.58, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qentangle.errors import ValidationError, check_probability, check_range
from qentangle.ibm.layout import NOMINAL_1Q_GATES, PairErrors
from qentangle.noise import NoiseConfig
from qentangle.states import check_state, optimal_chsh_angles
from qentangle.theory import predicted_qber, predicted_S

DEFAULT_RELATIVE_UNCERTAINTY = 0.5


def noise_from_errors(
    figures: PairErrors,
    n1: Sequence[float] = (NOMINAL_1Q_GATES, NOMINAL_1Q_GATES),
    *,
    scale: float = 1.0,
    readout: bool = True,
) -> NoiseConfig:
    """Our NoiseConfig for the pair, every error figure multiplied by ``scale``.

    >>> from qentangle.ibm.layout import PairErrors
    >>> f = PairErrors((0, 1), "ecr", 0.0075, (0.0, 0.0), ((0.01, 0.01), (0.0, 0.0)))
    >>> round(noise_from_errors(f).depolarizing, 12)
    0.01
    """
    scale = check_range("scale", scale, 0.0)
    n_a, n_b = (check_range("n1", n, 0.0) for n in n1)

    def prob(value: float, upper: float = 1.0) -> float:
        return min(upper, max(0.0, value * scale))

    def arm(e1: float, n: float) -> float:
        return 1 - (1 - min(0.5, prob(e1)) * 2) ** n

    readouts = [tuple(prob(p) for p in r) if readout else (0.0, 0.0) for r in figures.readout]
    return NoiseConfig(
        depolarizing=prob(4 / 3 * figures.gate_error),
        depolarizing_a=arm(figures.sx_error[0], n_a),
        depolarizing_b=arm(figures.sx_error[1], n_b),
        readout_a=readouts[0],
        readout_b=readouts[1],
    )


@dataclass(frozen=True)
class Prediction:
    """S and QBER predicted from a pair's error figures, with a band.

    ``S`` includes readout error (compare with S_raw); ``S_mitigated`` leaves it out (compare
    with the readout-mitigated S). ``S_low``/``S_high`` and the ``_mitigated`` pair bound the
    prediction when the error figures are off by ``relative_uncertainty``.
    """

    state: str
    angles: tuple[float, float, float, float]
    S: float
    S_low: float
    S_high: float
    S_mitigated: float
    S_mitigated_low: float
    S_mitigated_high: float
    qber_z: float
    qber_x: float
    relative_uncertainty: float
    noise: NoiseConfig
    n1: tuple[float, float]

    def interval(
        self, stderr: float = 0.0, *, sigmas: float = 3.0, mitigated: bool = False
    ) -> tuple[float, float]:
        """The band widened by ``sigmas`` sampling standard errors of a measured S.

        At the state's optimal angles S is positive; at other angles the band still runs from
        the lower to the higher value, whatever the sign.
        """
        low, high = (self.S_mitigated_low, self.S_mitigated_high) if mitigated else (self.S_low, self.S_high)
        return (low - sigmas * stderr, high + sigmas * stderr)

    def contains(
        self, S: float, stderr: float = 0.0, *, sigmas: float = 3.0, mitigated: bool = False
    ) -> bool:
        """True if a measured ``S`` lies in :meth:`interval`."""
        low, high = self.interval(stderr, sigmas=sigmas, mitigated=mitigated)
        return low <= S <= high

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "state": self.state,
            "angles": list(self.angles),
            "S": self.S,
            "S_band": [self.S_low, self.S_high],
            "S_mitigated": self.S_mitigated,
            "S_mitigated_band": [self.S_mitigated_low, self.S_mitigated_high],
            "qber_z": self.qber_z,
            "qber_x": self.qber_x,
            "relative_uncertainty": self.relative_uncertainty,
            "noise": self.noise.to_dict(),
            "sx_gates_per_arm": list(self.n1),
        }


def chsh_S(state: str, noise: NoiseConfig, angles: Sequence[float] | None = None) -> float:
    """S at ``angles`` (a, a', b, b'; default the state's optimal ones) under ``noise``, exactly.

    Kept for one release: it is :func:`qentangle.theory.predicted_S` with the noise second.
    """
    return predicted_S(state, angles, noise)


def qber(state: str, noise: NoiseConfig, theta: float) -> float:
    """Error rate when both measure at ``theta`` (0: Z basis, pi/2: X basis).

    Kept for one release: it is :func:`qentangle.theory.predicted_qber`.
    """
    return predicted_qber(state, theta, noise)


def predict(
    figures: PairErrors,
    state: str = "phi+",
    n1: Sequence[float] = (NOMINAL_1Q_GATES, NOMINAL_1Q_GATES),
    *,
    angles: Sequence[float] | None = None,
    relative_uncertainty: float = DEFAULT_RELATIVE_UNCERTAINTY,
) -> Prediction:
    """The :class:`Prediction` of ``state`` on the pair described by ``figures``.

    ``n1`` is the number of physical single-qubit gates per arm (count them in the
    transpiled circuits; :class:`~qentangle.ibm.engine.BackendEngine` does). ``angles``
    (a, a', b, b') default to the state's optimal CHSH angles.
    """
    state = check_state(state)
    r = check_probability("relative_uncertainty", relative_uncertainty)
    n1 = (float(n1[0]), float(n1[1]))
    angles = optimal_chsh_angles(state) if angles is None else tuple(float(x) for x in angles)
    if len(angles) != 4 or not all(math.isfinite(x) for x in angles):
        raise ValidationError(f"angles={angles!r} is not valid: expected four finite Bloch angles")
    noise = noise_from_errors(figures, n1)
    bands = {}
    for readout in (True, False):
        values = [
            predicted_S(state, angles, noise_from_errors(figures, n1, scale=scale, readout=readout))
            for scale in (1.0, 1 - r, 1 + r)
        ]
        bands[readout] = (values[0], min(values), max(values))
    return Prediction(
        state=state,
        angles=angles,
        S=bands[True][0],
        S_low=bands[True][1],
        S_high=bands[True][2],
        S_mitigated=bands[False][0],
        S_mitigated_low=bands[False][1],
        S_mitigated_high=bands[False][2],
        qber_z=predicted_qber(state, 0.0, noise),
        qber_x=predicted_qber(state, math.pi / 2, noise),
        relative_uncertainty=r,
        noise=noise,
        n1=n1,
    )


def count_one_qubit_gates(circuits: Sequence[Any], qubits: tuple[int, int]) -> tuple[float, float]:
    """Mean number of physical single-qubit gates (sx, x) on each of ``qubits`` per circuit."""
    totals = np.zeros(2)
    for qc in circuits:
        for instruction in qc.data:
            if instruction.operation.name in ("sx", "x"):
                for k, q in enumerate(qubits):
                    if qc.find_bit(instruction.qubits[0]).index == q:
                        totals[k] += 1
    n = max(1, len(circuits))
    return (float(totals[0] / n), float(totals[1] / n))
