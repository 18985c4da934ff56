"""Privacy amplification by Toeplitz hashing, computed exactly with an FFT convolution.

Seed layout (the reference convention of the field): for an ``m x n`` Toeplitz matrix the
seed has ``n + m - 1`` bits and ``T[i, j] = seed[(i - j) mod (n + m - 1)]``. So ``seed[0]`` is
the main diagonal, ``seed[1 .. m-1]`` the diagonals below it and ``seed[n + m - 1 - d]`` the
``d``-th diagonal above it. The output is ``T @ x mod 2``.

With ``v = roll(seed, n - 1)`` the product is ``y[i] = sum_j v[i - j + n - 1] x[j]``, i.e. the
entries ``n - 1 .. n + m - 2`` of the linear convolution ``v * x``, which a cyclic
convolution of any length ``>= n + m - 1`` reproduces without aliasing. Each entry is an
integer at most ``n``; the convolution is done in float64 by FFT and rounded, and the
rounding residual is checked (it must stay below 1/4, which holds with a wide margin for any
``n`` below ~10^12), so the result is exact.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> x = rng.integers(0, 2, 1000, dtype=np.uint8); seed = rng.integers(0, 2, 1000 + 300 - 1)
>>> np.array_equal(toeplitz_hash(x, seed, 300), toeplitz_matrix(seed, 300, 1000) @ x % 2)
True
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import as_bits, check_rng, random_bits
from qentangle.errors import QentangleError, ValidationError, check_positive_int

_MAX_RESIDUAL = 0.25


def toeplitz_matrix(seed: np.ndarray, m: int, n: int) -> np.ndarray:
    """The explicit ``m x n`` Toeplitz matrix of ``seed`` (for tests and small sizes).

    >>> toeplitz_matrix(np.array([1, 0, 0, 1]), 2, 3).tolist()
    [[1, 1, 0], [0, 1, 1]]
    """
    m = check_positive_int("m", m)
    n = check_positive_int("n", n)
    seed = as_bits("seed", seed)
    if seed.size != n + m - 1:
        raise ValidationError(
            f"seed has {seed.size} bits: expected n + m - 1 = {n + m - 1} bits"
        )
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    return seed[(i - j) % (n + m - 1)]


def toeplitz_hash(x: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """``T @ x mod 2`` for the ``m x len(x)`` Toeplitz matrix of ``seed`` (FFT, exact).

    ``m = 0`` returns an empty array. A 10^6-bit input takes a few tens of milliseconds.

    >>> toeplitz_hash(np.array([1, 1, 0]), np.array([1, 0, 0, 1]), 2).tolist()
    [0, 1]
    """
    x = as_bits("x", x, min_length=1)
    m = check_positive_int("m", m, minimum=0)
    n = x.size
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    seed = as_bits("seed", seed)
    if seed.size != n + m - 1:
        raise ValidationError(
            f"seed has {seed.size} bits: expected n + m - 1 = {n + m - 1} bits"
        )
    v = np.roll(seed, n - 1).astype(np.float64)
    # A cyclic convolution of any length >= n + m - 1 has no aliasing on the needed entries.
    length = sfft.next_fast_len(v.size, real=True)
    spectrum = sfft.rfft(v, length, workers=-1)
    spectrum *= sfft.rfft(x.astype(np.float64), length, workers=-1)
    conv = sfft.irfft(spectrum, length, workers=-1)[n - 1 : n - 1 + m]
    rounded = np.rint(conv)
    residual = float(np.max(np.abs(conv - rounded)))
    if residual >= _MAX_RESIDUAL:  # pragma: no cover - needs n far beyond memory
        raise QentangleError(
            f"Toeplitz FFT rounding residual {residual:.3g} too large for n={n}: split the input"
        )
    return (rounded.astype(np.int64) & 1).astype(np.uint8)


def privacy_amplification(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    output_bits: int,
    *,
    rng_alice: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Alice draws a Toeplitz seed, sends it (public, no leakage) and both hash their key.

    Returns ``(alice_final, bob_final)`` of ``output_bits`` bits each.

    >>> rng = np.random.default_rng(0)
    >>> key = rng.integers(0, 2, 500, dtype=np.uint8)
    >>> ch = ClassicalChannel.with_random_key(rng)
    >>> a, b = privacy_amplification(key, key.copy(), ch, 100, rng_alice=rng)
    >>> a.size, bool(np.array_equal(a, b)), ch.disclosed_bits
    (100, True, 0)
    """
    rng_alice = check_rng("rng_alice", rng_alice)
    n = alice_key.size
    m = check_positive_int("output_bits", output_bits, minimum=0)
    if m > n:
        raise ValidationError(
            f"output_bits={m!r} is out of range: expected 0 <= output_bits <= {n}"
        )
    if m == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8)
    seed = random_bits(rng_alice, n + m - 1)
    received = channel.send("alice", "amplify/seed", np.packbits(seed), disclosed_bits=0)
    alice_final = toeplitz_hash(alice_key, seed, m)
    bob_final = toeplitz_hash(bob_key, np.unpackbits(received, count=n + m - 1), m)
    return alice_final, bob_final
