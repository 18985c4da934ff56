"""Compiled (numba) kernels of the distillation hot paths, compiled lazily and cached on disk.

Importing this module imports numba (about half a second); the distillation modules import
it only when a large input needs it, so ``import qentangle.distill`` stays cheap. Every kernel
is ``cache=True`` (compiled once per machine, then loaded from ``__pycache__``) and
``nogil=True``. Each has a plain numpy twin in the module that uses it, and the tests check
both against independent plain implementations.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _parity64(v):  # pragma: no cover - compiled
    v ^= v >> np.uint64(32)
    v ^= v >> np.uint64(16)
    v ^= v >> np.uint64(8)
    v ^= v >> np.uint64(4)
    v ^= v >> np.uint64(2)
    v ^= v >> np.uint64(1)
    return v & np.uint64(1)


@njit(cache=True, nogil=True)
def toeplitz_rows_packed(r_words, x_words, m, out):  # pragma: no cover - compiled
    """``out[i] = parity(window(r, m - 1 - i) & x)`` over 64-bit words (little-endian bits).

    ``window(r, s)`` is the bit string ``r[s], r[s + 1], ...``; ``r_words`` must hold at least
    ``len(x_words) + (m - 1) // 64 + 1`` words.
    """
    acc = np.zeros(m, dtype=np.uint64)
    sixty_four = np.uint64(64)
    for w in range(x_words.size):
        a = x_words[w]
        if a == 0:
            continue
        for s in range(m):
            q = w + (s >> 6)
            b = np.uint64(s & 63)
            if b == 0:
                window = r_words[q]
            else:
                window = (r_words[q] >> b) | (r_words[q + 1] << (sixty_four - b))
            acc[s] ^= window & a
    for i in range(m):
        out[i] = np.uint8(_parity64(acc[m - 1 - i]))


@njit(cache=True, nogil=True)
def rounded_parity(conv, out):  # pragma: no cover - compiled
    """``out[i] = rint(conv[i]) mod 2``; returns the largest ``|conv[i] - rint(conv[i])|``."""
    residual = 0.0
    for i in range(conv.size):
        c = conv[i]
        r = np.rint(c)
        d = abs(c - r)
        if d > residual:
            residual = d
        out[i] = np.uint8(np.int64(r) & 1)
    return residual


PHI_STEP = 1.0 / 256.0
PHI_MAX_ARG = 48.0
PHI_AT_ZERO = 60.0  # phi(x) for x below 1e-26; phi(x) = -log(tanh(x / 2)) is infinite at 0


def phi_table() -> np.ndarray:
    """``phi(x) = -log(tanh(x / 2))`` on the grid ``x = k / 256``, ``0 <= x <= 48`` (+1 entry)."""
    x = np.arange(int(PHI_MAX_ARG / PHI_STEP) + 2) * PHI_STEP
    with np.errstate(divide="ignore"):
        table = -np.log(np.tanh(x / 2.0))
    table[0] = PHI_AT_ZERO
    return table


@njit(cache=True, nogil=True, inline="always")
def _phi(x, table):  # pragma: no cover - compiled
    scaled = x * 256.0
    if scaled < 1.0:  # steep part: exact
        if x < 1e-26:
            return PHI_AT_ZERO
        return -np.log(np.tanh(0.5 * x))
    i = int(scaled)
    if i >= table.size - 1:
        return 0.0
    frac = scaled - i
    return table[i] + frac * (table[i + 1] - table[i])


@njit(cache=True, nogil=True)
def layered_bp(  # pragma: no cover - compiled
    indptr, indices, syndrome, prior_llr, max_iter, llr, hard, messages, table, warm_from, patience
):
    """Layered (row-serial) product-sum belief propagation for ``H e = syndrome`` over GF(2).

    ``indptr``/``indices``: ``H`` in CSR form (rows are checks); ``prior_llr``: channel
    log-likelihood ratios ``log p(e_i = 0) / p(e_i = 1)``; ``messages``: one float per edge.
    Checks are processed one after the other, each using the posteriors already updated by
    the checks before it in the same iteration (a layered schedule, which needs about half the
    iterations of flooding). The check rule is product-sum in the ``phi`` domain:
    ``r = sign * phi(sum_others phi(|q|))`` with ``phi(x) = -log tanh(x / 2)`` read from
    ``table`` (:func:`phi_table`, linear interpolation, exact below 1/256). Fills ``llr``
    (posteriors) and ``hard`` (decision); returns the iterations run, negated on failure.

    Warm start: with ``warm_from`` (the prior LLRs of the previous decoding, same size) the
    previous ``messages`` and posteriors ``llr`` are kept and only shifted by the change of the
    prior (bits revealed since), so a retry continues where the last decoding stopped;
    otherwise (``warm_from.size == 0``) everything starts from the prior. Stops early, as a
    failure, when the number of unsatisfied checks has not reached a new minimum for
    ``patience`` iterations.
    """
    m = indptr.size - 1
    n = prior_llr.size
    if warm_from.size == n:
        for v in range(n):
            llr[v] += prior_llr[v] - warm_from[v]
    else:
        for v in range(n):
            llr[v] = prior_llr[v]
        for k in range(messages.size):
            messages[k] = 0.0
    width = 0
    for c in range(m):
        width = max(width, indptr[c + 1] - indptr[c])
    q = np.empty(width, dtype=np.float64)
    ph = np.empty(width, dtype=np.float64)
    best = m + 1
    best_at = 0
    for it in range(1, max_iter + 1):
        for c in range(m):
            s = indptr[c]
            e = indptr[c + 1]
            negative = syndrome[c] != 0
            total = 0.0
            for k in range(s, e):
                qk = llr[indices[k]] - messages[k]
                q[k - s] = qk
                if qk < 0.0:
                    negative = not negative
                    p = _phi(-qk, table)
                else:
                    p = _phi(qk, table)
                ph[k - s] = p
                total += p
            for k in range(s, e):
                j = k - s
                rest = total - ph[j]
                if rest < 0.0:
                    rest = 0.0
                r = _phi(rest, table)
                if negative != (q[j] < 0.0):
                    r = -r
                messages[k] = r
                llr[indices[k]] = q[j] + r
        for v in range(n):
            hard[v] = 1 if llr[v] < 0.0 else 0
        unsatisfied = 0
        for c in range(m):
            parity = syndrome[c]
            for k in range(indptr[c], indptr[c + 1]):
                parity ^= hard[indices[k]]
            unsatisfied += parity
        if unsatisfied == 0:
            return it
        if unsatisfied < best:
            best = unsatisfied
            best_at = it
        elif it - best_at >= patience:
            return -it
    return -max_iter


@njit(cache=True, nogil=True)
def radix_sort_high_bits(keys, tmp, low_bit, high_bit):  # pragma: no cover - compiled
    """Stable LSD radix sort of non-negative int64 ``keys`` by their bits ``[low_bit, high_bit)``.

    Three or fewer passes of at most 14-bit digits (a count, then a scatter into as many
    streams, each). When ``keys`` are already in increasing order of their bits below
    ``low_bit`` and equal above ``high_bit`` (the sort keys of a Cascade pass: the key
    position in the low bits, the pass number on top), the result is ``np.sort(keys)``.
    ``tmp`` is scratch of the same size.
    """
    n = keys.size
    width = high_bit - low_bit
    if n < 2 or width <= 0:
        return
    passes = (width + 13) // 14
    digit = (width + passes - 1) // passes
    mask = (1 << digit) - 1
    counts = np.empty((1 << digit) + 1, dtype=np.int64)
    src = keys
    dst = tmp
    for step in range(passes):
        shift = low_bit + step * digit
        counts[:] = 0
        for i in range(n):
            counts[((src[i] >> shift) & mask) + 1] += 1
        for d in range(1 << digit):
            counts[d + 1] += counts[d]
        for i in range(n):
            v = src[i]
            d = (v >> shift) & mask
            dst[counts[d]] = v
            counts[d] += 1
        src, dst = dst, src
    if passes % 2 == 1:
        for i in range(n):
            keys[i] = src[i]


@njit(cache=True, nogil=True)
def fill_pass_keys(  # pragma: no cover - compiled
    seed, p, random_shift, index_bits, pass_shift, bucket_shift, buckets, out
):
    """Cascade sort keys of positions ``0 .. n-1`` in pass ``p`` (see ``cascade._PublicTable``).

    The same bits as the numpy ``_PublicTable._keys``: SplitMix64 output ``x`` of ``seed``
    shifted right by ``random_shift`` above the index bits, ``x`` in the low ``index_bits``,
    the block number (``buckets[x]``, when given) at ``bucket_shift`` and ``p`` at
    ``pass_shift``; one pass instead of a dozen numpy passes.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    mix1 = np.uint64(0xBF58476D1CE4E5B9)
    mix2 = np.uint64(0x94D049BB133111EB)
    high = ~((np.uint64(1) << np.uint64(index_bits)) - np.uint64(1))
    top = np.uint64(p) << np.uint64(pass_shift)
    rs = np.uint64(random_shift)
    bs = np.uint64(bucket_shift)
    with_buckets = buckets.size > 0
    for i in range(out.size):
        x = np.uint64(i)
        z = x * golden + seed
        z ^= z >> np.uint64(30)
        z *= mix1
        z ^= z >> np.uint64(27)
        z *= mix2
        z ^= z >> np.uint64(31)
        z = ((z >> rs) & high) | x | top
        if with_buckets:
            z |= np.uint64(buckets[i]) << bs
        out[i] = np.int64(z)
