import itertools
import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from qentangle.distill.estimate import (
    ErrorSample,
    binary_entropy,
    estimate_qber,
    hypergeometric_upper_errors,
    phase_error_bound,
    serfling_mu,
)
from qentangle.distill.finite_key import (
    asymptotic_key_length,
    device_independent_rate,
    finite_key_length,
    phase_error_failure,
    shor_preskill_rate,
    tlgr_key_length,
    two_basis_key,
)
from qentangle.errors import ValidationError


def test_binary_entropy_values():
    assert binary_entropy(0.5) == 1.0
    assert binary_entropy(0) == 0.0
    assert binary_entropy(0.11) == pytest.approx(0.49992, abs=1e-4)
    with pytest.raises(ValidationError, match="p="):
        binary_entropy(1.5)


def test_serfling_mu_hand_value():
    n, k, eps = 10**5, 10**4, 1e-10
    expected = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / eps))
    assert serfling_mu(n, k, eps) == pytest.approx(expected, rel=1e-12)


def test_tlgr_key_length_hand_computed():
    n, k, q, leak, es, ec = 10**6, 10**5, 0.02, 160_000, 1e-10, 1e-15
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / es))
    h = -(q + mu) * math.log2(q + mu) - (1 - q - mu) * math.log2(1 - q - mu)
    expected = math.floor(n * (1 - h) - leak - math.log2(2 / (es**2 * ec)))
    assert tlgr_key_length(n, k, q, leak, es, ec) == expected


def test_finite_key_length_matches_tlgr_with_tag_counted_as_leak():
    n, k, q, es = 10**6, 10**5, 0.02, 1e-10
    ec = 2.0**-50  # tag of exactly 50 bits
    e_ph = q + serfling_mu(n, k, es)
    assert finite_key_length(n, e_ph, 160_000 + 50, es) == tlgr_key_length(
        n, k, q, 160_000, es, ec
    )


def test_asymptotic_and_rates():
    assert asymptotic_key_length(10_000, 0.02, 1600) == math.floor(
        10_000 * (1 - binary_entropy(0.02)) - 1600
    )
    assert shor_preskill_rate(0.11, 0.11) == pytest.approx(0.0, abs=1e-3)
    assert device_independent_rate(2.0, 0.0) == 0.0
    assert device_independent_rate(2 * math.sqrt(2), 0.0) == pytest.approx(1.0)
    assert 0 < device_independent_rate(2.7, 0.02) < 1


@pytest.mark.parametrize("q", [0.01, 0.03, 0.06])
def test_key_shrinks_with_block_size(q):
    lengths = []
    for n in (10**7, 10**6, 10**5, 10**4, 10**3):
        k = n // 10
        leak = math.ceil(1.1 * n * binary_entropy(q))
        lengths.append(tlgr_key_length(n, k, q, leak, 1e-10, 1e-15) / n)
    assert all(a >= b for a, b in itertools.pairwise(lengths))
    assert lengths[-1] == 0


def test_key_shrinks_to_zero_as_qber_rises():
    n = 10**5
    previous = math.inf
    for q in np.linspace(0.0, 0.12, 13):
        bound = phase_error_bound(ErrorSample(round(q * 10_000), 10_000), n, 1e-10)
        length = finite_key_length(n, bound, math.ceil(1.1 * n * binary_entropy(q)), 1e-10)
        assert length <= previous
        previous = length
    assert previous == 0


def test_hypergeometric_bound_is_a_valid_confidence_limit():
    errors, k, n, failure = 5, 200, 300, 1e-3
    upper = hypergeometric_upper_errors(errors, k, n, failure)
    # one more error in the population would make the observation too unlikely
    assert hypergeom.cdf(errors, n + k, errors + upper + 1, k) <= failure
    assert hypergeom.cdf(errors, n + k, errors + upper, k) > failure


def test_hypergeometric_tighter_than_serfling():
    for errors, k, n in [(77, 1700, 1700), (300, 10_000, 100_000), (0, 500, 5000)]:
        s = ErrorSample(errors, k)
        assert phase_error_bound(s, n, 1e-10) <= phase_error_bound(s, n, 1e-10, method="serfling")


def test_two_basis_key_at_the_micius_operating_point():
    """3410 sifted bits, QBER 4.5 %, f = 1.19, eps 1e-10: the one statement (266 bits)."""
    n, qber = 3410, 0.045
    sizes = (n // 2, n - n // 2)
    errors = [round(qber * size) for size in sizes]
    leaked = math.ceil(1.19 * n * binary_entropy(qber)) + 34
    key = two_basis_key(errors, sizes, leaked, 1e-10)
    assert key.final_bits == 266
    # Independent recomputation: each basis's phase errors from the other's bit errors, two
    # estimates sharing (eps/2)^2, then the TLGR length over all n bits.
    failure = (1e-10 / 2) ** 2 / 2
    uppers = [hypergeometric_upper_errors(errors[1 - b], sizes[1 - b], sizes[b], failure) for b in (0, 1)]
    phase = sum(uppers) / n
    assert key.phase_error_bound == pytest.approx(phase, rel=1e-12)
    expected = math.floor(n * (1 - binary_entropy(phase)) - leaked - math.log2(2 / 1e-20))
    assert key.final_bits == max(0, expected)
    # TLGR with Serfling is too loose there; the asymptotic length exceeds the published 372.
    assert two_basis_key(errors, sizes, leaked, 1e-10, bound="serfling").final_bits == 0
    assert key.final_bits < 372 < key.asymptotic_bits


def test_two_basis_key_rejects_impossible_counts():
    with pytest.raises(ValidationError, match="errors"):
        two_basis_key([5, 200], (100, 100), 0, 1e-10)


@pytest.mark.parametrize("estimates", [1, 2, 5])
def test_phase_error_failure_splits_the_budget_over_estimates(estimates):
    failure = (1e-10 / 2) ** 2 / estimates
    assert phase_error_failure(1e-10, estimates) == pytest.approx(failure, rel=1e-12)
    s, n = ErrorSample(77, 1700), 1700
    upper = hypergeometric_upper_errors(77, 1700, n, failure)
    assert phase_error_bound(s, n, 1e-10, estimates=estimates) == upper / n
    # Serfling: exp(-2 n k^2 mu^2 / ((n + k)(k + 1))) = failure
    k = s.size
    mu = math.sqrt((n + k) * (k + 1) / (2 * n * k**2) * math.log(1 / failure))
    serf = phase_error_bound(s, n, 1e-10, method="serfling", estimates=estimates)
    assert serf == pytest.approx(min(0.5, s.rate + mu), rel=1e-9)
    with pytest.raises(ValidationError, match="estimates"):
        phase_error_failure(1e-10, 0)


def test_estimate_qber_removes_sample(channel, make_pair):
    rng = np.random.default_rng(0)
    a, b = make_pair(rng, 20_000, 0.05)
    sample, a2, b2 = estimate_qber(a, b, channel, sample_size=2000, rng_alice=rng)
    assert a2.size == b2.size == 18_000
    assert abs(sample.rate - 0.05) < 0.02
    assert channel.disclosed_bits == 0
    with pytest.raises(ValidationError, match="sample_size"):
        estimate_qber(a, b, channel, sample_size=20_000, rng_alice=rng)


def test_error_sample_validation():
    with pytest.raises(ValidationError, match="errors"):
        ErrorSample(5, 3)
    with pytest.raises(ValidationError, match="size"):
        ErrorSample(0, 0)
