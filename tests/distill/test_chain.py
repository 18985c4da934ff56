import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from qentangle.channel import ClassicalChannel, Message
from qentangle.distill import ErrorSample, distill, phase_error_bound
from qentangle.distill.chain import distill_two_basis
from qentangle.errors import AuthenticationError, ProtocolAbort, ValidationError


def _run(n, q, seed, **kwargs):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    return distill(a, b, ch, rng_alice=np.random.default_rng(seed + 1), **kwargs), ch


# --- an independent recomputation of the finite-key bound, from raw inputs and the transcript ---

ZERO_DISCLOSURE = {  # kinds that carry no information about the final key's input bits
    "estimate/positions-seed", "estimate/sample", "estimate/errors", "cascade/pass-seed",
    "cascade/odd-blocks", "cascade/odd-halves", "ldpc/retry-request", "ldpc/discard",
    "ldpc/fallback-request",
    "verify/result", "estimate/ec-errors-per-basis", "amplify/seed",
}


def _transcript_leak(channel, eps_cor):
    """Bits disclosed, counted from what each message carried; checked against its declaration."""
    total = 0
    requested = 0
    for m in channel.transcript:
        kind, p = m.kind, m.payload
        if kind in ("cascade/block-parities", "cascade/parities"):
            assert 8 * p.size - 8 < m.disclosed_bits <= 8 * p.size
            bits = m.disclosed_bits
        elif kind in ("ldpc/syndromes", "ldpc/fallback-syndromes"):
            _, hash_seed, indices, rows, packed = p
            bits = int(np.sum(rows)) + (32 * len(indices) if hash_seed is not None else 0)
            assert packed.size == -(-bits // 8)
        elif kind == "ldpc/revealed-bits":
            bits = requested
            assert p.size == -(-bits // 8)
        elif kind == "verify/tag":
            bits = math.ceil(math.log2(1 / eps_cor))
            assert p[1].size == -(-bits // 8)
        else:
            assert kind in ZERO_DISCLOSURE, kind
            bits = 0
        if kind == "ldpc/retry-request":
            requested = sum(int(x.size) for x in p[1])
        assert m.disclosed_bits == bits, kind
        total += bits
    return total


def _upper_errors(errors, k, population, failure):
    """Errors among `population` unsampled bits, exceeded with probability <= failure (scipy)."""
    totals = np.arange(errors, errors + population + 1)
    ok = hypergeom.cdf(errors, population + k, totals, k) > failure
    return int(totals[ok].max()) - errors


def _kept_after_ldpc(channel, n, frame_bits):
    discarded = [m.payload for m in channel.transcript if m.kind == "ldpc/discard"]
    if not discarded:
        return n
    count = max(1, round(n / frame_bits))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return n - sum(int(edges[i + 1] - edges[i]) for i in np.asarray(discarded[-1]).tolist())


def _tlgr(n, phase_errors, leak, eps_sec):
    e = min(0.5, phase_errors / n) if n else 0.5
    h = 0.0 if e == 0 else -e * math.log2(e) - (1 - e) * math.log2(1 - e)
    return math.floor(n * (1 - h) - leak - math.log2(2 / eps_sec**2))


def _property_case(n: int, q: float, seed: int, ec: str):
    """Alice's random bits, Bob's with i.i.d. flips at rate q, their generator and a channel."""
    if ec == "ldpc":
        n = min(n, 6000)  # LDPC decoding is slow; a few frames suffice
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    return n, a, b, rng, ClassicalChannel.with_random_key(rng, nbytes=1 << 20)


def _leak_counted_and_keys_identical_or_aborted(result, ch) -> int:
    """Leakage equals what crossed the channel; keys identical, or an abort with no key."""
    leak = _transcript_leak(ch, 1e-15)
    assert result.leaked_bits == leak == ch.disclosed_bits
    if result.aborted:
        assert result.final_key_bits == 0 and result.abort_reason and result.alice_key.size == 0
    else:
        assert result.keys_match and np.array_equal(result.alice_key, result.bob_key)
    return leak


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(200, 30_000),
    q=st.floats(0.0, 0.12),
    seed=st.integers(0, 2**31),
    ec=st.sampled_from(["cascade", "cascade", "ldpc"]),
)
def test_keys_identical_or_aborted_and_bounded(n, q, seed, ec):
    n, a, b, _, ch = _property_case(n, q, seed, ec)
    result = distill(a, b, ch, ec=ec, ldpc_frame_bits=3000, rng_alice=np.random.default_rng(seed + 1))
    leak = _leak_counted_and_keys_identical_or_aborted(result, ch)
    if result.aborted:
        return
    # The sample: positions from the public seed, errors from the raw inputs.
    k = min(n - 1, max(1, round(0.1 * n)))
    seed_msg = next(m.payload for m in ch.transcript if m.kind == "estimate/positions-seed")
    where = np.random.default_rng(seed_msg).choice(n, size=k, replace=False)
    errors = int(np.count_nonzero(a[where] != b[where]))
    phase = _upper_errors(errors, k, n - k, (1e-10 / 2) ** 2)  # over all n - k key bits
    kept = _kept_after_ldpc(ch, n - k, 3000) if ec == "ldpc" else n - k
    assert result.final_key_bits == result.alice_key.size <= _tlgr(kept, phase, leak, 1e-10)
    assert result.final_key_bits <= result.asymptotic_key_bits


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2_000, 20_000),
    q=st.floats(0.0, 0.12),
    seed=st.integers(0, 2**31),
    ec=st.sampled_from(["cascade", "ldpc"]),
)
def test_two_basis_keys_identical_or_aborted_and_bounded(n, q, seed, ec):
    n, a, b, rng, ch = _property_case(n, q, seed, ec)
    labels = rng.integers(0, 2, n, dtype=np.uint8)
    result = distill_two_basis(
        a, b, labels, ch, ec=ec, qber_hint=max(q, 0.01), ldpc_frame_bits=3000,
        rng_alice=np.random.default_rng(seed + 1),
    )
    leak = _leak_counted_and_keys_identical_or_aborted(result, ch)
    if result.aborted:
        return
    # Phase errors of each basis from the raw bit errors of the other, over all sifted bits;
    # bits of discarded LDPC frames count as errors; the two bounds share (eps/2)^2.
    kept = np.ones(n, dtype=bool)
    discarded = [m.payload for m in ch.transcript if m.kind == "ldpc/discard"]
    if discarded:
        count = max(1, round(n / 3000))
        edges = np.linspace(0, n, count + 1).round().astype(int)
        for i in np.asarray(discarded[-1]).tolist():
            kept[edges[i] : edges[i + 1]] = False
    wrong = (a != b) | ~kept
    sizes = [int(np.count_nonzero(labels == v)) for v in (0, 1)]
    errs = [int(np.count_nonzero(wrong & (labels == v))) for v in (0, 1)]
    failure = (1e-10 / 2) ** 2 / 2
    phase = sum(_upper_errors(errs[1 - v], sizes[1 - v], sizes[v], failure) for v in (0, 1))
    assert result.final_key_bits == result.alice_key.size <= _tlgr(int(kept.sum()), phase, leak, 1e-10)


def test_two_basis_bounds_share_the_failure_probability():
    """Each basis's bound fails with (eps/2)^2 / 2, so both hold with (eps/2)^2."""
    rng = np.random.default_rng(21)
    n = 6000
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.03).astype(np.uint8)
    labels = rng.integers(0, 2, n, dtype=np.uint8)
    ch = ClassicalChannel.with_random_key(rng)
    r = distill_two_basis(a, b, labels, ch, qber_hint=0.03, rng_alice=rng)
    sizes = [int(np.count_nonzero(labels == v)) for v in (0, 1)]
    errs = [int(np.count_nonzero((a != b) & (labels == v))) for v in (0, 1)]
    for failure, expect_equal in (((1e-10 / 2) ** 2 / 2, True), ((1e-10 / 2) ** 2, False)):
        phase = sum(_upper_errors(errs[1 - v], sizes[1 - v], sizes[v], failure) for v in (0, 1))
        assert (r.phase_error_bound == pytest.approx(phase / n)) is expect_equal


def test_secret_fraction_is_per_sifted_bit_entering_distillation():
    result, _ = _run(20_000, 0.02, 4)
    assert result.secret_fraction == result.final_key_bits / 20_000  # sample bits included
    rng = np.random.default_rng(8)
    a = rng.integers(0, 2, 18_000, dtype=np.uint8)
    b = a ^ (rng.random(18_000) < 0.02).astype(np.uint8)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    r = distill(a, b, ch, sample_fraction=0.0, disclosed_sample=ErrorSample(40, 2000), rng_alice=rng)
    assert not r.aborted and r.sifted_bits == 18_000
    assert r.secret_fraction == pytest.approx(r.final_key_bits / 20_000)


def test_abort_only_when_the_finite_key_is_not_positive():
    """No minimum length: a run whose finite-key length is 1 to 15 bits keeps that key."""
    short = []
    for n in range(120, 170, 3):
        a = np.random.default_rng(n).integers(0, 2, n, dtype=np.uint8)
        ch = ClassicalChannel.with_random_key(np.random.default_rng(0))
        r = distill(a, a.copy(), ch, sample_fraction=0.0, phase_error=0.0, qber_hint=0.02,
                    rng_alice=np.random.default_rng(n))
        if r.aborted:
            assert r.final_key_bits == 0 and r.finite_key_bits == 0
        else:
            assert r.final_key_bits == r.finite_key_bits >= 1 and r.keys_match
            short.append(r.final_key_bits)
    assert any(length < 16 for length in short), short


def test_ldpc_underestimated_qber_still_decodes_with_an_upper_limit():
    """True QBER ~1 %, the sample saw 0.5 %: the code sized from the estimate fails every frame."""
    rng = np.random.default_rng(0)
    n = 12_000
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.0096).astype(np.uint8)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    r = distill(a, b, ch, ec="ldpc", sample_fraction=0.0, disclosed_sample=ErrorSample(7, 1400),
                ldpc_frame_bits=6000, rng_alice=rng)
    assert not r.aborted and r.keys_match and r.frame_error_rate == 0.0
    assert ch.disclosed_bits_of("ldpc/fallback-syndromes") > 0
    assert r.leaked_bits == ch.disclosed_bits


def test_ldpc_all_frames_failing_gives_an_explicit_reason():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 6000, dtype=np.uint8)
    b = a ^ (rng.random(6000) < 0.06).astype(np.uint8)
    ch = ClassicalChannel.with_random_key(rng, nbytes=1 << 20)
    r = distill(a, b, ch, ec="ldpc", sample_fraction=0.0, disclosed_sample=ErrorSample(0, 4000),
                ldpc_frame_bits=3000, rng_alice=rng)
    assert r.aborted and r.abort_reason == "all LDPC frames failed to decode"
    assert r.leaked_bits == ch.disclosed_bits


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
