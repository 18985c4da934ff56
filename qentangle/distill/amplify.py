"""Toeplitz hashing, exact: a bit-packed direct product for short outputs, an FFT otherwise.

Seed layout (the reference convention of the field): for an ``m x n`` Toeplitz matrix the
seed has ``n + m - 1`` bits and ``T[i, j] = seed[(i - j) mod (n + m - 1)]``. So ``seed[0]`` is
the main diagonal, ``seed[1 .. m-1]`` the diagonals below it and ``seed[n + m - 1 - d]`` the
``d``-th diagonal above it. The output is ``T @ x mod 2``.

Two exact methods compute it; which one runs only changes the time, never a bit:

* **Direct, bit-packed** (``m <= DIRECT_MAX_ROWS``, e.g. the 50-bit verification tag). With
  ``r[k] = seed[(m - 1 - k) mod (n + m - 1)]``, row ``i`` is ``parity(r[m-1-i : m-1-i+n] & x)``:
  ``m`` AND/XOR sweeps over ``n / 64`` words of the packed key, no transform at all.
* **FFT** (privacy amplification). With ``v = roll(seed, n - 1)`` the product is
  ``y[i] = sum_j v[i - j + n - 1] x[j]``, i.e. the entries ``n - 1 .. n + m - 2`` of the linear
  convolution ``v * x``, which a cyclic convolution of any length ``>= n + m - 1`` reproduces
  without aliasing; the shortest fast real-FFT length ``>= n + m - 1`` is used. Each entry is
  an integer at most ``n``; the float64 convolution is rounded and the rounding residual is
  checked (it must stay below 1/4, which holds with a wide margin for any ``n`` below ~10^12),
  so the result is exact.

The seed's transform is public and the same for both endpoints: a :class:`ToeplitzHasher`
computes it once, and a hasher built from the same seed bits (Bob's copy from the channel)
finds it in a one-entry cache keyed by a digest of those bits (dropped after its second use),
so a block costs one seed transform plus one forward and one inverse transform per endpoint
(six transforms per block before, plus six for the verification tag). The transforms run
inside :func:`~qentangle.distill.workspace.retained_heap`, so their buffers and scratch memory
reuse the pages of the previous call instead of faulting fresh ones in every time.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> x = rng.integers(0, 2, 1000, dtype=np.uint8); seed = rng.integers(0, 2, 1000 + 300 - 1)
>>> np.array_equal(toeplitz_hash(x, seed, 300), toeplitz_matrix(seed, 300, 1000) @ x % 2)
True
"""

from __future__ import annotations

import hashlib
import sys
import threading

import numpy as np
from scipy import fft as sfft

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import as_bits, check_rng, random_bits
from qentangle.distill.workspace import retained_heap
from qentangle.errors import QentangleError, ValidationError, check_positive_int

_MAX_RESIDUAL = 0.25
DIRECT_MAX_ROWS = 256  # outputs up to this many bits use the bit-packed direct product
# Sizes from which the compiled kernels replace their numpy twins (same results).
_COMPILED_MIN_WORK = 1 << 22  # direct product: rows x words of the key
_COMPILED_MIN_ROWS = 1 << 16  # FFT: rows whose rounding and parity are extracted
_LITTLE_ENDIAN = sys.byteorder == "little"


def toeplitz_matrix(seed: np.ndarray, m: int, n: int) -> np.ndarray:
    """The explicit ``m x n`` Toeplitz matrix of ``seed`` (for tests and small sizes).

    >>> toeplitz_matrix(np.array([1, 0, 0, 1]), 2, 3).tolist()
    [[1, 1, 0], [0, 1, 1]]
    """
    m = check_positive_int("m", m)
    n = check_positive_int("n", n)
    seed = as_bits("seed", seed)
    _check_seed(seed, n, m)
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    return seed[(i - j) % (n + m - 1)]


def _check_seed(seed: np.ndarray, n: int, m: int) -> None:
    if seed.size != n + m - 1:
        raise ValidationError(f"seed has {seed.size} bits: expected n + m - 1 = {n + m - 1} bits")


def toeplitz_hash(x: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """``T @ x mod 2`` for the ``m x len(x)`` Toeplitz matrix of ``seed`` (exact).

    ``m = 0`` returns an empty array. Short outputs (``m <= DIRECT_MAX_ROWS``) use the
    bit-packed direct product, longer ones the FFT; both give the same bits.

    >>> toeplitz_hash(np.array([1, 1, 0]), np.array([1, 0, 0, 1]), 2).tolist()
    [0, 1]
    """
    x = as_bits("x", x, min_length=1)
    m = check_positive_int("m", m, minimum=0)
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    seed = as_bits("seed", seed)
    _check_seed(seed, x.size, m)
    return ToeplitzHasher(seed, x.size, m).hash(x)


class ToeplitzHasher:
    """The public hash ``x -> T x mod 2`` of one seed, for keys of ``n`` bits to ``m`` bits.

    Built by each endpoint from its own copy of the (public) seed; the seed's transform is
    computed once and shared between hashers of the same seed bits. ``hash`` reads only the
    key it is given.

    >>> seed = np.array([1, 0, 0, 1], dtype=np.uint8)
    >>> ToeplitzHasher(seed, 3, 2).hash(np.array([1, 1, 0], dtype=np.uint8)).tolist()
    [0, 1]
    """

    def __init__(self, seed: np.ndarray, n: int, m: int) -> None:
        self.n = check_positive_int("n", n)
        self.m = check_positive_int("m", m)
        self._seed = np.asarray(seed, dtype=np.uint8)
        _check_seed(self._seed, self.n, self.m)
        self.direct = self.m <= DIRECT_MAX_ROWS
        self.length = sfft.next_fast_len(self.n + self.m - 1, real=True)

    def hash(self, x: np.ndarray) -> np.ndarray:
        """``T @ x mod 2`` as ``m`` bits (``x``: ``n`` bits, ``uint8`` 0/1)."""
        x = np.asarray(x)
        if x.shape != (self.n,):
            raise ValidationError(f"x has {x.size} bits: expected n = {self.n} bits")
        if self.direct:
            return _direct_hash(x, self._seed, self.m)
        with retained_heap():
            return self._fft_hash(x)

    def _fft_hash(self, x: np.ndarray) -> np.ndarray:
        n, m, length = self.n, self.m, self.length
        key = _seed_key(self._seed, n, m, length)
        spectrum = _seed_spectrum(key, self._seed, n, m, length)
        buffer = np.zeros(length)
        buffer[:n] = x
        product = sfft.rfft(buffer, length, workers=-1, overwrite_x=True)
        del buffer
        product *= spectrum
        _SPECTRA.used(key)
        del spectrum
        conv = sfft.irfft(product, length, workers=-1, overwrite_x=True)[n - 1 : n - 1 + m]
        del product
        out = np.empty(m, dtype=np.uint8)
        residual = _rounded_parity(conv, out)
        if residual >= _MAX_RESIDUAL:  # pragma: no cover - needs n far beyond memory
            raise QentangleError(
                f"Toeplitz FFT rounding residual {residual:.3g} too large for n={n}: split the input"
            )
        return out


class _SpectrumCache(threading.local):
    """The last seed transform of this thread, keyed by ``(n, m, length, digest of the seed)``.

    Kept for the second endpoint's hash of the same seed, then dropped (two uses: Alice's and
    Bob's), so it never stays in memory beyond the block.
    """

    def __init__(self) -> None:
        self.key: tuple[int, int, int, bytes] | None = None
        self.spectrum: np.ndarray | None = None
        self.uses = 0

    def used(self, key: tuple[int, int, int, bytes]) -> None:
        if self.key == key:
            self.uses += 1
            if self.uses >= 2:
                self.key = self.spectrum = None


_SPECTRA = _SpectrumCache()


def _seed_key(seed: np.ndarray, n: int, m: int, length: int) -> tuple[int, int, int, bytes]:
    return n, m, length, hashlib.blake2b(np.packbits(seed).tobytes(), digest_size=32).digest()


def _seed_spectrum(
    key: tuple[int, int, int, bytes], seed: np.ndarray, n: int, m: int, length: int
) -> np.ndarray:
    """``rfft(roll(seed, n - 1), length)``, computed once per seed (public data only)."""
    if _SPECTRA.key == key and _SPECTRA.spectrum is not None:
        return _SPECTRA.spectrum
    _SPECTRA.key = _SPECTRA.spectrum = None  # free the old one before the new is made
    v = np.zeros(length)
    v[: n - 1] = seed[m:]  # v = roll(seed, n - 1), zero-padded
    v[n - 1 : n + m - 1] = seed[:m]
    spectrum = sfft.rfft(v, length, workers=-1, overwrite_x=True)
    _SPECTRA.key, _SPECTRA.spectrum, _SPECTRA.uses = key, spectrum, 0
    return spectrum


def _rounded_parity(conv: np.ndarray, out: np.ndarray) -> float:
    """``out = rint(conv) mod 2``; return the largest rounding residual."""
    if conv.size >= _COMPILED_MIN_ROWS:
        from qentangle.distill._kernels import rounded_parity

        return float(rounded_parity(conv, out))
    rounded = np.rint(conv)
    residual = float(np.max(np.abs(conv - rounded)))
    np.copyto(out, rounded.astype(np.int64) & 1, casting="unsafe")
    return residual


def _packed_words(bits: np.ndarray, words: int) -> np.ndarray:
    """``bits`` packed into ``words`` little-endian 64-bit words (bit k = bit k % 64 of word k // 64)."""
    packed = np.zeros(words * 8, dtype=np.uint8)
    raw = np.packbits(bits, bitorder="little")
    packed[: raw.size] = raw
    words_view = packed.view(np.uint64)
    return words_view if _LITTLE_ENDIAN else words_view.byteswap()  # pragma: no branch


def _direct_hash(x: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """Bit-packed direct product: row ``i`` is ``parity(r[m-1-i : m-1-i+n] & x)``."""
    n = x.size
    # r[k] = seed[(m - 1 - k) mod (n + m - 1)]: seed[m-1], ..., seed[0], seed[L-1], ..., seed[m]
    r = np.concatenate([seed[m - 1 :: -1], seed[: m - 1 : -1]])
    words = -(-n // 64)
    x_words = _packed_words(x, words)
    r_words = _packed_words(r, words + (m - 1) // 64 + 2)
    out = np.empty(m, dtype=np.uint8)
    if m * words >= _COMPILED_MIN_WORK:
        from qentangle.distill._kernels import toeplitz_rows_packed

        toeplitz_rows_packed(r_words, x_words, m, out)
        return out
    acc = np.empty(m, dtype=np.uint64)
    for s in range(m):  # one vectorised sweep over the key's words per output bit
        q, b = divmod(s, 64)
        window = r_words[q : q + words]
        if b:
            window = (window >> np.uint64(b)) | (r_words[q + 1 : q + 1 + words] << np.uint64(64 - b))
        acc[s] = np.bitwise_xor.reduce(window & x_words)
    folded = np.ascontiguousarray(acc[::-1]).view(np.uint8).reshape(m, 8)
    parity = np.bitwise_xor.reduce(folded, axis=1)
    return (np.unpackbits(parity[:, None], axis=1).sum(axis=1) & 1).astype(np.uint8)


def privacy_amplification(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    output_bits: int,
    *,
    rng_alice: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Alice draws a Toeplitz seed, sends it (public, no leakage) and both hash their key.

    Returns ``(alice_final, bob_final)`` of ``output_bits`` bits each. Each endpoint hashes
    its own key with a :class:`ToeplitzHasher` of its own copy of the seed
    (:func:`amplify_alice` / :func:`amplify_bob`).

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
        raise ValidationError(f"output_bits={m!r} is out of range: expected 0 <= output_bits <= {n}")
    if m == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8)
    packed_seed, alice_final = amplify_alice(alice_key, m, rng_alice)
    received = channel.send("alice", "amplify/seed", packed_seed, disclosed_bits=0)
    return alice_final, amplify_bob(bob_key, m, received)


def amplify_alice(
    key: np.ndarray, output_bits: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Alice's step: draw the seed; return ``(packed seed to send, her final key)``."""
    n = key.size
    seed = random_bits(rng, n + output_bits - 1)
    return np.packbits(seed), ToeplitzHasher(seed, n, output_bits).hash(key)


def amplify_bob(key: np.ndarray, output_bits: int, packed_seed: np.ndarray) -> np.ndarray:
    """Bob's step: his final key from his key and the seed he received."""
    n = key.size
    seed = np.unpackbits(np.asarray(packed_seed, dtype=np.uint8), count=n + output_bits - 1)
    return ToeplitzHasher(seed, n, output_bits).hash(key)
