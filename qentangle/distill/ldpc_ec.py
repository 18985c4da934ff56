"""One-way reconciliation by LDPC syndrome decoding (Slepian-Wolf), decoded by ``ldpc``.

The key is split into frames of about ``frame_bits`` bits. For each frame Alice sends the
syndrome ``H x_A`` of a public random irregular LDPC matrix ``H`` (built from a seed Alice
sends; ``m = ceil(f0 n h(Q))`` rows for the estimated QBER ``Q``). Bob decodes the error
pattern from ``H x_A + H x_B`` with the belief-propagation decoder of the ``ldpc`` package
(``ldpc.BpDecoder``, scaled min-sum, serial schedule) and flips it. A frame whose decoding does
not reproduce the syndrome asks for more syndrome bits (extra random parity checks, rate
adaptation by incremental redundancy, all counted); after ``max_retries`` it is discarded by
both sides (which frames is public). All frames of a step travel in one message.

The parity-check matrices come from a configuration-model construction with an irregular
variable-degree distribution (20 % degree 2, 60 % degree 3, 20 % degree 12) and near-regular
check degrees; duplicate edges cancel. These are random codes, not optimised ones: measured
efficiency is reported by ``benchmarks/distill.py``.

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> rng = np.random.default_rng(4)
>>> a = rng.integers(0, 2, 8000, dtype=np.uint8)
>>> b = a ^ (rng.random(8000) < 0.02).astype(np.uint8)
>>> ch = ClassicalChannel.with_random_key(rng)
>>> out = ldpc_reconcile(a, b, ch, qber=0.02, rng_alice=rng, frame_bits=4000)
>>> bool(np.array_equal(out.bob_key[out.kept], a[out.kept])), out.leaked_bits == ch.disclosed_bits
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.distill.estimate import binary_entropy
from qentangle.errors import ValidationError, check_positive_int, check_range

DEFAULT_FRAME_BITS = 1 << 14
VARIABLE_DEGREES = {2: 0.2, 3: 0.6, 12: 0.2}
INITIAL_F = 1.2
RETRY_F_STEP = 0.08


@lru_cache(maxsize=32)
def parity_check_matrix(n: int, m: int, seed: int) -> sp.csr_matrix:
    """A random irregular ``m x n`` LDPC parity-check matrix (deterministic in ``seed``).

    >>> parity_check_matrix(100, 20, 1).shape
    (20, 100)
    """
    n = check_positive_int("n", n)
    m = check_positive_int("m", m)
    rng = np.random.default_rng(seed)
    degrees = np.array(list(VARIABLE_DEGREES))
    fractions = np.array(list(VARIABLE_DEGREES.values()))
    counts = np.floor(fractions * n).astype(int)
    counts[np.argmax(fractions)] += n - counts.sum()
    vdeg = np.minimum(np.repeat(degrees, counts), m)
    rng.shuffle(vdeg)
    cols = np.repeat(np.arange(n), vdeg)
    rows = np.arange(cols.size) % m
    rng.shuffle(rows)
    data = np.ones(cols.size, dtype=np.uint8)
    h = sp.csr_matrix((data, (rows, cols)), shape=(m, n))
    h.data %= 2  # duplicate edges cancel
    h.eliminate_zeros()
    return h


def extra_checks(n: int, m: int, weight: int, seed: int) -> sp.csr_matrix:
    """``m`` extra random parity checks of ``weight`` bits each (incremental redundancy)."""
    rng = np.random.default_rng(seed)
    cols = np.argsort(rng.random((m, n)), axis=1)[:, :weight] if n <= 4096 else np.stack(
        [rng.choice(n, size=weight, replace=False) for _ in range(m)]
    )
    rows = np.repeat(np.arange(m), weight)
    return sp.csr_matrix(
        (np.ones(rows.size, dtype=np.uint8), (rows, cols.ravel())), shape=(m, n)
    )


def _syndrome(h: sp.csr_matrix, bits: np.ndarray) -> np.ndarray:
    return (h @ bits.astype(np.int64) % 2).astype(np.uint8)


def _frames(n: int, frame_bits: int) -> list[tuple[int, int]]:
    count = max(1, round(n / frame_bits))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(count)]


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


class _Decoders:
    """Bob's decoders, one per (matrix, QBER)."""

    def __init__(self, qber: float) -> None:
        self.qber = qber

    def decode(self, h: sp.csr_matrix, syndrome: np.ndarray) -> tuple[np.ndarray, bool]:
        from ldpc import BpDecoder

        decoder = BpDecoder(
            h, error_rate=self.qber, max_iter=50, bp_method="minimum_sum",
            ms_scaling_factor=0.75, schedule="serial",
        )
        error = np.asarray(decoder.decode(syndrome), dtype=np.uint8)
        ok = bool(np.array_equal(_syndrome(h, error), syndrome))
        return error, ok


def ldpc_reconcile(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    *,
    qber: float,
    rng_alice: np.random.Generator,
    frame_bits: int | None = None,
    max_retries: int = 3,
) -> LdpcOutcome:
    """Reconcile by LDPC syndromes; return Bob's corrected key and the frames kept.

    ``qber`` (the estimate) sets the code rate: ``m = ceil(1.2 n h(Q))`` syndrome bits per
    frame, plus ``0.08 n h(Q)`` more per retry.
    """
    rng_alice = check_rng("rng_alice", rng_alice)
    qber = check_range("qber", qber, 0.0, 0.5, low_open=True)
    frame_bits = DEFAULT_FRAME_BITS if frame_bits is None else frame_bits
    frame_bits = check_positive_int("frame_bits", frame_bits, minimum=64)
    max_retries = check_positive_int("max_retries", max_retries, minimum=0)
    n = alice_key.size
    if n < 64:
        raise ValidationError(f"alice_key has {n} bits: expected at least 64 bits for LDPC")
    before = channel.disclosed_bits
    frames = _frames(n, frame_bits)
    h_q = binary_entropy(qber)

    # Alice: code seed and all first syndromes in one message.
    seed = int(rng_alice.integers(0, 2**63 - 1))
    specs = []
    for start, end in frames:
        size = end - start
        m = min(size - 1, math.ceil(INITIAL_F * size * h_q))
        specs.append((size, m))
    a_matrices = [parity_check_matrix(size, m, seed + i) for i, (size, m) in enumerate(specs)]
    a_synd = [_syndrome(h, alice_key[s:e]) for h, (s, e) in zip(a_matrices, frames, strict=True)]
    total = sum(x.size for x in a_synd)
    received = channel.send(
        "alice", "ldpc/syndromes", (seed, np.packbits(np.concatenate(a_synd))),
        disclosed_bits=total,
    )

    # Bob: rebuild the codes from the seed, decode every frame.
    b_seed, packed = received
    flat = np.unpackbits(packed, count=total)
    b_matrices = [parity_check_matrix(size, m, b_seed + i) for i, (size, m) in enumerate(specs)]
    offsets = np.cumsum([0] + [m for _, m in specs])
    alice_synd_b = [flat[offsets[i] : offsets[i + 1]] for i in range(len(frames))]
    decoders = _Decoders(qber)
    corrected = bob_key.copy()
    done = np.zeros(len(frames), dtype=bool)
    errors_found = 0

    def attempt(indices: list[int]) -> None:
        nonlocal errors_found
        for i in indices:
            s, e = frames[i]
            h = b_matrices[i]
            diff = alice_synd_b[i] ^ _syndrome(h, bob_key[s:e])
            error, ok = decoders.decode(h, diff)
            if ok:
                corrected[s:e] = bob_key[s:e] ^ error
                errors_found += int(error.sum())
                done[i] = True

    attempt(list(range(len(frames))))
    first_fer = float(np.mean(~done))
    retries = 0
    for r in range(max_retries):
        failed = np.flatnonzero(~done).tolist()
        # Bob asks for more syndrome on the failed frames (public list).
        failed_a = channel.send("bob", "ldpc/retry-request", np.array(failed, dtype=np.int32))
        if not failed:
            final_failed = failed_a
            break
        retries += 1
        extra_a, extra_sizes = [], []
        for i in failed_a.tolist():
            size = specs[i][0]
            extra_m = max(1, math.ceil(RETRY_F_STEP * size * h_q))
            weight = max(3, round(a_matrices[i].nnz / a_matrices[i].shape[0]))
            hx = extra_checks(size, extra_m, weight, seed + 7919 * (r + 1) + i)
            a_matrices[i] = sp.vstack([a_matrices[i], hx]).tocsr()
            s, e = frames[i]
            extra_a.append(_syndrome(hx, alice_key[s:e]))
            extra_sizes.append(extra_m)
        bits = int(sum(extra_sizes))
        packed_x = channel.send(
            "alice", "ldpc/extra-syndromes", np.packbits(np.concatenate(extra_a)),
            disclosed_bits=bits,
        )
        flat_x = np.unpackbits(packed_x, count=bits)
        pos = 0
        for i in failed:
            size = specs[i][0]
            extra_m = max(1, math.ceil(RETRY_F_STEP * size * h_q))
            weight = max(3, round(b_matrices[i].nnz / b_matrices[i].shape[0]))
            hx = extra_checks(size, extra_m, weight, b_seed + 7919 * (r + 1) + i)
            b_matrices[i] = sp.vstack([b_matrices[i], hx]).tocsr()
            alice_synd_b[i] = np.concatenate([alice_synd_b[i], flat_x[pos : pos + extra_m]])
            pos += extra_m
        attempt(failed)
    else:
        final_failed = channel.send(
            "bob", "ldpc/discard", np.flatnonzero(~done).astype(np.int32)
        )

    # The frames to discard are public (Alice's copy of Bob's announcement).
    kept = np.ones(n, dtype=bool)
    for i in np.asarray(final_failed, dtype=np.int64).tolist():
        s, e = frames[i]
        kept[s:e] = False
    return LdpcOutcome(
        leaked_bits=channel.disclosed_bits - before,
        corrected_bits=errors_found,
        frames=len(frames),
        failed_frames=int((~done).sum()),
        retries=retries,
        frame_error_rate=float(np.mean(~done)),
        first_try_frame_error_rate=first_fer,
        kept=kept,
        bob_key=corrected,
    )
