"""Two-basis distillation: every sifted bit is key, EC counts errors, the other basis bounds phase errors."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qentangle.channel import ClassicalChannel
from qentangle.distill.chain import distill_two_basis
from qentangle.distill.estimate import ErrorSample, phase_error_bound
from qentangle.distill.finite_key import finite_key_length
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.protocols.bbm92 import run_bbm92
from qentangle.protocols.keying import KeyOptions


def noisy_pair(seed: int, n: int, qber: float):
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
    return rng, alice, bob, rng.integers(0, 2, n, dtype=np.uint8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), qber=st.floats(0.0, 0.12), n=st.integers(2_000, 20_000))
def test_keys_identical_or_aborted_and_never_longer_than_the_bound(seed, qber, n):
    rng, alice, bob, labels = noisy_pair(seed, n, qber)
    channel = ClassicalChannel.with_random_key(rng)
    result = distill_two_basis(alice, bob, labels, channel, qber_hint=max(qber, 0.01), rng_alice=rng)
    assert result.leaked_bits == channel.disclosed_bits
    if result.aborted:
        assert result.final_key_bits == 0
        return
    assert result.keys_match and np.array_equal(result.alice_key, result.bob_key)
    bound = finite_key_length(
        result.reconciled_bits, result.phase_error_bound, result.leaked_bits, result.eps_sec
    )
    assert 0 < result.final_key_bits <= bound


def test_phase_bound_comes_from_the_other_basis():
    rng, alice, bob, labels = noisy_pair(5, 20_000, 0.04)
    channel = ClassicalChannel.with_random_key(rng)
    result = distill_two_basis(alice, bob, labels, channel, qber_hint=0.04, rng_alice=rng)
    errors = next(m.payload for m in channel.transcript if m.kind == "estimate/ec-errors-per-basis")
    wrong = alice != bob
    assert errors == [int(np.count_nonzero(wrong & (labels == b))) for b in (0, 1)]
    sizes = [int(np.count_nonzero(labels == b)) for b in (0, 1)]
    # The two per-basis bounds hold together: each gets half the failure budget.
    bounds = [
        phase_error_bound(ErrorSample(errors[1 - b], sizes[1 - b]), sizes[b], 1e-10, estimates=2)
        for b in (0, 1)
    ]
    assert result.phase_error_bound == pytest.approx((bounds[0] * sizes[0] + bounds[1] * sizes[1]) / 20_000)


def test_micius_sized_block_keeps_a_key():
    """3400 sifted bits at QBER 4.5 %, eps 1e-10: Micius kept 372 bits; a usable bound must keep some."""
    finals = []
    for seed in range(6):
        rng, alice, bob, labels = noisy_pair(seed, 3400, 0.045)
        result = distill_two_basis(
            alice, bob, labels, ClassicalChannel.with_random_key(rng), qber_hint=0.045, rng_alice=rng
        )
        finals.append(result.final_key_bits)
    assert 150 <= np.mean(finals) <= 600


def test_bbm92_with_ec_estimation_discloses_no_sample():
    result = run_bbm92(
        200_000, noise=NoiseConfig(depolarizing=0.06), seed=3, key_options=KeyOptions(estimation="ec")
    )
    data = result.to_dict()
    assert data["qber_sample_bits"] == 0 and data["sample_bits"] == 0
    assert data["keys_match"] and data["final_key_bits"] > 0
    assert abs(result.qber_z - 0.03) < 0.005 and abs(result.qber_x - 0.03) < 0.005


def test_ec_estimation_needs_symmetric_bases():
    with pytest.raises(ValidationError, match="p_z"):
        run_bbm92(10_000, p_z=0.8, key_options=KeyOptions(estimation="ec"))
    with pytest.raises(ValidationError, match="distill"):
        KeyOptions(estimation="ec", distill=False)
