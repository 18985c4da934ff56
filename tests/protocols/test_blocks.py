"""Distillation in blocks: bounded memory, eps split over blocks, figures summed."""

import math

import numpy as np
import pytest
from channel_spy import run_with_channel

from qentangle.channel import ClassicalChannel
from qentangle.distill.chain import distill
from qentangle.distill.estimate import binary_entropy
from qentangle.distill.finite_key import device_independent_phase_error
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.protocols.bbm92 import run_bbm92
from qentangle.protocols.e91 import run_e91
from qentangle.protocols.keying import KeyOptions, block_plan, merge_distillations


def test_block_plan_splits_eps_so_that_the_blocks_add_up():
    options = KeyOptions(block_bits=1024)
    blocks, eps_sec, eps_cor = block_plan(4500, options)
    assert blocks == 5
    assert blocks * eps_sec == pytest.approx(options.eps_sec)
    assert blocks * eps_cor == pytest.approx(options.eps_cor)
    assert block_plan(1024, options)[0] == 1
    with pytest.raises(ValidationError, match="block_bits"):
        KeyOptions(block_bits=10)


@pytest.mark.parametrize("p_z", [0.5, 0.7])
def test_bbm92_in_blocks_keeps_identical_keys_and_sums_the_figures(p_z):
    options = KeyOptions(block_bits=16_384, sample_fraction=0.3)
    result, channel = run_with_channel(
        lambda: run_bbm92(160_000, p_z=p_z, noise=NoiseConfig(depolarizing=0.02), seed=3, key_options=options)
    )
    data = result.to_dict()
    blocks = data["key_blocks"]
    assert blocks == math.ceil(data["sifted_bits"] / 16_384) >= 4
    assert not result.aborted and data["keys_match"]
    chain = result.key.distillation
    assert np.array_equal(chain.alice_key, chain.bob_key) and chain.alice_key.size == data["final_key_bits"]
    # One estimation, correction, verification and amplification per block, each with eps / B.
    kinds = [m.kind for m in channel.transcript]
    assert kinds.count("amplify/seed") == kinds.count("verify/tag") == blocks
    assert chain.eps_sec == pytest.approx(options.eps_sec) and data["eps_sec"] == options.eps_sec
    # Leakage is what crossed the channel; the key is at most the sum of the blocks' bounds.
    assert data["leaked_bits"] == channel.disclosed_bits
    assert data["final_key_bits"] == data["finite_key_bits"] <= data["distilled_bits"] - data["leaked_bits"]


def test_e91_in_blocks_uses_each_blocks_share_of_eps_for_s():
    options = KeyOptions(block_bits=16_384)
    result = run_e91(400_000, noise=NoiseConfig(depolarizing=0.02), seed=4, key_options=options)
    data = result.to_dict()
    assert data["key_blocks"] >= 3 and not result.aborted and data["keys_match"]
    n = np.array([c["n"] for c in data["correlators"]])
    failure = (options.eps_sec / data["key_blocks"] / 2) ** 2 / 2  # S shares the budget with the sample
    s_low = result.S_raw - float(np.sum(np.sqrt(2 * math.log(4 / failure) / n)))
    assert data["phase_error_upper"] == pytest.approx(device_independent_phase_error(s_low))


def test_two_basis_estimation_in_blocks():
    options = KeyOptions(block_bits=16_384, estimation="ec")
    result, channel = run_with_channel(
        lambda: run_bbm92(120_000, noise=NoiseConfig(depolarizing=0.04), seed=6, key_options=options)
    )
    data = result.to_dict()
    assert data["key_blocks"] >= 3 and not result.aborted and data["keys_match"]
    announced = [m.payload for m in channel.transcript if m.kind == "estimate/ec-errors-per-basis"]
    assert len(announced) == data["key_blocks"]
    errors = np.sum(announced, axis=0)
    assert result.qber_z == pytest.approx(errors[0] / result.sifted_z)
    assert result.qber_x == pytest.approx(errors[1] / result.sifted_x)


def test_one_block_aborting_aborts_the_run():
    """A clean half then a noisy half: the second block's QBER aborts, and no key is kept."""
    schedule = [(NoiseConfig(), 40_000), (NoiseConfig(depolarizing=0.5), 40_000)]
    options = KeyOptions(block_bits=20_000, sample_fraction=0.3)
    result = run_bbm92(schedule=schedule, seed=2, key_options=options)
    data = result.to_dict()
    assert data["key_blocks"] == 2 and result.aborted
    assert data["abort_reason"].startswith("block 2/2: QBER upper bound")
    assert data["final_key_bits"] == 0 and data["keys_match"] is None
    assert data["leaked_bits"] > 0  # the first block was corrected before the second aborted


def test_merging_blocks_sums_bits_and_weights_efficiency():
    rng = np.random.default_rng(8)
    results = []
    for n, qber in ((30_000, 0.02), (50_000, 0.04)):
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
        results.append(distill(alice, bob, ClassicalChannel.with_random_key(rng), rng_alice=rng))
    merged = merge_distillations(results)
    for name in ("sifted_bits", "final_key_bits", "leaked_bits", "ec_leaked_bits", "reconciled_bits"):
        assert getattr(merged, name) == sum(getattr(r, name) for r in results)
    ideal = sum(r.reconciled_bits * binary_entropy(r.corrected_bits / r.reconciled_bits) for r in results)
    assert merged.ec_efficiency == pytest.approx(merged.ec_leaked_bits / ideal)
    assert merged.keys_match and merged.alice_key.size == merged.final_key_bits
    aborted = merge_distillations(results, "block 3/3: something")
    assert aborted.aborted and aborted.final_key_bits == 0 and aborted.keys_match is None
