"""Parameter estimation with finite-size confidence bounds.

A random subset of ``k`` positions of the sifted key is disclosed and compared; those bits are
then removed from the key. The error rate of the remaining ``n`` bits is bounded from the
observed one by random sampling without replacement from the population of ``n + k`` bits:

* ``serfling_mu``: the Serfling bound in the form used by Tomamichel, Lim, Gisin & Renner
  (Nat. Commun. 3, 634, 2012),
  ``mu = sqrt((n + k) / (n k) * (k + 1) / k * ln(2 / eps_sec))``;
* ``hypergeometric_upper_errors``: the exact (Clopper-Pearson style) upper confidence limit of
  the hypergeometric law, which never exceeds the Serfling bound at the same failure
  probability and is much tighter at small ``k``.

The same machinery bounds the phase error of a BBM92 key from the bit errors observed in the
other basis (:func:`phase_error_bound`).

>>> round(binary_entropy(0.11), 4)
0.4999
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.errors import ValidationError, check_choice, check_positive_int, check_range
from qentangle.params import Param

EPS_FLOOR = 1e-100
"""Smallest eps accepted: squared, split over estimates and thousands of blocks, it stays a
representable float (below about 1e-150 the failure budget (eps/2)^2 / k underflows to 0)."""
EPS_SEC = Param("eps_sec", float, low=EPS_FLOOR, high=1.0, high_open=True,
                default=1e-10, metavar="EPS",
                help="secrecy parameter of the whole key (trace distance to an ideal key)")
EPS_COR = Param("eps_cor", float, low=EPS_FLOOR, high=1.0, high_open=True,
                default=1e-15, metavar="EPS",
                help="correctness parameter (probability that the keys differ undetected)")


BOUND_METHODS = ("hypergeometric", "serfling")


def binary_entropy(p: float | np.ndarray) -> float | np.ndarray:
    """Binary entropy ``h(p) = -p log2 p - (1-p) log2 (1-p)`` (``h(0) = h(1) = 0``).

    Values above 1/2 are allowed (h is symmetric); arrays are evaluated elementwise.

    >>> binary_entropy(0.5)
    1.0
    >>> binary_entropy(0.0)
    0.0
    """
    arr = np.asarray(p, dtype=float)
    if np.any((arr < 0) | (arr > 1)) or not np.all(np.isfinite(arr)):
        raise ValidationError(f"p={p!r} is out of range: expected 0 <= p <= 1")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -arr * np.log2(arr) - (1 - arr) * np.log2(1 - arr)
    out = np.where((arr == 0) | (arr == 1), 0.0, out)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class ErrorSample:
    """Errors observed in a random sample: ``errors`` out of ``size`` compared bits.

    >>> ErrorSample(errors=3, size=100).rate
    0.03
    """

    errors: int
    size: int

    def __post_init__(self) -> None:
        check_positive_int("size", self.size)
        check_positive_int("errors", self.errors, minimum=0)
        if self.errors > self.size:
            raise ValidationError(
                f"errors={self.errors!r} is out of range: expected 0 <= errors <= size={self.size}"
            )

    @property
    def rate(self) -> float:
        """Observed error rate ``errors / size``."""
        return self.errors / self.size

    def to_dict(self) -> dict[str, float | int]:
        """JSON-safe summary."""
        return {"errors": self.errors, "size": self.size, "rate": self.rate}


def serfling_mu(n: int, k: int, eps: float) -> float:
    """TLGR's statistical deviation ``mu = sqrt((n+k)/(n k) (k+1)/k ln(2/eps))``.

    With probability at least ``1 - eps`` (in TLGR's accounting, where ``eps = eps_sec``)
    the error rate of the ``n`` unsampled bits exceeds the rate observed on the ``k`` sampled
    bits by at most ``mu``.

    >>> round(serfling_mu(10**6, 10**5, 1e-10), 5)
    0.01615
    """
    n = check_positive_int("n", n)
    k = check_positive_int("k", k)
    eps = check_range("eps", eps, 0.0, 1.0, low_open=True, high_open=True)
    return math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2.0 / eps))


def hypergeometric_upper_errors(errors: int, k: int, n: int, failure: float) -> int:
    """Upper confidence limit on the number of errors among ``n`` unsampled bits.

    A population of ``n + k`` bits holds an unknown number ``M`` of errors; a uniformly random
    subset of ``k`` bits showed ``errors`` of them. Returns ``M_up - errors`` where ``M_up`` is
    the largest ``M`` with ``P[X <= errors | M] > failure`` (``X`` hypergeometric), so that
    the number of errors in the remaining ``n`` bits exceeds the returned value with
    probability at most ``failure``, whatever ``M`` is.

    >>> hypergeometric_upper_errors(0, 1000, 1000, 1e-3)
    9
    """
    k = check_positive_int("k", k)
    n = check_positive_int("n", n)
    errors = check_positive_int("errors", errors, minimum=0)
    if errors > k:
        raise ValidationError(f"errors={errors!r} is out of range: expected 0 <= errors <= k={k}")
    failure = check_range("failure", failure, 0.0, 1.0, low_open=True, high_open=True)
    total = n + k
    lo, hi = errors, total - (k - errors)  # feasible totals of errors in the population
    if hypergeom.cdf(errors, total, hi, k) > failure:
        return hi - errors
    # invariant: cdf(lo) > failure >= cdf(hi); cdf decreases with M
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if hypergeom.cdf(errors, total, mid, k) > failure:
            lo = mid
        else:
            hi = mid
    return lo - errors


def phase_error_failure(eps_sec: float, estimates: int = 1) -> float:
    """Failure probability allowed to each of ``estimates`` phase-error bounds of one key.

    TLGR's proof needs the phase-error bound of the whole key to fail with probability at most
    ``(eps_sec / 2)^2``. When it is assembled from ``estimates`` separate bounds (e.g. one per
    basis in BBM92 with both bases as key) that must all hold together, the union bound gives
    each ``(eps_sec / 2)^2 / estimates``.

    >>> f"{phase_error_failure(1e-10):.3g}"
    '2.5e-21'
    >>> phase_error_failure(1e-10, estimates=2) / phase_error_failure(1e-10)
    0.5
    """
    eps_sec = EPS_SEC.check(eps_sec)
    estimates = check_positive_int("estimates", estimates)
    return (eps_sec / 2.0) ** 2 / estimates


def phase_error_bound(
    sample: ErrorSample,
    population: int,
    eps_sec: float,
    *,
    method: str = "hypergeometric",
    estimates: int = 1,
) -> float:
    """Upper bound on the error rate of ``population`` unsampled bits from ``sample``.

    Used for the phase error of a key of ``population`` bits: in BBM92 from the bit errors of
    the other basis, otherwise from the disclosed sample of the key itself (basis symmetry).
    The failure probability follows TLGR's accounting of ``eps_sec``: ``(eps_sec / 2)^2``
    shared by the ``estimates`` bounds that make up one key's phase error
    (:func:`phase_error_failure`; ``estimates=2`` for BBM92 with
    both bases as key, one bound per basis):

    * ``"serfling"``: ``rate + mu`` with TLGR's ``mu`` (:func:`serfling_mu`); this is exactly
      the Serfling tail ``exp(-2 n k^2 mu^2 / ((n+k)(k+1)))`` set to that failure probability;
    * ``"hypergeometric"`` (default): the exact hypergeometric upper confidence limit at the
      same failure probability. Valid for any population, never looser than Serfling, and
      what keeps a Micius-size block (~1700 bits per basis) positive.

    The result is capped at 1/2.

    >>> round(phase_error_bound(ErrorSample(77, 1700), 1700, 1e-10), 4)
    0.1365
    >>> round(phase_error_bound(ErrorSample(77, 1700), 1700, 1e-10, method="serfling"), 4)
    0.2124
    """
    if not isinstance(sample, ErrorSample):
        raise ValidationError(
            f"sample={type(sample).__name__} is not valid: expected an ErrorSample"
        )
    population = check_positive_int("population", population)
    eps_sec = EPS_SEC.check(eps_sec)
    check_choice("method", method, BOUND_METHODS)
    failure = phase_error_failure(eps_sec, estimates)
    if method == "serfling":
        # serfling_mu(eps) is the deviation whose tail is (eps / 2)^2.
        eps = eps_sec if estimates == 1 else 2.0 * math.sqrt(failure)
        bound = sample.rate + serfling_mu(population, sample.size, eps)
    else:
        bound = hypergeometric_upper_errors(sample.errors, sample.size, population, failure)
        bound /= population
    return float(min(0.5, bound))


def sample_size_for(n_total: int, fraction: float) -> int:
    """Number of positions to sample for ``fraction`` of ``n_total`` (at least 1 if > 0).

    >>> sample_size_for(1000, 0.1)
    100
    """
    n_total = check_positive_int("n_total", n_total)
    fraction = check_range("sample_fraction", fraction, 0.0, 1.0, high_open=True)
    if fraction == 0.0:
        return 0
    return int(min(n_total - 1, max(1, round(fraction * n_total))))


class SamplingAlice:
    """Alice's side of the estimation step: chooses and discloses a random sample."""

    def __init__(self, key: np.ndarray, rng: np.random.Generator) -> None:
        self._key = key
        self._rng = check_rng("rng_alice", rng)

    def choose(
        self, channel: ClassicalChannel, size: int
    ) -> tuple[np.ndarray, int, np.ndarray]:
        """Send the sampled positions (as a public seed) and the sampled bits.

        Returns Alice's mask of sampled positions and the two messages as Bob receives them.
        """
        seed = int(self._rng.integers(0, 2**63 - 1))
        seed_received = channel.send("alice", "estimate/positions-seed", seed)
        mask = _sample_mask(self._key.size, size, seed)
        # The sampled bits are removed from the key, so they are no leakage about it.
        sample_received = channel.send(
            "alice", "estimate/sample", np.packbits(self._key[mask]), disclosed_bits=0
        )
        return mask, seed_received, sample_received


class SamplingBob:
    """Bob's side of the estimation step: compares the disclosed sample with his bits."""

    def __init__(self, key: np.ndarray) -> None:
        self._key = key

    def compare(self, channel: ClassicalChannel, seed: int, packed: np.ndarray, size: int) -> int:
        """Return the number of disagreements on the sample and announce it."""
        mask = _sample_mask(self._key.size, size, seed)
        alice_bits = np.unpackbits(packed, count=size)
        errors = int(np.count_nonzero(alice_bits != self._key[mask]))
        channel.send("bob", "estimate/errors", errors)
        return errors


def estimate_qber(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    *,
    sample_size: int,
    rng_alice: np.random.Generator,
) -> tuple[ErrorSample, np.ndarray, np.ndarray]:
    """Disclose a random sample of ``sample_size`` positions and count disagreements.

    Returns ``(sample, alice_rest, bob_rest)``: the observed errors and each side's key with
    the disclosed positions removed. Alice's and Bob's code only see their own key and the
    channel's copies.

    >>> from qentangle.channel import ClassicalChannel
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 1000, dtype=np.uint8); b = a.copy(); b[:50] ^= 1
    >>> ch = ClassicalChannel.with_random_key(rng)
    >>> s, a2, b2 = estimate_qber(a, b, ch, sample_size=200, rng_alice=rng)
    >>> s.size, a2.size, ch.disclosed_bits
    (200, 800, 0)
    """
    size = check_positive_int("sample_size", sample_size)
    if size >= alice_key.size:
        raise ValidationError(
            f"sample_size={size!r} is out of range: expected 1 <= sample_size < {alice_key.size}"
        )
    alice = SamplingAlice(alice_key, rng_alice)
    bob = SamplingBob(bob_key)
    mask_alice, received_seed, received_sample = alice.choose(channel, size)
    # Bob works from the received copies only.
    errors = bob.compare(channel, received_seed, received_sample, size)
    mask_bob = _sample_mask(bob_key.size, size, received_seed)
    return ErrorSample(errors, size), alice_key[~mask_alice], bob_key[~mask_bob]


def _sample_mask(n: int, size: int, seed: int) -> np.ndarray:
    positions = np.random.default_rng(seed).choice(n, size=size, replace=False)
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask
