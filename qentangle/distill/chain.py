"""The whole key-distillation chain between two endpoints over an authenticated channel.

``distill`` runs, in order: parameter estimation (a disclosed random sample, removed from the
key), error correction (Cascade or LDPC syndrome decoding), verification (Toeplitz tag),
finite-key length (TLGR with an exact hypergeometric phase-error bound, see
:mod:`qentangle.distill.finite_key`) and Toeplitz privacy amplification. Alice's and Bob's
steps only see their own bits, their own generator and the channel's copies of messages; the
result is computed from what crossed the channel, except the fields marked *diagnostic*
(``keys_match``, ``true_qber``), which compare both sides as only a simulation can.

Each endpoint's half is a *party program* (:func:`distill_party`, built from
:func:`sample_party`, :func:`cascade_party` or :func:`ldpc_party`, :func:`verify_party` and
:func:`amplify_party`; see :mod:`qentangle.channel_transport`). ``distill`` runs both halves in
lockstep over the in-process channel; a network station runs its own half over TCP. One
definition of the chain, two ways to run it. Both halves take every decision (abort rules,
code rates, key length) from public data, so they reach it without a message.

Key bits never appear in ``repr``, ``to_dict``, errors or logs; they are the separate
attributes ``alice_key`` and ``bob_key``.

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> rng = np.random.default_rng(11)
>>> alice = rng.integers(0, 2, 50_000, dtype=np.uint8)
>>> bob = alice ^ (rng.random(50_000) < 0.02).astype(np.uint8)
>>> channel = ClassicalChannel.with_random_key(rng)
>>> result = distill(alice, bob, channel, rng_alice=np.random.default_rng(1))
>>> result.aborted, result.keys_match, result.final_key_bits > 20_000
(False, True, True)
>>> result.leaked_bits == channel.disclosed_bits
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.channel_transport import PartyEnd, PartyProgram, Recv, run_lockstep
from qentangle.distill._bits import as_bits, check_rng, random_bits
from qentangle.distill.amplify import privacy_amplification, toeplitz_hash
from qentangle.distill.cascade import (
    _BUCKET_MIN_BITS,
    _LATE_BITS,
    DEFAULT_PASSES,
    CascadeAlice,
    CascadeBob,
    _PublicTable,
    block_sizes,
    cascade_reconcile,
)
from qentangle.distill.estimate import (
    BOUND_METHODS,
    EPS_COR,
    EPS_SEC,
    ErrorSample,
    SamplingAlice,
    SamplingBob,
    _sample_mask,
    binary_entropy,
    hypergeometric_upper_errors,
    phase_error_bound,
    sample_size_for,
)
from qentangle.distill.finite_key import (
    asymptotic_key_length,
    finite_key_length,
    secret_fraction,
    two_basis_key,
)
from qentangle.distill.ldpc_ec import (
    DEFAULT_FRAME_BITS,
    FALLBACK_AFTER,
    _frames,
    _initial_rows,
    _LdpcAlice,
    _LdpcBob,
)
from qentangle.distill.verify import tag_bits, verify_keys
from qentangle.errors import (
    ProtocolAbort,
    ValidationError,
    check_choice,
    check_positive_int,
    check_probability,
    check_range,
)
from qentangle.jsonout import json_safe
from qentangle.params import Param

EC_METHODS = ("cascade", "ldpc")
#: Security parameters and the abort threshold, declared once (the CLI builds its options from them).
MAX_QBER = Param("max_qber", float, low=0.0, high=0.5, default=0.11, metavar="Q",
                 help="abort when the estimated QBER (its upper bound) exceeds this")
# Error correction is tuned to the QBER estimate; LDPC's blind retries may disclose up to what
# this upper confidence limit of the QBER needs (an efficiency setting, not a security one).
EC_QBER_FAILURE = 1e-6


@dataclass(frozen=True)
class DistillationResult:
    """Outcome of :func:`distill`. ``to_dict()`` is JSON-safe and holds no key bits.

    Lengths are in bits. ``leaked_bits = ec_leaked_bits + verification_bits`` is exactly the
    information disclosed on the channel during the run, and is what enters the key length.
    ``sifted_bits`` is the length of the keys given to the call; ``secret_fraction`` is
    ``final_key_bits`` per sifted bit that entered the distillation: ``sifted_bits`` plus, when
    the caller disclosed a sample of the same key beforehand (``disclosed_sample``), that
    sample's size. ``keys_match`` and ``true_qber`` are *simulation diagnostics* (they compare
    both sides).
    """

    sifted_bits: int
    sample_bits: int
    reconciled_bits: int
    final_key_bits: int
    qber_estimate: float | None
    qber_upper_bound: float | None
    phase_error_estimate: float | None
    phase_error_bound: float | None
    phase_error_source: str
    bound_method: str
    ec_method: str
    ec_leaked_bits: int
    verification_bits: int
    leaked_bits: int
    corrected_bits: int
    ec_efficiency: float | None
    frame_error_rate: float
    discarded_bits: int
    asymptotic_key_bits: int
    finite_key_bits: int
    secret_fraction: float
    eps_sec: float
    eps_cor: float
    auth_key_bits_used: int
    messages: int
    aborted: bool
    abort_reason: str | None
    keys_match: bool | None
    true_qber: float | None
    basis_errors: tuple[int, int] | None = None
    """Two-basis mode: the bit errors error correction found in each basis (Z, X), announced."""
    basis_bits: tuple[int, int] | None = None
    """Two-basis mode: the reconciled key bits of each basis (Z, X)."""
    alice_key: np.ndarray = field(default=None, repr=False, compare=False)
    bob_key: np.ndarray = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (no key bits)."""
        data = asdict(self)
        data.pop("alice_key")
        data.pop("bob_key")
        return json_safe(data)


def distill(
    alice_key: Any,
    bob_key: Any,
    channel: ClassicalChannel,
    *,
    ec: str = "cascade",
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
    sample_fraction: float = 0.1,
    qber_hint: float | None = None,
    phase_sample: ErrorSample | None = None,
    phase_error: float | None = None,
    phase_error_estimate: float | None = None,
    disclosed_sample: ErrorSample | None = None,
    bound: str = "hypergeometric",
    max_qber: float = 0.11,
    rng_alice: np.random.Generator | None = None,
    rng_bob: np.random.Generator | None = None,
    cascade_passes: int = DEFAULT_PASSES,
    ldpc_frame_bits: int | None = None,
    raise_on_abort: bool = False,
) -> DistillationResult:
    """Distil two sifted keys into identical secret keys (or an abort).

    Parameters
    ----------
    alice_key, bob_key:
        Each endpoint's sifted bits (equal length). Alice's code reads only ``alice_key``,
        Bob's only ``bob_key``.
    channel:
        The authenticated :class:`~qentangle.channel.ClassicalChannel`; everything that crosses
        goes through it and its disclosed bits are the leakage.
    ec:
        ``"cascade"`` (interactive) or ``"ldpc"`` (one-way syndrome decoding).
    eps_sec, eps_cor:
        Secrecy and correctness parameters of the composable finite-key bound.
    sample_fraction:
        Fraction of the sifted key disclosed (and removed) to estimate the QBER. May be 0 when
        the phase error comes from elsewhere (``phase_sample`` / ``phase_error``); then
        ``qber_hint`` (or the phase sample's rate) sets the error-correction parameters.
    phase_sample:
        BBM92: errors observed in the *other* basis; the phase error of the key is bounded from
        it by random sampling (population = key bits + sample). Default: the key's own sample,
        which assumes basis symmetry (the key would show the same error rate in the conjugate
        basis): true of a symmetric simulated source and channel, an unchecked assumption for
        real data (use :func:`distill_two_basis` or a ``phase_sample`` there).
    phase_error:
        An upper bound on the phase-error rate already valid at ``eps_sec`` (used as given);
        ``phase_error_estimate`` is then its point estimate, for the asymptotic key length.
    disclosed_sample:
        A sample of this key that the caller already disclosed and removed (with
        ``sample_fraction=0``): it gives the QBER estimate and, without ``phase_sample`` or
        ``phase_error``, the phase-error bound (source ``"key-sample"``).
    bound:
        ``"hypergeometric"`` (exact tail, default) or ``"serfling"`` (TLGR's ``mu``).
    max_qber:
        Abort before error correction when the estimated QBER exceeds it.
    rng_alice, rng_bob:
        Each endpoint's generator (seeds, samples, hash seeds are drawn by Alice).
    raise_on_abort:
        Raise :class:`~qentangle.errors.ProtocolAbort` instead of returning an aborted result.

    Tampering with the channel raises :class:`~qentangle.errors.AuthenticationError`.

    >>> import numpy as np
    >>> from qentangle.channel import ClassicalChannel
    >>> rng = np.random.default_rng(7)
    >>> alice = rng.integers(0, 2, 20_000, dtype=np.uint8)
    >>> bob = alice ^ (rng.random(20_000) < 0.03).astype(np.uint8)  # 3 % bit errors
    >>> result = distill(alice, bob, ClassicalChannel.with_random_key(rng), rng_alice=rng)
    >>> result.aborted, result.keys_match, result.final_key_bits == result.alice_key.size > 0
    (False, True, True)
    >>> "alice_key" in result.to_dict()  # key bits stay in the result object, never in its dict
    False
    """
    a_key = as_bits("alice_key", alice_key, min_length=2)
    b_key = as_bits("bob_key", bob_key, min_length=2)
    if a_key.size != b_key.size:
        raise ValidationError(
            f"bob_key has {b_key.size} bits but alice_key has {a_key.size}: expected equal lengths"
        )
    if not isinstance(channel, ClassicalChannel):
        raise ValidationError(f"channel={type(channel).__name__} is not valid: expected a ClassicalChannel")
    check_choice("ec", ec, EC_METHODS)
    check_choice("bound", bound, BOUND_METHODS)
    eps_sec = EPS_SEC.check(eps_sec)
    eps_cor = EPS_COR.check(eps_cor)
    sample_fraction = check_range("sample_fraction", sample_fraction, 0.0, 1.0, high_open=True)
    max_qber = MAX_QBER.check(max_qber)
    if qber_hint is not None:
        qber_hint = check_probability("qber_hint", qber_hint, upper=0.5)
    if phase_error is not None:
        phase_error = check_probability("phase_error", phase_error, upper=0.5)
    if phase_sample is not None and not isinstance(phase_sample, ErrorSample):
        raise ValidationError(
            f"phase_sample={type(phase_sample).__name__} is not valid: expected an ErrorSample"
        )
    if phase_sample is not None and phase_error is not None:
        raise ValidationError("phase_sample and phase_error are exclusive: give at most one")
    if disclosed_sample is not None and not isinstance(disclosed_sample, ErrorSample):
        raise ValidationError(
            f"disclosed_sample={type(disclosed_sample).__name__} is not valid: expected an ErrorSample"
        )
    if disclosed_sample is not None and sample_fraction > 0.0:
        raise ValidationError("disclosed_sample needs sample_fraction=0.0: the key was sampled already")
    if sample_fraction == 0.0 and phase_sample is None and phase_error is None and disclosed_sample is None:
        raise ValidationError(
            "sample_fraction=0.0 needs a phase-error source: give phase_sample, phase_error or "
            "disclosed_sample"
        )
    rng_alice = check_rng("rng_alice", rng_alice if rng_alice is not None else _missing())
    if rng_bob is not None:
        check_rng("rng_bob", rng_bob)

    plan = ChainPlan(
        ec=ec,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        sample_fraction=sample_fraction,
        qber_hint=qber_hint,
        phase_sample=phase_sample,
        phase_error=phase_error,
        phase_error_estimate=phase_error_estimate,
        disclosed_sample=disclosed_sample,
        bound=bound,
        max_qber=max_qber,
        cascade_passes=cascade_passes,
        ldpc_frame_bits=ldpc_frame_bits,
    )
    alice, bob = run_lockstep(
        channel,
        lambda end: distill_party(end, a_key, plan, rng=rng_alice),
        lambda end: distill_party(end, b_key, plan),
    )
    result = combine_sides(alice, bob)
    if result.aborted and raise_on_abort:
        raise ProtocolAbort(f"key distillation aborted: {result.abort_reason}")
    return result


@dataclass(frozen=True)
class ChainPlan:
    """The public parameters of one distillation, known to both endpoints (see :func:`distill`)."""

    ec: str = "cascade"
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    sample_fraction: float = 0.1
    qber_hint: float | None = None
    phase_sample: ErrorSample | None = None
    phase_error: float | None = None
    phase_error_estimate: float | None = None
    disclosed_sample: ErrorSample | None = None
    bound: str = "hypergeometric"
    max_qber: float = 0.11
    cascade_passes: int = DEFAULT_PASSES
    ldpc_frame_bits: int | None = None


@dataclass(frozen=True)
class PartySide:
    """One endpoint's outcome of :func:`distill_party`.

    ``result`` holds the public figures as this endpoint computed them (its own final key in
    its own key field, the other one empty); ``key`` is its final key (empty on abort).
    Bob's side alone knows how many bits error correction flipped (``corrected_bits``).
    """

    result: DistillationResult
    key: np.ndarray = field(repr=False)
    reconciled_input: np.ndarray = field(repr=False)  # the key after the sample, for diagnostics


def combine_sides(alice: PartySide, bob: PartySide) -> DistillationResult:
    """The in-process result: Alice's public figures, Bob's correction count and both keys.

    ``keys_match`` and ``true_qber`` compare both sides: simulation diagnostics.
    """
    result = alice.result
    a_in, b_in = alice.reconciled_input, bob.reconciled_input
    true_qber = float(np.count_nonzero(a_in != b_in)) / a_in.size if a_in.size == b_in.size > 0 else None
    return replace(
        result,
        corrected_bits=bob.result.corrected_bits,
        ec_efficiency=bob.result.ec_efficiency,
        keys_match=None if result.aborted else bool(np.array_equal(alice.key, bob.key)),
        true_qber=true_qber,
        alice_key=alice.key,
        bob_key=bob.key,
    )


def distill_party(
    end: PartyEnd, key: np.ndarray, plan: ChainPlan, *, rng: np.random.Generator | None = None
) -> PartyProgram[PartySide]:
    """One endpoint's half of :func:`distill` (a party program, see :mod:`qentangle.channel_transport`).

    ``end.role`` says which half: Alice (who needs ``rng``) draws every seed and sample; Bob
    corrects his key. The decisions (abort rules, code rates, key length) are computed by both
    from public data only, so both reach them without a message. :func:`distill` runs both
    halves in one process; a network station runs one half over TCP.
    """
    alice = end.role == "alice"
    if alice:
        rng = check_rng("rng_alice", rng if rng is not None else _missing())
    run = _Run(end, key.size, plan.eps_sec, plan.eps_cor, plan.ec, plan.bound)
    disclosed = plan.disclosed_sample
    run.sifted_total = key.size + (disclosed.size if disclosed is not None else 0)

    # 1. Parameter estimation on a disclosed random sample (removed from the key).
    sample: ErrorSample | None = None
    k = sample_size_for(key.size, plan.sample_fraction)
    if k > 0:
        sample, key = yield from sample_party(end, key, k, rng)
        run.sample_bits = k
        run.qber_estimate = sample.rate
        run.qber_upper = phase_error_bound(sample, key.size, plan.eps_sec, method=plan.bound)
    n = key.size
    sampled_key = key
    if disclosed is not None:
        sample = disclosed
        run.qber_estimate = sample.rate
        run.qber_upper = phase_error_bound(sample, n, plan.eps_sec, method=plan.bound)

    # Phase error: from the other basis, as given, or from the key's own sample.
    if plan.phase_error is not None:
        estimate = plan.phase_error if plan.phase_error_estimate is None else plan.phase_error_estimate
        run.phase_source, run.phase_estimate, run.phase_bound = "given", estimate, plan.phase_error
    else:
        psample = plan.phase_sample if plan.phase_sample is not None else sample
        assert psample is not None
        run.phase_source = "other-basis" if plan.phase_sample is not None else "key-sample"
        run.phase_estimate = psample.rate
        run.phase_bound = phase_error_bound(psample, n, plan.eps_sec, method=plan.bound)

    # QBER that tunes error correction, and an upper confidence limit for LDPC's retry budget.
    observed = sample if sample is not None else (plan.phase_sample if plan.qber_hint is None else None)
    if observed is not None:
        qber_ec = observed.rate
        qber_ec_max = hypergeometric_upper_errors(observed.errors, observed.size, n, EC_QBER_FAILURE) / n
    elif plan.qber_hint is not None:
        qber_ec, qber_ec_max = plan.qber_hint, plan.max_qber
    else:
        qber_ec = qber_ec_max = float(plan.phase_error or 0.0)
    if qber_ec > plan.max_qber:
        return run.side(f"estimated QBER {qber_ec:.4f} exceeds max_qber={plan.max_qber}", sampled_key)
    # Never tune EC for an exactly error-free channel estimate.
    qber_ec = max(qber_ec, 0.5 / sample.size if sample is not None else 0.0, 1e-3)
    qber_ec_max = min(0.5, max(qber_ec, qber_ec_max))

    # A cheap early exit: no key even if error correction disclosed nothing but the tag.
    if finite_key_length(n, run.phase_bound, tag_bits(plan.eps_cor), plan.eps_sec) < 1:
        return run.side("no positive finite key is possible at this block size and QBER", sampled_key)

    # 2. Error correction.
    before = end.disclosed_bits
    if plan.ec == "cascade":
        key, corrected = yield from cascade_party(end, key, qber_ec, rng, passes=plan.cascade_passes)
        discarded: list[int] = []
    else:
        key, discarded, corrected = yield from ldpc_party(
            end, key, (qber_ec, qber_ec_max), rng, frame_bits=plan.ldpc_frame_bits
        )
        frames = _frames(n, DEFAULT_FRAME_BITS if plan.ldpc_frame_bits is None else plan.ldpc_frame_bits)
        run.frame_error_rate = len(discarded) / len(frames)
        run.discarded = n - key.size
    run.ec_leak = end.disclosed_bits - before
    run.reconciled = key.size
    if not alice:
        run.corrected = corrected
        if corrected > 0 and key.size:
            run.efficiency = run.ec_leak / (key.size * binary_entropy(min(0.5, corrected / key.size)))
    if key.size == 0:
        return run.side("all LDPC frames failed to decode", sampled_key)

    # 3. Verification.
    before = end.disclosed_bits
    match = yield from verify_party(end, key, plan.eps_cor, rng)
    run.verify_bits = end.disclosed_bits - before
    if not match:
        return run.side("verification failed: reconciled keys differ", sampled_key)

    # 4. Key length. Phase errors of the kept bits: the bound's count over all n bits, spread on
    # the kept ones (never a count on the kept bits alone: discarding the LDPC frames that failed
    # to decode keeps the low-error ones).
    phase_rate = min(0.5, run.phase_bound * n / key.size)
    leaked = run.ec_leak + run.verify_bits
    run.finite = finite_key_length(key.size, phase_rate, leaked, plan.eps_sec)
    run.asymptotic = asymptotic_key_length(key.size, min(0.5, run.phase_estimate), leaked)
    if run.finite < 1:
        return run.side("finite-key length is not positive", sampled_key)

    # 5. Privacy amplification.
    final = yield from amplify_party(end, key, run.finite, rng)
    return run.side(None, sampled_key, final)


def sample_party(
    end: PartyEnd, key: np.ndarray, size: int, rng: np.random.Generator | None
) -> PartyProgram[tuple[ErrorSample, np.ndarray]]:
    """One endpoint's half of :func:`~qentangle.distill.estimate.estimate_qber`.

    Alice discloses ``size`` random positions of her key (by a public seed) and their bits; Bob
    announces the disagreements. Returns the error sample and this side's key without them.
    """
    if end.role == "alice":
        mask, _, _ = SamplingAlice(key, rng).choose(end, size)
        errors = yield Recv("estimate/errors")
    else:
        seed = yield Recv("estimate/positions-seed")
        packed = yield Recv("estimate/sample")
        errors = SamplingBob(key).compare(end, seed, packed, size)
        mask = _sample_mask(key.size, size, seed)
    return ErrorSample(int(errors), size), key[~mask]


def cascade_party(
    end: PartyEnd, key: np.ndarray, qber: float, rng: np.random.Generator | None, *, passes: int
) -> PartyProgram[tuple[np.ndarray, int]]:
    """One endpoint's half of Cascade: returns its (Bob: corrected) key and the bits corrected.

    The same steps as :func:`~qentangle.distill.cascade.cascade_reconcile`, with
    :class:`~qentangle.distill.cascade.CascadeAlice` / ``CascadeBob`` each on its own side: the
    bisections are public, so both sides follow them in step.
    """
    n = key.size
    if n < 2:
        raise ValidationError(f"key has {n} bits: expected at least 2 bits for Cascade")
    schedule = block_sizes(qber, n, passes)
    late = n >= _BUCKET_MIN_BITS
    table = _PublicTable(n, schedule, [_LATE_BITS if late and i >= 2 else 0 for i in range(len(schedule))])
    alice = end.role == "alice"
    me: CascadeAlice | CascadeBob = CascadeAlice(key, rng, table) if alice else CascadeBob(key, table)
    corrected = 0
    for _ in schedule:
        if isinstance(me, CascadeAlice):
            me.new_pass(end)
            me.set_odd_blocks((yield Recv("cascade/odd-blocks")))
        else:
            seed = yield Recv("cascade/pass-seed")
            me.new_pass(end, seed, (yield Recv("cascade/block-parities")))
        me.bisections.start(me.public)
        while len(me.bisections):
            if np.any(me.bisections.e - me.bisections.s > 1):
                if isinstance(me, CascadeAlice):
                    me.answer(end)
                    me.follow((yield Recv("cascade/odd-halves")))
                else:
                    me.compare(end, (yield Recv("cascade/parities")))
            corrected += me.settle_round().size
    return (key if alice else me.key), (0 if alice else corrected)


def ldpc_party(
    end: PartyEnd,
    key: np.ndarray,
    qbers: tuple[float, float],
    rng: np.random.Generator | None,
    *,
    frame_bits: int | None = None,
    max_retries: int = 12,
) -> PartyProgram[tuple[np.ndarray, list[int], int]]:
    """One endpoint's half of LDPC reconciliation (the steps of ``ldpc_reconcile``).

    ``qbers = (estimate, upper limit)``. Returns the kept (Bob: corrected) key, the discarded
    frames (public) and the bits Bob corrected. Bob announces an empty retry request when every
    frame decoded, so Alice knows when to stop without seeing his decoder.
    """
    qber, qber_max = qbers
    frame_bits = check_positive_int(
        "frame_bits", DEFAULT_FRAME_BITS if frame_bits is None else frame_bits, minimum=64
    )
    n = key.size
    if n < 64:
        raise ValidationError(f"key has {n} bits: expected at least 64 bits for LDPC")
    frames = _frames(n, frame_bits)
    size = frames[0][1] - frames[0][0]
    fallback = _initial_rows(size, qber_max) > _initial_rows(size, qber)
    first_rounds = min(max_retries, FALLBACK_AFTER) if fallback else max_retries
    everything = list(range(len(frames)))
    if end.role == "alice":
        alice = _LdpcAlice(key, frames, rng)
        message = alice.syndromes(everything, qber, hashes=True)
        end.send("alice", "ldpc/syndromes", message, disclosed_bits=alice.disclosed)
        yield from _ldpc_reveal(end, alice, first_rounds)
        if fallback:
            failed = yield Recv("ldpc/fallback-request")
            if len(failed):
                message = alice.syndromes(np.asarray(failed).tolist(), qber_max, hashes=False)
                end.send("alice", "ldpc/fallback-syndromes", message, disclosed_bits=alice.disclosed)
                yield from _ldpc_reveal(end, alice, max_retries)
        discarded = yield Recv("ldpc/discard")
        corrected, out = 0, key
    else:
        bob = _LdpcBob(key, frames)
        bob.receive((yield Recv("ldpc/syndromes")), qber)
        bob.attempt(everything)
        yield from _ldpc_request(end, bob, qber, first_rounds)
        if fallback:
            failed = np.flatnonzero(~bob.done).astype(np.int32)
            end.send("bob", "ldpc/fallback-request", failed)
            if failed.size:
                bob.receive((yield Recv("ldpc/fallback-syndromes")), qber_max)
                bob.attempt(failed.tolist())
                yield from _ldpc_request(end, bob, qber_max, max_retries)
        discarded = end.send("bob", "ldpc/discard", np.flatnonzero(~bob.done).astype(np.int32))
        corrected, out = bob.errors_found, bob.corrected
    dropped = np.asarray(discarded, dtype=np.int64).tolist()
    kept = np.ones(n, dtype=bool)
    for i in dropped:
        s, e = frames[i]
        kept[s:e] = False
    return out[kept], dropped, corrected


def _ldpc_reveal(end: PartyEnd, alice: _LdpcAlice, rounds: int) -> PartyProgram[None]:
    for _ in range(rounds):
        failed, positions = yield Recv("ldpc/retry-request")
        if len(failed) == 0:
            return
        revealed = alice.reveal(np.asarray(failed), list(positions))
        end.send("alice", "ldpc/revealed-bits", revealed, disclosed_bits=alice.disclosed)


def _ldpc_request(end: PartyEnd, bob: _LdpcBob, qber: float, rounds: int) -> PartyProgram[None]:
    for _ in range(rounds):
        if bob.done.all():
            end.send("bob", "ldpc/retry-request", (np.zeros(0, dtype=np.int32), []))
            return
        failed, positions = bob.request(qber)
        end.send("bob", "ldpc/retry-request", (failed, positions))
        bob.learn(failed.tolist(), positions, (yield Recv("ldpc/revealed-bits")))
        bob.attempt(failed.tolist())


def verify_party(
    end: PartyEnd, key: np.ndarray, eps_cor: float, rng: np.random.Generator | None
) -> PartyProgram[bool]:
    """One endpoint's half of :func:`~qentangle.distill.verify.verify_keys` (Toeplitz tag)."""
    t = tag_bits(eps_cor)
    n = key.size
    if end.role == "alice":
        seed = random_bits(rng, n + t - 1)
        tag = toeplitz_hash(key, seed, t)
        end.send("alice", "verify/tag", (np.packbits(seed), np.packbits(tag)), disclosed_bits=t)
        return bool((yield Recv("verify/result")))
    seed_b, tag_b = yield Recv("verify/tag")
    mine = toeplitz_hash(key, np.unpackbits(seed_b, count=n + t - 1), t)
    match = bool(np.array_equal(mine, np.unpackbits(tag_b, count=t)))
    end.send("bob", "verify/result", match)
    return match


def amplify_party(
    end: PartyEnd, key: np.ndarray, output_bits: int, rng: np.random.Generator | None
) -> PartyProgram[np.ndarray]:
    """One endpoint's half of privacy amplification: Alice sends a Toeplitz seed, both hash."""
    n, m = key.size, output_bits
    if end.role == "alice":
        seed = random_bits(rng, n + m - 1)
        end.send("alice", "amplify/seed", np.packbits(seed), disclosed_bits=0)
    else:
        seed = np.unpackbits((yield Recv("amplify/seed")), count=n + m - 1)
    return toeplitz_hash(key, seed, m)


def _correct(
    run: _Run,
    a_key: np.ndarray,
    b_key: np.ndarray,
    channel: ClassicalChannel,
    ec: str,
    qbers: tuple[float, float],
    rng_alice: np.random.Generator,
    cascade_passes: int,
    ldpc_frame_bits: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Error-correct Bob's key; return both kept keys and the mask of kept positions.

    ``qbers = (estimate, upper)``: the estimate tunes the code; LDPC's blind retries may reveal
    up to what ``upper`` needs before a frame is discarded.
    """
    qber_ec, qber_max = qbers
    before = channel.disclosed_bits
    if ec == "cascade":
        out = cascade_reconcile(
            a_key, b_key, channel, qber=qber_ec, rng_alice=rng_alice, passes=cascade_passes
        )
        kept = np.ones(a_key.size, dtype=bool)
        b_key = out.bob_key
        run.corrected = out.corrected_bits
    else:
        from qentangle.distill.ldpc_ec import ldpc_reconcile

        lout = ldpc_reconcile(
            a_key, b_key, channel, qber=qber_ec, qber_max=qber_max, rng_alice=rng_alice,
            frame_bits=ldpc_frame_bits,
        )
        run.frame_error_rate = lout.frame_error_rate
        kept = lout.kept
        run.discarded = int(a_key.size - kept.sum())
        a_key, b_key = a_key[kept], lout.bob_key[kept]
        run.corrected = lout.corrected_bits
    run.ec_leak = channel.disclosed_bits - before
    run.reconciled = a_key.size
    if run.corrected > 0 and a_key.size:
        run.efficiency = run.ec_leak / (a_key.size * binary_entropy(min(0.5, run.corrected / a_key.size)))
    return a_key, b_key, kept


def distill_two_basis(
    alice_key: Any,
    bob_key: Any,
    basis: Any,
    channel: ClassicalChannel,
    *,
    ec: str = "cascade",
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
    qber_hint: float = 0.05,
    bound: str = "hypergeometric",
    max_qber: float = 0.11,
    rng_alice: np.random.Generator | None = None,
    cascade_passes: int = DEFAULT_PASSES,
    ldpc_frame_bits: int | None = None,
    raise_on_abort: bool = False,
) -> DistillationResult:
    """Distil a key made of *all* sifted bits of both bases (BBM92 with symmetric bases).

    No bit is sacrificed for estimation. Error correction runs on the whole key; afterwards Bob
    knows where his errors were and announces the number of errors in each basis. Because each
    round's basis was chosen at random, the rounds of one basis are a random sample of all
    rounds, so the bit errors observed in one basis bound the *phase* errors of the other
    (:func:`~qentangle.distill.estimate.phase_error_bound`, exact hypergeometric tail). Both
    bounds must hold together, so each gets half the failure probability TLGR assign to
    ``eps_sec`` (:func:`~qentangle.distill.finite_key.phase_error_failure` with 2 estimates).
    The two bounds' phase-error counts, over the kept bits, give the phase-error rate that
    enters the finite-key length (:func:`~qentangle.distill.finite_key.two_basis_key`). This is
    the accounting of the Micius 2020 experiment (Yin et al., Nature 582, 501, 2020), where
    every sifted bit of both bases was key; our bound is the stricter one (266 bits at their
    operating point, against their 372).

    LDPC frames that fail to decode are discarded; as that keeps the low-error frames, the
    estimate counts every bit of a discarded frame as an error (over all sifted bits of each
    basis), so the counts stay unbiased upper bounds.

    ``basis`` holds the public 0/1 basis label of every key bit (both endpoints know it);
    ``qber_hint`` tunes the error correction before any error is counted. Aborts when either
    basis's observed bit error rate exceeds ``max_qber``.

    >>> rng = np.random.default_rng(3)
    >>> a = rng.integers(0, 2, 20_000, dtype=np.uint8)
    >>> b = a ^ (rng.random(20_000) < 0.03).astype(np.uint8)
    >>> labels = rng.integers(0, 2, 20_000, dtype=np.uint8)
    >>> ch = ClassicalChannel.with_random_key(rng)
    >>> r = distill_two_basis(a, b, labels, ch, rng_alice=np.random.default_rng(4))
    >>> r.keys_match, r.phase_error_source, r.sample_bits
    (True, 'other-basis-after-ec', 0)
    """
    a_key = as_bits("alice_key", alice_key, min_length=2)
    b_key = as_bits("bob_key", bob_key, min_length=2)
    labels = as_bits("basis", basis, min_length=2)
    if not a_key.size == b_key.size == labels.size:
        raise ValidationError(
            f"alice_key, bob_key and basis have {a_key.size}, {b_key.size} and {labels.size} "
            "entries: expected equal lengths"
        )
    check_choice("ec", ec, EC_METHODS)
    check_choice("bound", bound, BOUND_METHODS)
    eps_sec = EPS_SEC.check(eps_sec)
    eps_cor = EPS_COR.check(eps_cor)
    qber_hint = check_probability("qber_hint", qber_hint, upper=0.5)
    max_qber = MAX_QBER.check(max_qber)
    rng_alice = check_rng("rng_alice", rng_alice if rng_alice is not None else _missing())

    run = _Run(channel, a_key.size, eps_sec, eps_cor, ec, bound)
    run.true_qber = float(np.count_nonzero(a_key != b_key)) / a_key.size  # diagnostic only
    all_sizes = [int(np.count_nonzero(labels == b)) for b in (0, 1)]
    if min(all_sizes) < 1:
        return run.abort("each basis needs key bits: one basis label is missing", raise_on_abort)
    bob_raw = b_key
    qber_ec = max(qber_hint, 1e-3)
    a_key, b_key, kept = _correct(
        run, a_key, b_key, channel, ec, (qber_ec, max(qber_ec, max_qber)), rng_alice,
        cascade_passes, ldpc_frame_bits,
    )
    if a_key.size == 0:
        return run.abort("all LDPC frames failed to decode", raise_on_abort)
    kept_labels = labels[kept]
    sizes = [int(np.count_nonzero(kept_labels == b)) for b in (0, 1)]

    # 3. Verification, before any count from the corrected key is trusted.
    before = channel.disclosed_bits
    match = verify_keys(a_key, b_key, channel, eps_cor=eps_cor, rng_alice=rng_alice)
    run.verify_bits = channel.disclosed_bits - before
    if not match:
        return run.abort("verification failed: reconciled keys differ", raise_on_abort)

    # Bob's own error pattern (raw vs corrected) per basis; the counts are announced.
    flips = bob_raw[kept] != b_key
    errors = [int(np.count_nonzero(flips & (kept_labels == b))) for b in (0, 1)]
    errors = channel.send("bob", "estimate/ec-errors-per-basis", errors)
    rates = [errors[b] / sizes[b] if sizes[b] else 0.0 for b in (0, 1)]
    run.qber_estimate = sum(errors) / a_key.size
    if max(rates) > max_qber:
        return run.abort(
            f"bit error rate {max(rates):.4f} in one basis exceeds max_qber={max_qber}", raise_on_abort
        )
    # Phase errors of basis b from the bit errors of the other basis (1 - b), both bases
    # sampled from *all* sifted rounds: discarded LDPC frames (public) count as all errors, since
    # discarding the frames that failed to decode selects low-error bits.
    dropped = [all_sizes[b] - sizes[b] for b in (0, 1)]
    run.phase_source = "other-basis-after-ec"
    run.phase_estimate = run.qber_estimate
    run.basis_errors = (errors[0], errors[1])
    run.basis_sizes = (sizes[0], sizes[1])
    accounting = two_basis_key(
        [errors[b] + dropped[b] for b in (0, 1)], all_sizes, run.ec_leak + run.verify_bits, eps_sec,
        key_bits=a_key.size, qber=min(0.5, run.phase_estimate), bound=bound,
    )
    run.phase_bound = accounting.phase_error_bound
    run.qber_upper = run.phase_bound
    run.finite = accounting.final_bits
    run.asymptotic = accounting.asymptotic_bits
    if run.finite < 1:
        return run.abort("finite-key length is not positive", raise_on_abort)
    alice_final, bob_final = privacy_amplification(a_key, b_key, channel, run.finite, rng_alice=rng_alice)
    return run.finish(alice_final, bob_final)


def _missing() -> None:
    raise ValidationError("rng_alice is required: give a numpy.random.Generator")


class _Run:
    """Accumulates the public quantities of one run and builds the result."""

    def __init__(
        self,
        channel: ClassicalChannel | PartyEnd,
        sifted: int,
        eps_sec: float,
        eps_cor: float,
        ec: str,
        bound: str,
    ) -> None:
        self.channel = channel
        self.disclosed0 = channel.disclosed_bits
        self.auth0 = channel.auth_key_bits_used
        self.messages0 = _messages(channel)
        self.sifted = sifted
        self.sifted_total = sifted  # plus a sample the caller disclosed (secret_fraction)
        self.eps_sec, self.eps_cor, self.ec, self.bound = eps_sec, eps_cor, ec, bound
        self.sample_bits = 0
        self.qber_estimate: float | None = None
        self.qber_upper: float | None = None
        self.phase_estimate: float = float("nan")
        self.phase_bound: float = 0.5
        self.phase_source = "none"
        self.ec_leak = 0
        self.verify_bits = 0
        self.corrected = 0
        self.efficiency: float | None = None
        self.frame_error_rate = 0.0
        self.discarded = 0
        self.reconciled = 0
        self.finite = 0
        self.asymptotic = 0
        self.true_qber: float | None = None
        self.basis_errors: tuple[int, int] | None = None
        self.basis_sizes: tuple[int, int] | None = None

    def _result(
        self, alice: np.ndarray, bob: np.ndarray, aborted: bool, reason: str | None
    ) -> DistillationResult:
        final = int(alice.size)
        return DistillationResult(
            sifted_bits=self.sifted,
            sample_bits=self.sample_bits,
            reconciled_bits=self.reconciled,
            final_key_bits=final,
            qber_estimate=self.qber_estimate,
            qber_upper_bound=self.qber_upper,
            phase_error_estimate=None if math.isnan(self.phase_estimate) else self.phase_estimate,
            phase_error_bound=self.phase_bound if self.phase_source != "none" else None,
            phase_error_source=self.phase_source,
            bound_method=self.bound,
            ec_method=self.ec,
            ec_leaked_bits=self.ec_leak,
            verification_bits=self.verify_bits,
            leaked_bits=self.channel.disclosed_bits - self.disclosed0,
            corrected_bits=self.corrected,
            ec_efficiency=self.efficiency,
            frame_error_rate=self.frame_error_rate,
            discarded_bits=self.discarded,
            asymptotic_key_bits=self.asymptotic,
            finite_key_bits=self.finite,
            secret_fraction=secret_fraction(final, self.sifted_total),
            eps_sec=self.eps_sec,
            eps_cor=self.eps_cor,
            auth_key_bits_used=self.channel.auth_key_bits_used - self.auth0,
            messages=_messages(self.channel) - self.messages0,
            aborted=aborted,
            abort_reason=reason,
            keys_match=None if aborted else bool(np.array_equal(alice, bob)),
            true_qber=self.true_qber,
            basis_errors=self.basis_errors,
            basis_bits=self.basis_sizes,
            alice_key=alice,
            bob_key=bob,
        )

    def abort(self, reason: str, raise_on_abort: bool) -> DistillationResult:
        if raise_on_abort:
            raise ProtocolAbort(f"key distillation aborted: {reason}")
        empty = np.zeros(0, dtype=np.uint8)
        return self._result(empty, empty.copy(), True, reason)

    def finish(self, alice: np.ndarray, bob: np.ndarray) -> DistillationResult:
        return self._result(alice, bob, False, None)

    def side(
        self, reason: str | None, reconciled_input: np.ndarray, key: np.ndarray | None = None
    ) -> PartySide:
        """This endpoint's outcome: aborted with ``reason``, or its final ``key``."""
        own = np.zeros(0, dtype=np.uint8) if key is None or reason is not None else key
        empty = np.zeros(0, dtype=np.uint8)
        assert isinstance(self.channel, PartyEnd)
        alice = self.channel.role == "alice"
        result = self._result(own if alice else empty, empty if alice else own, reason is not None, reason)
        return PartySide(replace(result, keys_match=None), own, reconciled_input)


def _messages(channel: ClassicalChannel | PartyEnd) -> int:
    return channel.messages if isinstance(channel, PartyEnd) else len(channel.transcript)
