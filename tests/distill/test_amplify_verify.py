import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qentangle.channel import ClassicalChannel
from qentangle.distill.amplify import privacy_amplification, toeplitz_hash, toeplitz_matrix
from qentangle.distill.verify import tag_bits, verify_keys
from qentangle.errors import ValidationError


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), m=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_toeplitz_fft_equals_matrix_product(n, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    expected = toeplitz_matrix(s, m, n).astype(np.int64) @ x % 2
    assert np.array_equal(toeplitz_hash(x, s, m), expected)


def test_toeplitz_convention():
    # T[i, j] = seed[(i - j) mod (n + m - 1)]
    seed = np.array([1, 0, 1, 1, 0, 0], dtype=np.uint8)
    t = toeplitz_matrix(seed, 3, 4)
    for i in range(3):
        for j in range(4):
            assert t[i, j] == seed[(i - j) % 6]


def test_toeplitz_large_input_exact_against_chunked_product():
    rng = np.random.default_rng(7)
    n, m = 200_000, 64
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    y = toeplitz_hash(x, s, m)
    # direct check of a few rows: row i uses seed[(i - j) mod N]
    idx = np.arange(n)
    for i in (0, 17, m - 1):
        assert y[i] == int(s[(i - idx) % (n + m - 1)] @ x.astype(np.int64)) % 2


def test_toeplitz_validation_names_parameter():
    with pytest.raises(ValidationError, match="seed"):
        toeplitz_hash(np.ones(4, dtype=np.uint8), np.ones(3, dtype=np.uint8), 2)
    with pytest.raises(ValidationError, match="m="):
        toeplitz_hash(np.ones(4, dtype=np.uint8), np.ones(3, dtype=np.uint8), -1)
    with pytest.raises(ValidationError, match="x"):
        toeplitz_hash(np.array([0, 2]), np.ones(3, dtype=np.uint8), 2)


def test_privacy_amplification_same_output_and_no_leak(channel):
    rng = np.random.default_rng(1)
    key = rng.integers(0, 2, 5000, dtype=np.uint8)
    a, b = privacy_amplification(key, key.copy(), channel, 1000, rng_alice=rng)
    assert a.size == 1000 and np.array_equal(a, b)
    assert channel.disclosed_bits == 0


def test_tag_bits():
    assert tag_bits(1e-15) == 50
    assert tag_bits(2**-20) == 20
    with pytest.raises(ValidationError, match="eps_cor"):
        tag_bits(0)


def test_verify_detects_single_difference(channel):
    rng = np.random.default_rng(2)
    key = rng.integers(0, 2, 4000, dtype=np.uint8)
    other = key.copy()
    other[1234] ^= 1
    assert verify_keys(key, key.copy(), channel, eps_cor=1e-12, rng_alice=rng)
    assert not verify_keys(key, other, channel, eps_cor=1e-12, rng_alice=rng)
    assert channel.disclosed_bits == 2 * tag_bits(1e-12)


def test_verify_is_on_the_transcript():
    rng = np.random.default_rng(3)
    ch = ClassicalChannel.with_random_key(rng)
    key = rng.integers(0, 2, 100, dtype=np.uint8)
    verify_keys(key, key, ch, eps_cor=1e-9, rng_alice=rng)
    assert ch.disclosed_bits_of("verify") == tag_bits(1e-9)
