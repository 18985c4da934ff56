"""The fast distillation paths against independent plain implementations written here.

Toeplitz hashing (bit-packed direct product, FFT, their numpy and compiled variants),
verification tags and privacy amplification are checked bit-exact against a row-by-row GF(2)
product on sizes including 1, primes and non-powers of two; the shared public expansions of
Cascade, the retained heap, and the compiled layered LDPC decoder over several seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.channel import ClassicalChannel
from qentangle.distill import amplify
from qentangle.distill.amplify import ToeplitzHasher, privacy_amplification, toeplitz_hash
from qentangle.distill.cascade import _PublicTable, cascade_reconcile
from qentangle.distill.estimate import binary_entropy
from qentangle.distill.ldpc_ec import SyndromeDecoder, _syndrome, ldpc_reconcile, parity_check_matrix
from qentangle.distill.verify import tag_bits, verify_keys
from qentangle.distill.workspace import retained_heap

pytestmark = pytest.mark.timeout(300)


def plain_toeplitz(x: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """Row by row: ``y[i] = sum_j seed[(i - j) mod (n + m - 1)] x[j] mod 2`` (no shortcut)."""
    n = x.size
    length = n + m - 1
    j = np.arange(n)
    xs = x.astype(np.int64)
    return np.array([int(seed[(i - j) % length].astype(np.int64) @ xs) & 1 for i in range(m)], dtype=np.uint8)


SIZES = [(1, 1), (1, 7), (2, 1), (3, 2), (7, 7), (13, 31), (63, 64), (64, 65), (97, 1), (101, 256),
         (257, 3), (1000, 257), (1031, 997), (4099, 50), (5003, 2999)]


@pytest.fixture(params=["numpy", "compiled"])
def kernels(request, monkeypatch):
    """Run once with the numpy twins, once with the compiled kernels (on small sizes too)."""
    if request.param == "compiled":
        monkeypatch.setattr(amplify, "_COMPILED_MIN_WORK", 0)
        monkeypatch.setattr(amplify, "_COMPILED_MIN_ROWS", 0)
    return request.param


@pytest.mark.parametrize(("n", "m"), SIZES)
def test_toeplitz_hash_bit_exact_against_plain_product(n, m, kernels):
    rng = np.random.default_rng(n * 7919 + m)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    expected = plain_toeplitz(x, seed, m)
    assert np.array_equal(toeplitz_hash(x, seed, m), expected)
    # both methods, whatever the size: the direct product and the FFT
    hasher = ToeplitzHasher(seed, n, m)
    hasher.direct = True
    assert np.array_equal(hasher.hash(x), expected)
    hasher.direct = False
    assert np.array_equal(hasher.hash(x), expected)


def test_seed_transform_is_shared_only_between_identical_seeds():
    """A second hasher of the same seed bits reuses the transform; another seed does not."""
    rng = np.random.default_rng(5)
    n, m = 3001, 1499
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed_a = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    seed_b = seed_a.copy()
    seed_b[17] ^= 1
    for seed in (seed_a, seed_a.copy(), seed_b, seed_a):
        assert np.array_equal(ToeplitzHasher(seed, n, m).hash(x), plain_toeplitz(x, seed, m))


def test_verification_tag_is_the_plain_toeplitz_tag():
    """The tag on the wire is T x for the seed on the wire: the universal family of eps_cor."""
    for n in (1, 2, 61, 1009, 40_000):
        rng = np.random.default_rng(n)
        key = rng.integers(0, 2, n, dtype=np.uint8)
        ch = ClassicalChannel.with_random_key(rng)
        assert verify_keys(key, key.copy(), ch, eps_cor=1e-15, rng_alice=np.random.default_rng(n + 1))
        t = tag_bits(1e-15)
        packed_seed, packed_tag = ch.transcript[0].payload
        seed = np.unpackbits(packed_seed, count=n + t - 1)
        # the seed is the first n + t - 1 bits Alice's generator draws
        assert np.array_equal(seed, np.random.default_rng(n + 1).integers(0, 2, n + t - 1, dtype=np.uint8))
        assert np.array_equal(np.unpackbits(packed_tag, count=t), plain_toeplitz(key, seed, t))
        assert ch.disclosed_bits == t


def test_privacy_amplification_is_the_plain_product_of_the_drawn_seed():
    for n, m in ((1, 1), (2, 1), (101, 100), (4099, 3001), (20_011, 19_997)):
        rng = np.random.default_rng(n)
        key = rng.integers(0, 2, n, dtype=np.uint8)
        ch = ClassicalChannel.with_random_key(rng)
        a, b = privacy_amplification(key, key.copy(), ch, m, rng_alice=np.random.default_rng(3))
        seed = np.random.default_rng(3).integers(0, 2, n + m - 1, dtype=np.uint8)
        if n * m <= 10**7:
            assert np.array_equal(a, plain_toeplitz(key, seed, m))
        else:  # a few rows of the plain product on the large size
            rows = np.arange(n + m - 1)
            for i in (0, 1, m // 2, m - 1):
                assert a[i] == int(seed[(i - np.arange(n)) % rows.size].astype(np.int64) @ key) & 1
        assert np.array_equal(a, b) and ch.disclosed_bits == 0


def test_retained_heap_is_reentrant_and_restores_the_allocator():
    from qentangle.distill import workspace

    with retained_heap():
        with retained_heap():
            assert workspace._depth == 2
            np.ones(1 << 23).sum()  # 64 MiB from the heap
        assert workspace._depth == 1
    assert workspace._depth == 0
    with pytest.raises(RuntimeError), retained_heap():  # an error inside still restores
        raise RuntimeError("inside")
    assert workspace._depth == 0


def test_cascade_tables_share_public_expansions_and_still_correct(make_pair):
    n = 5000
    sizes = [50, 150, 1250, 1250]
    one, two = _PublicTable(n, sizes, [0, 0, 2, 2]), _PublicTable(n, sizes, [0, 0, 2, 2])
    one.start_pass(0, 123)
    two.start_pass(0, 123)
    assert one.keys[0] is two.keys[0] and not one.keys[0].flags.writeable
    two.start_pass(1, 124)
    one.start_pass(1, 999)  # another seed: its own expansion
    assert one.keys[1] is not two.keys[1] and not np.array_equal(one.keys[1], two.keys[1])
    rng = np.random.default_rng(2)
    for _ in range(3):
        a, b = make_pair(rng, 30_011, 0.03)
        out = cascade_reconcile(a, b, ClassicalChannel.with_random_key(rng, nbytes=1 << 20), qber=0.03,
                                rng_alice=rng)
        assert np.array_equal(out.bob_key, a)


@pytest.mark.parametrize(("q", "f"), [(0.01, 1.6), (0.03, 1.3), (0.06, 1.3)])
def test_layered_decoder_finds_the_error_pattern_over_seeds(q, f):
    """Short frames need some margin above capacity (f), the more so at high code rates."""
    n = 8000
    m = math.ceil(f * n * binary_entropy(q))
    h = parity_check_matrix(n, m, 0x51D7)
    decoder = SyndromeDecoder(h)
    for seed in range(4):
        e = (np.random.default_rng(seed).random(n) < q).astype(np.uint8)
        found, ok = decoder.decode(_syndrome(h, e), q)
        assert ok and np.array_equal(found, e), seed
        assert 0 < decoder.iterations < 100


def test_layered_decoder_warm_retry_uses_revealed_bits():
    """A retry continues from the last messages: revealing error bits rescues a failed frame."""
    n, q = 6000, 0.04
    h = parity_check_matrix(n, math.ceil(0.98 * n * binary_entropy(q)), 0x51D7)
    decoder = SyndromeDecoder(h)
    e = (np.random.default_rng(1).random(n) < q).astype(np.uint8)
    syndrome = _syndrome(h, e)
    found, ok = decoder.decode(syndrome, q)
    assert not ok
    prior = np.full(n, q)
    reveal = np.argsort(np.abs(decoder.llr))[: n // 10]
    prior[reveal] = e[reveal]
    found, ok = decoder.decode(syndrome, prior, warm=True)
    assert ok and np.array_equal(found, e)


@pytest.mark.parametrize("q", [0.02, 0.05, 0.08])
def test_ldpc_reconcile_efficiency_over_seeds(q, make_pair):
    """2e4-bit frames (fast); the 1e5-bit figures are in benchmarks/distill.py."""
    fs = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, b = make_pair(rng, 20_000, q)
        ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
        out = ldpc_reconcile(a, b, ch, qber=q, rng_alice=rng)
        assert out.frame_error_rate == 0.0 and np.array_equal(out.bob_key, a)
        assert out.leaked_bits == ch.disclosed_bits
        fs.append(out.leaked_bits / (a.size * binary_entropy(np.mean(a != b))))
    assert 1.0 < np.mean(fs) <= 1.2 and max(fs) <= 1.25


@pytest.mark.parametrize(("n", "sizes", "buckets"), [
    (70_001, [50, 150, 17_501, 17_501], [0, 0, 2, 2]),
    (1 << 17, [1000, 3000, 1 << 15, 1 << 15], [0, 0, 2, 2]),
])
def test_cascade_compiled_permutations_equal_numpy_sort(n, sizes, buckets, monkeypatch):
    """The compiled key fill and radix sort give np.sort of the numpy keys, bit for bit."""
    from qentangle.distill import cascade

    rows = {}
    for threshold in (1 << 40, 0):
        monkeypatch.setattr(cascade, "_COMPILED_MIN_BITS", threshold)
        monkeypatch.setattr(cascade, "_SHARED", cascade._SharedExpansions())  # nothing reused
        table = _PublicTable(n, sizes, buckets)
        for p in range(len(sizes)):
            table.start_pass(p, 2**62 + 977 * p)
            table.materialize(p)
            rows[threshold, p] = table.keys[p].copy()
        del table
    for p in range(len(sizes)):
        assert np.array_equal(rows[1 << 40, p], rows[0, p])
