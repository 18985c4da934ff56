"""One-way reconciliation by LDPC syndrome decoding (Slepian-Wolf), with blind retries.

The key is split into frames of about ``frame_bits`` bits (default ``2**17``, so a 10^5-bit key
is one frame: longer frames decode closer to capacity). For each frame Alice sends the syndrome
``H x_A`` of a public ``m x n`` parity-check matrix ``H`` and a 32-bit random linear hash of the
frame; Bob decodes the error pattern ``e = x_A + x_B`` from ``H x_A + H x_B`` and flips it.

Codes. ``m = ceil(f0 n h(Q))`` for the estimated QBER ``Q`` (``f0 = 1.05``; 1.08 below 2.5 %
QBER, where the codes' rates near 0.9 are further from capacity). The variable-degree
distribution is an edge-perspective distribution optimised for the binary symmetric channel by
density evolution (Elkouss, Leverrier, Alleaume, Boutros, ISIT 2009) for design rate 0.9, 0.8,
0.7, 0.6, 0.55 or 0.5: the smallest design rate not below ``1 - m/n - 0.01`` (rate 0.9 above
that; see :func:`degree_distribution` for why not the nearest one below). Check degrees are
concentrated (two consecutive values) and follow from ``m``, so the rate is exactly ``1 - m/n``.
Up to ``m - 1`` degree-2 variables form a staircase (variable ``k`` joins checks ``pi(k)`` and
``pi(k+1)`` of a random check order ``pi``), closing no cycle among themselves; the other edges
are a configuration-model matching with repeated edges re-drawn (short cycles are not removed).
Matrices are deterministic in ``(n, m, public seed)`` and cached.

Decoder. A compiled (numba) layered belief-propagation decoder on flat CSR arrays
(:class:`SyndromeDecoder`): exact product-sum check rule evaluated in the ``phi`` domain
(``phi(x) = -log tanh(x/2)`` from a table, linear interpolation), checks processed one after
the other so each uses the posteriors the checks before it just updated (about half the
iterations of the flooding schedule of ``ldpc.BpDecoder`` used before, and several times
faster per iteration). Channel prior ``p(e_i = 1) = Q`` (per bit after retries); at most
100 iterations, stopping as soon as the hard decision reproduces the syndrome, or, as a
failure, after ``PATIENCE`` iterations without fewer unsatisfied checks. A frame is accepted
only if the decision also matches Alice's hash, so a wrong decoding that satisfies the
syndrome is caught (a kept frame is wrong with probability ``2**-32``).

Retries (blind rate adaptation: the revealed positions become shortened bits). For every
failed frame Bob publicly asks for Alice's bits at the ``ceil(0.01 n h(Q))`` positions where
his last decoding was least reliable (smallest ``|LLR|``; the positions depend on the error
syndrome only, not on Alice's key); Alice reveals them, Bob fixes those error bits and decodes
again, continuing from the messages of his last decoding (warm start, ``RETRY_ITER``
iterations), so small steps cost little time and keep f close to what the frame needed.
After ``max_retries`` (12) a frame is discarded by both sides (which frames is public). Every
syndrome, hash and revealed bit is counted as disclosed; all frames of a step travel in one
message. Measured efficiency and frame
error rate: ``benchmarks/distill.py --ldpc-only``.

Underestimated QBER. Retries alone do not rescue a code sized for a QBER well below the true
one: shortening a code far below its rate decodes poorly (its check degrees stay those of the
high rate). Measured on 27,000-bit frames at a true QBER of 0.96 % with a code sized for an
estimate of 0.5 %: twelve retries failed every frame of three runs, and revealing
geometrically more bits, up to what 1.46 % QBER needs, still failed two of three. So when the
caller gives an upper confidence limit ``qber_max`` (the chain uses the 1e-6 limit of its
sample), a frame still failing after ``FALLBACK_AFTER`` (8) retries gets a second syndrome, of
a code sized for ``qber_max`` (the first stays counted as leaked), and retries again. This costs
disclosure only in that rare case; the frame is kept.

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> rng = np.random.default_rng(9)
>>> a = rng.integers(0, 2, 4000, dtype=np.uint8)
>>> b = a ^ (rng.random(4000) < 0.02).astype(np.uint8)
>>> ch = ClassicalChannel.with_random_key(rng)
>>> out = ldpc_reconcile(a, b, ch, qber=0.02, rng_alice=rng, frame_bits=4000)
>>> bool(np.array_equal(out.bob_key[out.kept], a[out.kept])), out.leaked_bits == ch.disclosed_bits
(True, True)
>>> out.frames, out.failed_frames
(1, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.distill.estimate import binary_entropy
from qentangle.errors import ValidationError, check_positive_int, check_range

DEFAULT_FRAME_BITS = 1 << 17
CODE_SEED = 0x51D7  # public seed of the code family (so codes are cached across calls)
INITIAL_F = 1.05
# Below these QBERs the codes have rates near or above 0.9, where the rate-0.9 distribution is
# further from capacity: a first syndrome of 1.05 n h(Q) would nearly always need retries.
INITIAL_F_BANDS = ((0.025, 1.08),)
RETRY_F_STEP = 0.01
FALLBACK_AFTER = 8  # retries before a second, lower-rate syndrome when the QBER may be higher
VERIFY_BITS = 32
MAX_ITER = 100
PATIENCE = 12  # a decoding stops, failed, after this many iterations without a new best
RETRY_ITER = 15  # iterations of a warm retry (it continues from the last decoding)

# Edge-perspective variable-degree distributions lambda_d (fraction of edges on degree-d
# variables) optimised for the BSC, by design rate (Elkouss et al. 2009).
DEGREE_DISTRIBUTIONS: dict[float, dict[int, float]] = {
    0.9: {2: 0.07689, 3: 0.28096, 5: 0.08933, 9: 0.19620, 12: 0.30631, 21: 0.05031},
    0.8: {2: 0.09420, 3: 0.18088, 6: 0.11972, 7: 0.08550, 8: 0.09816, 17: 0.07194, 26: 0.34960},
    0.7: {2: 0.05343, 3: 0.29406, 6: 0.00896, 9: 0.15571, 12: 0.12189, 25: 0.19872,
          46: 0.09572, 62: 0.02741, 65: 0.04056, 73: 0.00354},
    0.6: {2: 0.11040, 3: 0.20804, 8: 0.14163, 9: 0.14858, 26: 0.14438, 27: 0.08909,
          46: 0.00748, 71: 0.15038},
    0.55: {2: 0.16880, 3: 0.20994, 6: 0.18095, 15: 0.03846, 16: 0.02635, 18: 0.23454,
           19: 0.05815, 31: 0.08280},
    0.5: {2: 0.14438, 3: 0.19026, 4: 0.01836, 5: 0.00233, 6: 0.04697, 8: 0.05394, 9: 0.05590,
          10: 0.01290, 11: 0.00162, 14: 0.06159, 15: 0.13115, 17: 0.01481, 47: 0.00879,
          49: 0.00650, 55: 0.00210, 56: 0.00099, 57: 0.11178, 58: 0.06238, 59: 0.05094,
          66: 0.02230},
}


def degree_distribution(rate: float) -> dict[int, float]:
    """The distribution used for code rate ``rate``: smallest design rate >= ``rate - 0.01``.

    A distribution used below its design rate has lower check degrees than designed, which
    costs little; used above it, the check degrees grow and decoding degrades fast (measured:
    at rate 0.883 the rate-0.8 distribution failed 2 frames in 6 where the rate-0.9 one
    decoded all). Rates above 0.91 get the rate-0.9 distribution.

    >>> sorted(degree_distribution(0.91))[:2], max(degree_distribution(0.3))
    ([2, 3], 66)
    >>> max(degree_distribution(0.85)), max(degree_distribution(0.805))
    (21, 26)
    """
    fit = [r for r in DEGREE_DISTRIBUTIONS if r >= rate - 0.01]
    return DEGREE_DISTRIBUTIONS[min(fit) if fit else max(DEGREE_DISTRIBUTIONS)]


def _variable_degrees(n: int, m: int, lam: dict[int, float]) -> np.ndarray:
    degrees = np.array(sorted(lam))
    node = np.array([lam[d] for d in degrees]) / degrees  # node perspective, unnormalised
    counts = np.floor(node / node.sum() * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    return np.minimum(np.repeat(degrees, counts), m)


@lru_cache(maxsize=64)
def parity_check_matrix(n: int, m: int, seed: int) -> sp.csr_matrix:
    """The public ``m x n`` LDPC parity-check matrix for rate ``1 - m/n`` (cached, deterministic).

    >>> h = parity_check_matrix(1000, 200, 1)
    >>> h.shape, int(h.sum(axis=0).min()) >= 2, int(h.data.max())
    ((200, 1000), True, 1)
    """
    n = check_positive_int("n", n)
    m = check_positive_int("m", m)
    rng = np.random.default_rng(seed)
    vdeg = _variable_degrees(n, m, degree_distribution(1.0 - m / n))
    rng.shuffle(vdeg)
    edges = int(vdeg.sum())
    cdeg = np.full(m, edges // m)
    cdeg[: edges - int(cdeg.sum())] += 1
    rng.shuffle(cdeg)
    rest = vdeg.copy()
    stair_r = stair_c = np.zeros(0, dtype=np.int64)
    two = np.flatnonzero(vdeg == 2)[: m - 1]
    if two.size:
        order = rng.permutation(m)
        r = np.concatenate([order[: two.size], order[1 : two.size + 1]])
        used = np.bincount(r, minlength=m)
        if np.all(used <= cdeg):  # staircase of degree-2 variables: no cycle among them
            stair_r, stair_c = r, np.concatenate([two, two])
            rest[two] = 0
            cdeg = cdeg - used
    cols = np.repeat(np.arange(n), rest)
    rows = np.repeat(np.arange(m), cdeg)
    rng.shuffle(rows)
    stair_keys = np.sort(stair_r.astype(np.int64) * n + stair_c)
    for _ in range(200):  # re-draw repeated edges by swapping check ends
        keys = rows.astype(np.int64) * n + cols
        order = np.argsort(keys, kind="stable")
        bad = np.zeros(keys.size, dtype=bool)
        bad[order[1:]] = keys[order[1:]] == keys[order[:-1]]
        if stair_keys.size:
            pos = np.minimum(np.searchsorted(stair_keys, keys), stair_keys.size - 1)
            bad |= stair_keys[pos] == keys
        bad_idx = np.flatnonzero(bad)
        if not bad_idx.size:
            break
        other = rng.integers(0, rows.size, bad_idx.size)
        rows[bad_idx], rows[other] = rows[other], rows[bad_idx].copy()
    all_r = np.concatenate([stair_r, rows])
    all_c = np.concatenate([stair_c, cols])
    h = sp.csr_matrix((np.ones(all_r.size, dtype=np.uint8), (all_r, all_c)), shape=(m, n))
    h.data[:] = 1  # a repeated edge that survived is kept once
    h.sort_indices()
    return h


def _syndrome(h: sp.csr_matrix, bits: np.ndarray) -> np.ndarray:
    return (h @ bits.astype(np.int64) % 2).astype(np.uint8)


def _frames(n: int, frame_bits: int) -> list[tuple[int, int]]:
    count = max(1, round(n / frame_bits))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(count)]


class SyndromeDecoder:
    """Product-sum belief propagation for ``H e = s`` with prior ``p(e_i = 1)`` (compiled).

    A layered (row-serial) schedule: each check updates the posteriors at once, so later
    checks of the same iteration already use them, which converges in about half the
    iterations of the flooding schedule. Exact product-sum check rule, at most ``MAX_ITER``
    iterations, stopping as soon as the hard decision reproduces the syndrome. The kernel
    (:func:`qentangle.distill._kernels.layered_bp`, numba, flat CSR arrays) is compiled once
    per machine and cached; :attr:`llr` keeps the final log-likelihood ratios and
    :attr:`iterations` the iterations of the last decoding.

    >>> h = parity_check_matrix(2000, 600, 3)
    >>> e = (np.random.default_rng(0).random(2000) < 0.02).astype(np.uint8)
    >>> found, ok = SyndromeDecoder(h).decode(_syndrome(h, e), 0.02)
    >>> ok, bool(np.array_equal(found, e))
    (True, True)
    """

    def __init__(self, h: sp.csr_matrix) -> None:
        self.h = sp.csr_matrix(h)
        self.h.sort_indices()
        self.n = self.h.shape[1]
        self._indptr = self.h.indptr.astype(np.int64)
        self._indices = self.h.indices.astype(np.int64)
        self._messages = np.zeros(self._indices.size)
        self._hard = np.zeros(self.n, dtype=np.uint8)
        self._prior_llr = np.zeros(0)  # prior of the last decoding (for a warm start)
        self._syndrome = np.zeros(0, dtype=np.uint8)
        self.llr = np.zeros(self.n)
        self.iterations = 0

    @property
    def decoded(self) -> bool:
        """Whether this decoder ran before (a retry can then continue from its state)."""
        return self._prior_llr.size == self.n

    def decode(
        self,
        syndrome: np.ndarray,
        prior: float | np.ndarray,
        max_iter: int = MAX_ITER,
        *,
        warm: bool = False,
        patience: int = PATIENCE,
    ) -> tuple[np.ndarray, bool]:
        """Return the hard decision and whether it reproduces ``syndrome``.

        ``prior`` is ``p(e_i = 1)``, one value or one per bit; :attr:`llr` keeps the final
        log-likelihood ratios ``log p(e_i = 0) / p(e_i = 1)``. ``warm=True`` continues from the
        last decoding of the same syndrome (its messages, the posteriors shifted by the change
        of prior: a retry after bits were revealed). A decoding stops, failed, when its count
        of unsatisfied checks has not reached a new minimum for ``patience`` iterations.
        """
        from qentangle.distill._kernels import layered_bp

        p = np.clip(np.broadcast_to(np.asarray(prior, dtype=float), (self.n,)), 1e-9, 1 - 1e-9)
        prior_llr = np.log1p(-p) - np.log(p)
        syndrome = np.ascontiguousarray(syndrome, dtype=np.uint8)
        warm = warm and self._prior_llr.size == self.n and np.array_equal(syndrome, self._syndrome)
        warm_from = self._prior_llr if warm else np.zeros(0)
        llr = self.llr if warm else np.empty(self.n)
        used = layered_bp(
            self._indptr, self._indices, syndrome, prior_llr, max_iter, llr, self._hard, self._messages,
            _phi_table(), warm_from, patience,
        )
        self.llr, self._prior_llr, self._syndrome = llr, prior_llr, syndrome
        self.iterations = abs(int(used))
        return self._hard.copy(), used > 0


@lru_cache(maxsize=1)
def _phi_table() -> np.ndarray:
    from qentangle.distill._kernels import phi_table

    return phi_table()


@dataclass(frozen=True)
class LdpcOutcome:
    """Result of :func:`ldpc_reconcile` (``bob_key`` is key material, hidden from repr)."""

    leaked_bits: int
    corrected_bits: int
    frames: int
    failed_frames: int
    retries: int
    frame_error_rate: float
    first_try_frame_error_rate: float
    kept: np.ndarray = field(repr=False)
    bob_key: np.ndarray = field(repr=False)


def _initial_f(qber: float) -> float:
    return next((f for below, f in INITIAL_F_BANDS if qber < below), INITIAL_F)


def _initial_rows(size: int, qber: float) -> int:
    return max(1, min(size - 1, math.ceil(_initial_f(qber) * size * binary_entropy(qber))))


def _reveal_count(size: int, qber: float) -> int:
    return max(1, math.ceil(RETRY_F_STEP * size * binary_entropy(qber)))


@lru_cache(maxsize=8)
def _hash_matrix(size: int, seed: int) -> np.ndarray:
    """``VERIFY_BITS x size`` random 0/1 matrix (a 2-universal linear hash; cached, read-only)."""
    matrix = np.random.default_rng(seed).integers(0, 2, (VERIFY_BITS, size), dtype=np.uint8)
    matrix.flags.writeable = False
    return matrix


def _hash(matrix: np.ndarray, bits: np.ndarray) -> np.ndarray:
    return (matrix.astype(np.int64) @ bits.astype(np.int64) % 2).astype(np.uint8)


def ldpc_reconcile(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    *,
    qber: float,
    rng_alice: np.random.Generator,
    frame_bits: int | None = None,
    max_retries: int = 12,
    qber_max: float | None = None,
) -> LdpcOutcome:
    """Reconcile by LDPC syndromes; return Bob's corrected key and the frames kept.

    ``qber`` (the estimate) sets the code rate: ``m = ceil(f0 n h(Q))`` syndrome bits per frame
    (``f0`` = 1.05, or 1.08 below 2.5 % QBER) and ``VERIFY_BITS`` hash bits; each of up to
    ``max_retries`` retries of a failed frame reveals ``ceil(0.01 n h(Q))`` of Alice's bits at
    positions Bob chooses. With ``qber_max > qber`` (an upper confidence limit of the QBER),
    a frame still failing after ``FALLBACK_AFTER`` retries gets a second syndrome, of a code
    sized for ``qber_max``, and up to ``max_retries`` retries more, before it is discarded.
    """
    rng_alice = check_rng("rng_alice", rng_alice)
    qber = check_range("qber", qber, 0.0, 0.5, low_open=True)
    qber_max = qber if qber_max is None else max(qber, check_range("qber_max", qber_max, 0.0, 0.5))
    frame_bits = DEFAULT_FRAME_BITS if frame_bits is None else frame_bits
    frame_bits = check_positive_int("frame_bits", frame_bits, minimum=64)
    max_retries = check_positive_int("max_retries", max_retries, minimum=0)
    n = alice_key.size
    if n < 64:
        raise ValidationError(f"alice_key has {n} bits: expected at least 64 bits for LDPC")
    before = channel.disclosed_bits
    frames = _frames(n, frame_bits)
    alice = _LdpcAlice(alice_key, frames, rng_alice)
    bob = _LdpcBob(bob_key, frames)

    # Stage 1: one message with the public code seed, a fresh hash seed, every syndrome and hash.
    everything = list(range(len(frames)))
    message = alice.syndromes(everything, qber, hashes=True)
    bob.receive(channel.send("alice", "ldpc/syndromes", message, disclosed_bits=alice.disclosed), qber)
    bob.attempt(everything)
    first_fer = float(np.mean(~bob.done))
    size = frames[0][1] - frames[0][0]
    fallback = _initial_rows(size, qber_max) > _initial_rows(size, qber)
    retries = _retry(alice, bob, channel, qber, min(max_retries, FALLBACK_AFTER) if fallback else max_retries)

    # Stage 2 (QBER underestimated): a code sized for qber_max on the frames still failing.
    failed = np.flatnonzero(~bob.done).astype(np.int32)
    if fallback and failed.size:
        failed_a = channel.send("bob", "ldpc/fallback-request", failed)
        message = alice.syndromes(failed_a.tolist(), qber_max, hashes=False)
        bob.receive(channel.send("alice", "ldpc/fallback-syndromes", message,
                                 disclosed_bits=alice.disclosed), qber_max)
        bob.attempt(failed.tolist())
        retries += _retry(alice, bob, channel, qber_max, max_retries)

    # The frames to discard are public (Alice's copy of Bob's announcement).
    discarded = channel.send("bob", "ldpc/discard", np.flatnonzero(~bob.done).astype(np.int32))
    kept = np.ones(n, dtype=bool)
    for i in np.asarray(discarded, dtype=np.int64).tolist():
        s, e = frames[i]
        kept[s:e] = False
    return LdpcOutcome(
        leaked_bits=channel.disclosed_bits - before,
        corrected_bits=bob.errors_found,
        frames=len(frames),
        failed_frames=int((~bob.done).sum()),
        retries=retries,
        frame_error_rate=float(np.mean(~bob.done)),
        first_try_frame_error_rate=first_fer,
        kept=kept,
        bob_key=bob.corrected,
    )


class _LdpcAlice:
    """Alice's side: syndromes, hashes and revealed bits of her frames."""

    def __init__(self, key: np.ndarray, frames: list[tuple[int, int]], rng: np.random.Generator) -> None:
        self.key, self.frames, self.rng = key, frames, rng
        self.disclosed = 0  # key bits disclosed by the last message built

    def syndromes(self, indices: list[int], qber: float, *, hashes: bool) -> tuple[Any, ...]:
        """``(code seed, hash seed or None, rows per frame, packed syndromes [and hashes])``."""
        hash_seed = int(self.rng.integers(0, 2**63 - 1)) if hashes else None
        rows, parts = [], []
        for i in indices:
            s, e = self.frames[i]
            m = _initial_rows(e - s, qber)
            rows.append(m)
            parts.append(_syndrome(parity_check_matrix(e - s, m, CODE_SEED), self.key[s:e]))
            if hash_seed is not None:
                parts.append(_hash(_hash_matrix(e - s, hash_seed + i), self.key[s:e]))
        bits = np.concatenate(parts)
        self.disclosed = int(bits.size)
        return CODE_SEED, hash_seed, np.array(indices, dtype=np.int32), np.array(rows), np.packbits(bits)

    def reveal(self, indices: np.ndarray, positions: list[np.ndarray]) -> np.ndarray:
        starts = [self.frames[i][0] for i in indices.tolist()]
        bits = [self.key[s + where] for s, where in zip(starts, positions, strict=True)]
        flat = np.concatenate(bits) if bits else np.zeros(0, dtype=np.uint8)
        self.disclosed = int(flat.size)
        return np.packbits(flat)


class _LdpcBob:
    """Bob's side: one decoder, prior and Alice's syndrome per frame; the corrected key."""

    def __init__(self, key: np.ndarray, frames: list[tuple[int, int]]) -> None:
        self.key, self.frames = key, frames
        self.corrected = key.copy()
        self.done = np.zeros(len(frames), dtype=bool)
        self.errors_found = 0
        self.decoders: dict[int, SyndromeDecoder] = {}
        self.syndromes: dict[int, np.ndarray] = {}
        self.hashes: dict[int, np.ndarray] = {}
        self.priors = [np.zeros(0)] * len(frames)
        self.hash_seed = 0

    def receive(self, message: tuple[Any, ...], qber: float) -> None:
        """Take (new) codes and Alice's syndromes; unrevealed bits get the prior ``qber``."""
        code_seed, hash_seed, indices, rows, packed = message
        per_frame = VERIFY_BITS if hash_seed is not None else 0
        sizes = [self.frames[i][1] - self.frames[i][0] for i in indices.tolist()]
        flat = np.unpackbits(packed, count=int(np.sum(rows)) + per_frame * len(sizes))
        if hash_seed is not None:
            self.hash_seed = hash_seed
        pos = 0
        for i, size, m in zip(indices.tolist(), sizes, rows.tolist(), strict=True):
            self.decoders[i] = SyndromeDecoder(parity_check_matrix(size, m, code_seed))
            self.syndromes[i] = flat[pos : pos + m]
            if hash_seed is not None:
                self.hashes[i] = flat[pos + m : pos + m + VERIFY_BITS]
            pos += m + per_frame
            prior = self.priors[i]
            self.priors[i] = np.full(size, qber) if prior.size == 0 else np.where(
                (prior == 0.0) | (prior == 1.0), prior, qber  # revealed bits stay known
            )

    def attempt(self, indices: list[int]) -> None:
        """Decode these frames; accept a decision that meets both the syndrome and the hash."""
        for i in indices:
            s, e = self.frames[i]
            dec = self.decoders[i]
            # a retry continues from the last decoding of the frame, for a few iterations
            error, ok = dec.decode(
                self.syndromes[i] ^ _syndrome(dec.h, self.key[s:e]), self.priors[i],
                RETRY_ITER if dec.decoded else MAX_ITER, warm=True,
            )
            candidate = self.key[s:e] ^ error
            tag = _hash(_hash_matrix(e - s, self.hash_seed + i), candidate)
            if ok and np.array_equal(tag, self.hashes[i]):
                self.corrected[s:e] = candidate
                self.errors_found += int(error.sum())
                self.done[i] = True

    def request(self, qber: float) -> tuple[np.ndarray, list[np.ndarray]]:
        """For each failed frame, the unrevealed positions where the last decoding was least sure.

        They depend on the error syndrome only, not on Alice's key.
        """
        failed = np.flatnonzero(~self.done)
        positions = []
        for i in failed.tolist():
            size = self.frames[i][1] - self.frames[i][0]
            open_bits = (self.priors[i] > 0.0) & (self.priors[i] < 1.0)
            reliability = np.where(open_bits, np.abs(self.decoders[i].llr), np.inf)
            k = min(_reveal_count(size, qber), int(open_bits.sum()))
            least = np.argpartition(reliability, k - 1)[:k] if k else np.zeros(0, dtype=int)
            positions.append(np.sort(least).astype(np.int32))
        return failed.astype(np.int32), positions

    def learn(self, indices: list[int], positions: list[np.ndarray], packed: np.ndarray) -> None:
        """Fix the prior of the revealed bits to 0 or 1 (error or not)."""
        flat = np.unpackbits(packed, count=sum(p.size for p in positions))
        pos = 0
        for i, where in zip(indices, positions, strict=True):
            s = self.frames[i][0]
            known_error = flat[pos : pos + where.size] ^ self.key[s + where]
            self.priors[i][where] = np.where(known_error == 1, 1.0, 0.0)
            pos += where.size


def _retry(alice: _LdpcAlice, bob: _LdpcBob, channel: ClassicalChannel, qber: float, rounds: int) -> int:
    """Blind retries: Bob asks for bits of every failed frame, Alice reveals them, Bob decodes."""
    done = 0
    for _ in range(rounds):
        if bob.done.all():
            break
        failed, positions = bob.request(qber)
        failed_a, positions_a = channel.send("bob", "ldpc/retry-request", (failed, positions))
        revealed = alice.reveal(failed_a, positions_a)
        packed = channel.send("alice", "ldpc/revealed-bits", revealed, disclosed_bits=alice.disclosed)
        bob.learn(failed.tolist(), positions, packed)
        bob.attempt(failed.tolist())
        done += 1
    return done
