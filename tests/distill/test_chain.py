import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qentangle.channel import ClassicalChannel, Message
from qentangle.distill import ErrorSample, distill, phase_error_bound
from qentangle.distill.finite_key import finite_key_length
from qentangle.errors import AuthenticationError, ProtocolAbort, ValidationError


def _run(n, q, seed, **kwargs):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    return distill(a, b, ch, rng_alice=np.random.default_rng(seed + 1), **kwargs), ch


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(200, 30_000),
    q=st.floats(0.0, 0.12),
    seed=st.integers(0, 2**31),
    ec=st.sampled_from(["cascade", "cascade", "ldpc"]),
)
def test_keys_identical_or_aborted_and_bounded(n, q, seed, ec):
    if ec == "ldpc":
        n = min(n, 6000)
    result, ch = _run(n, q, seed, ec=ec, ldpc_frame_bits=3000)
    assert result.leaked_bits == ch.disclosed_bits == sum(m.disclosed_bits for m in ch.transcript)
    assert result.leaked_bits == result.ec_leaked_bits + result.verification_bits
    if result.aborted:
        assert result.final_key_bits == 0 and result.abort_reason
        return
    assert result.keys_match
    assert np.array_equal(result.alice_key, result.bob_key)
    # never longer than the finite-key bound recomputed from the public record
    phase = min(0.5, result.phase_error_bound * (result.sifted_bits - result.sample_bits)
                / result.reconciled_bits)
    bound = finite_key_length(result.reconciled_bits, phase, result.leaked_bits, result.eps_sec)
    assert result.final_key_bits == result.finite_key_bits <= bound
    assert result.final_key_bits <= result.asymptotic_key_bits


def test_result_to_dict_is_json_and_keyless():
    result, _ = _run(20_000, 0.02, 4)
    data = result.to_dict()
    text = json.dumps(data)
    assert "alice_key" not in data and "bob_key" not in data
    assert "alice_key" not in repr(result)
    for name in ("final_key_bits", "keys_match", "leaked_bits", "ec_efficiency",
                 "secret_fraction", "asymptotic_key_bits", "eps_sec", "eps_cor",
                 "auth_key_bits_used", "aborted", "abort_reason", "frame_error_rate"):
        assert name in data
    assert len(text) < 3000  # no bit arrays
    assert result.final_key_bits == result.alice_key.size > 0
    assert result.ec_efficiency is not None and 1.0 < result.ec_efficiency < 1.3


def test_high_qber_aborts_as_result_or_exception():
    result, _ = _run(10_000, 0.2, 5)
    assert result.aborted and "QBER" in result.abort_reason
    assert result.alice_key.size == 0
    with pytest.raises(ProtocolAbort):
        _run(10_000, 0.2, 5, raise_on_abort=True)


def test_small_block_gives_no_key():
    result, _ = _run(300, 0.03, 6)
    assert result.aborted and result.final_key_bits == 0


def test_key_fraction_grows_with_block_size():
    fractions = [_run(n, 0.03, 7)[0].secret_fraction for n in (2_000, 10_000, 60_000)]
    assert fractions[0] <= fractions[1] <= fractions[2]


def test_phase_error_from_other_basis():
    rng = np.random.default_rng(9)
    n = 20_000
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.03).astype(np.uint8)
    other = ErrorSample(errors=600, size=20_000)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    r = distill(a, b, ch, sample_fraction=0.0, phase_sample=other, rng_alice=rng)
    assert not r.aborted and r.keys_match and r.sample_bits == 0
    assert r.phase_error_source == "other-basis"
    assert r.phase_error_bound == pytest.approx(phase_error_bound(other, n, 1e-10))


def test_tampering_raises_authentication_error():
    rng = np.random.default_rng(10)
    a = rng.integers(0, 2, 5000, dtype=np.uint8)

    def adversary(message: Message) -> Message:
        if message.kind.startswith("cascade/parities"):
            from dataclasses import replace

            payload = np.array(message.payload)
            payload[0] ^= 1
            return replace(message, payload=payload)
        return message

    ch = ClassicalChannel.with_random_key(rng, adversary=adversary)
    b = a ^ (rng.random(5000) < 0.03).astype(np.uint8)
    with pytest.raises(AuthenticationError):
        distill(a, b, ch, rng_alice=rng)


def test_validation_names_parameters():
    rng = np.random.default_rng(0)
    a = np.zeros(100, dtype=np.uint8)
    ch = ClassicalChannel.with_random_key(rng)
    with pytest.raises(ValidationError, match="bob_key"):
        distill(a, np.zeros(99, dtype=np.uint8), ch, rng_alice=rng)
    with pytest.raises(ValidationError, match="ec="):
        distill(a, a, ch, ec="turbo", rng_alice=rng)
    with pytest.raises(ValidationError, match="eps_sec"):
        distill(a, a, ch, eps_sec=0.0, rng_alice=rng)
    with pytest.raises(ValidationError, match="rng_alice"):
        distill(a, a, ch)
    with pytest.raises(ValidationError, match="alice_key"):
        distill(np.full(100, 3), a, ch, rng_alice=rng)
    with pytest.raises(ValidationError, match="sample_fraction"):
        distill(a, a, ch, sample_fraction=0.0, rng_alice=rng)
