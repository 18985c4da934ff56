"""Closed-form predictions for a noisy Bell pair: density matrix, outcome distributions, E, S, QBER.

Pure numpy, no simulator: the channels are :mod:`qentangle.noise`'s own Kraus operators
(:meth:`~qentangle.noise.NoiseConfig.channels`, the same operators the Aer instructions are
built from), applied to the Bell state in the noise's order; readout error is each endpoint's
confusion matrix on the joint distribution. The tests hold these forms to Aer's exact
density-matrix results over many noise configurations.

Index convention: ``2 * bit_a + bit_b`` (Alice most significant, unlike Qiskit's order).
Measurement at Bloch angle theta is RY(-theta) then Z.

>>> from qentangle.noise import NoiseConfig
>>> round(predicted_S("phi+", noise=NoiseConfig(depolarizing=0.1)), 6)  # 2 sqrt(2) (1 - p)
2.545584
>>> round(predicted_qber("phi+", 0.0, NoiseConfig(depolarizing=0.1)), 6)  # p / 2
0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from qentangle.analysis import CHSH_SIGNS, correlator
from qentangle.errors import ValidationError, check_finite
from qentangle.noise import Channel, NoiseConfig
from qentangle.states import check_state, ideal_correlator, optimal_chsh_angles

_BELL_VECTORS = {  # index 2 * bit_a + bit_b (Alice most significant)
    "phi+": np.array([1, 0, 0, 1]) / math.sqrt(2),
    "phi-": np.array([1, 0, 0, -1]) / math.sqrt(2),
    "psi+": np.array([0, 1, 1, 0]) / math.sqrt(2),
    "psi-": np.array([0, 1, -1, 0]) / math.sqrt(2),
}
_QISKIT_TO_ALICE_FIRST = [0, 2, 1, 3]  # Qiskit index 2*bob + alice -> 2*alice + bob
_IDENTITY = np.eye(2, dtype=complex)


def _ry(angle: np.ndarray | float) -> np.ndarray:
    """RY(angle) = exp(-i angle Y / 2), broadcast over ``angle`` (shape (..., 2, 2))."""
    half = np.asarray(angle, dtype=float) / 2
    c, s = np.cos(half), np.sin(half)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _alice_first(kraus: np.ndarray, qubits: tuple[int, ...]) -> np.ndarray:
    """A channel's Kraus operator as a 4x4 matrix on (Alice, Bob), Alice most significant."""
    if len(qubits) == 1:
        return np.kron(kraus, _IDENTITY) if qubits[0] == 0 else np.kron(_IDENTITY, kraus)
    if tuple(qubits) == (0, 1):  # Qiskit's order: the first qubit is the least significant index
        return kraus[np.ix_(_QISKIT_TO_ALICE_FIRST, _QISKIT_TO_ALICE_FIRST)]
    return kraus  # qubits (1, 0): Alice is already the most significant index


def apply_channel(rho: np.ndarray, channel: Channel) -> np.ndarray:
    """``sum_k K rho K^dagger`` of one noise channel on the pair's 4x4 density matrix.

    >>> from qentangle.noise import NoiseConfig
    >>> (channel,) = NoiseConfig(depolarizing=1.0).channels()
    >>> bool(np.allclose(apply_channel(np.diag([1.0, 0, 0, 0]), channel), np.eye(4) / 4))
    True
    """
    ops = [_alice_first(k, channel.qubits) for k in channel.kraus]
    return sum(k @ rho @ k.conj().T for k in ops)


def predicted_density_matrix(state: str, noise: NoiseConfig | None = None) -> np.ndarray:
    """The pair's 4x4 density matrix after the channels, in closed form (numpy, no Aer).

    Index ``2 * bit_a + bit_b`` (Alice most significant, unlike Qiskit's order). The channels
    are ``noise.channels()``, in their order: two-qubit depolarizing, accidental white noise,
    then on each arm misalignment, dephasing, amplitude damping and depolarizing.

    >>> from qentangle.noise import NoiseConfig
    >>> rho = predicted_density_matrix("phi+", NoiseConfig(depolarizing=0.2))
    >>> float(np.round(rho[0, 3].real, 6))
    0.4
    """
    noise = NoiseConfig() if noise is None else noise
    vector = _BELL_VECTORS[check_state(state)].astype(complex)
    rho = np.outer(vector, vector.conj())
    for channel in noise.channels():
        rho = apply_channel(rho, channel)
    return rho


def predicted_distribution(
    state: str, a: float | np.ndarray, b: float | np.ndarray, noise: NoiseConfig | None = None
) -> np.ndarray:
    """Closed-form joint outcome probabilities (..., 4) at Bloch angles ``a``, ``b``.

    Readout error is applied with each endpoint's confusion matrix. ``a`` and ``b``
    broadcast against each other.

    >>> np.round(predicted_distribution("phi+", 0.0, 0.0), 6).tolist()
    [0.5, 0.0, 0.0, 0.5]
    """
    noise = NoiseConfig() if noise is None else noise
    a_arr, b_arr = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if not (np.all(np.isfinite(a_arr)) and np.all(np.isfinite(b_arr))):
        raise ValidationError("angles a, b must be finite numbers (Bloch radians)")
    rho = predicted_density_matrix(state, noise).reshape(2, 2, 2, 2)
    ua, ub = _ry(-a_arr), _ry(-b_arr)  # measurement rotation RY(-theta), then Z
    joint = np.einsum("...ik,...jl,klmn,...im,...jn->...ij", ua, ub, rho, ua.conj(), ub.conj()).real
    joint = noise.confusion_matrix("a") @ joint @ noise.confusion_matrix("b").T
    return joint.reshape(*joint.shape[:-2], 4)


def predicted_correlator(
    state: str, a: float | np.ndarray, b: float | np.ndarray, noise: NoiseConfig | None = None
) -> float | np.ndarray:
    """Closed-form E(a, b) = P(equal) - P(different) of the noisy pair (numpy, no Aer).

    >>> from qentangle.noise import NoiseConfig
    >>> round(float(predicted_correlator("phi+", 0.0, math.pi / 4, NoiseConfig(depolarizing=0.1))), 6)
    0.636396
    """
    value = correlator(predicted_distribution(state, a, b, noise))
    return float(value) if np.ndim(value) == 0 else value


def check_chsh_angles(state: str, angles: Sequence[float] | None) -> tuple[float, float, float, float]:
    """Validated Bloch angles (a, a', b, b'); the state's optimal ones when ``angles`` is None.

    >>> check_chsh_angles("phi+", None) == optimal_chsh_angles("phi+")
    True
    """
    if angles is None:
        return optimal_chsh_angles(state)
    if isinstance(angles, (str, bytes)) or len(angles) != 4:
        raise ValidationError(f"angles={angles!r} is not valid: expected four Bloch angles (a, a', b, b')")
    names = ("a", "a'", "b", "b'")
    return tuple(check_finite(f"angles[{name}]", value) for name, value in zip(names, angles, strict=True))


def predicted_S(
    state: str = "phi+",
    angles: Sequence[float] | None = None,
    noise: NoiseConfig | None = None,
) -> float:
    """Closed-form S at ``angles`` = (a, a', b, b') (the state's optimal ones by default).

    >>> from qentangle.noise import NoiseConfig
    >>> round(predicted_S("psi-", noise=NoiseConfig(depolarizing=0.25)), 6)
    2.12132
    """
    a, a2, b, b2 = check_chsh_angles(state, angles)
    values = predicted_correlator(state, np.array([a, a, a2, a2]), np.array([b, b2, b, b2]), noise)
    return float(np.asarray(values) @ CHSH_SIGNS)


def predicted_qber(state: str, theta: float, noise: NoiseConfig | None = None) -> float:
    """Error rate when both endpoints measure at Bloch angle ``theta`` (0: Z basis, pi/2: X).

    An error is an outcome pair against the state's ideal correlation at that angle.

    >>> from qentangle.noise import NoiseConfig
    >>> round(predicted_qber("psi-", math.pi / 2, NoiseConfig(dephasing_a=0.1)), 6)
    0.1
    """
    sign = 1.0 if ideal_correlator(state, theta, theta) > 0 else -1.0
    return float((1 - sign * predicted_correlator(state, theta, theta, noise)) / 2)
