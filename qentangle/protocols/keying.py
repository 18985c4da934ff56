"""From sifted bits to a secret key: blocks, estimation, abort rules, then the distillation chain.

Both E91 and BBM92 end here. The sifted key, in the order its rounds were measured, is cut
into blocks of at most ``block_bits`` bits (the cuts depend on the round order only, never on
bases or outcomes). Each block is distilled as a key of its own: a disclosed random sample
estimates its error rates, the abort rules apply, and its remaining bits go through
:mod:`qentangle.distill` (error correction, verification, Toeplitz privacy amplification) over
the same authenticated channel with ``eps_sec / B`` and ``eps_cor / B`` for ``B`` blocks. By
composability the concatenated key is ``eps_sec``-secret and ``eps_cor``-correct, and the
chain's memory (about 100 bytes per bit) is bounded by the block size, not by the run.

What aborts, and why
--------------------
* The upper confidence bound of a *measured* bit-error rate above ``qber_abort`` (11 %): the
  key's QBER and, in BBM92, the error rate of the other basis, which is the key's phase error
  (each basis of a symmetric run is checked on its own sample). Near 11 % the Shor-Preskill
  rate 1 - 2 h(Q) reaches zero: no key survives one-way error correction.
* A phase error that cannot be bounded: a BBM92 block whose other basis has no sifted bit
  (a key basis's own errors say nothing of what Eve learnt in it).
* A finite-key length that is not positive. This alone decides on E91's phase-error floor
  from S (device-independent, not a measured error rate): the threshold does not apply to it.
* Whatever the distillation chain aborts on (verification failure, no key after error
  correction). One block aborting aborts the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from qentangle.analysis import BASIS_NAMES
from qentangle.channel_transport import PartyEnd, PartyProgram, Recv, run_lockstep
from qentangle.distill.chain import (
    EC_METHODS,
    EPS_COR,
    EPS_SEC,
    MAX_QBER,
    ChainPlan,
    PartySide,
    combine_sides,
    distill_party,
    sample_party,
)
from qentangle.distill.estimate import (
    ErrorSample,
    phase_error_bound,
    sample_size_for,
)
from qentangle.distill.workspace import retained_heap
from qentangle.errors import (
    ValidationError,
    check_choice,
    check_positive_int,
    check_probability,
)
from qentangle.params import Param
from qentangle.progress import progress_bar

if TYPE_CHECKING:
    from qentangle.distill.chain import DistillationResult
    from qentangle.protocols.session import Session

#: How the QBER is estimated: a disclosed ``sample``, or the errors error correction finds (``ec``).
ESTIMATION_METHODS = ("sample", "ec")
DEFAULT_BLOCK_BITS = 1 << 22
_BASIS_LABELS = tuple(name.upper() for name in BASIS_NAMES)  # "Z", "X" in messages
QBER_ABORT = replace(MAX_QBER, name="qber_abort")
SAMPLE_FRACTION = Param("sample_fraction", float, low=0.0, high=1.0, low_open=True, high_open=True,
                        default=0.1, metavar="F",
                        help="fraction of the key-basis sifted bits disclosed for the QBER")


@dataclass(frozen=True)
class KeyOptions:
    """How sifted bits become a key.

    Attributes:
        sample_fraction: fraction of the key-basis sifted bits disclosed to estimate the QBER.
        qber_abort: abort when a measured error rate's upper confidence bound exceeds this
            (default 11 %); see the module docstring for every abort rule.
        ec: error correction, ``"cascade"`` or ``"ldpc"``.
        eps_sec, eps_cor: secrecy and correctness parameters of the whole key (each of ``B``
            blocks gets ``eps / B``).
        distill: run the distillation chain (``False`` stops after estimation).
        estimation: ``"sample"`` discloses ``sample_fraction`` of the key to estimate the QBER;
            ``"ec"`` (BBM92 with p_z = 1/2) keeps every sifted bit: error correction counts
            each basis's errors, which bound the other basis's phase errors.
        qber_hint: QBER that tunes error correction when no sample is disclosed (``"ec"``).
        block_bits: largest block of sifted bits distilled at once (default 2^22).

    >>> options = KeyOptions(ec="ldpc", eps_sec=1e-9)
    >>> options.qber_abort, options.sample_fraction, options.ec
    (0.11, 0.1, 'ldpc')
    >>> KeyOptions(ec="magic")
    Traceback (most recent call last):
        ...
    qentangle.errors.ValidationError: ec='magic' is not valid: expected one of cascade, ldpc
    """

    sample_fraction: float = 0.1
    qber_abort: float = 0.11
    ec: str = "cascade"
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    distill: bool = True
    estimation: str = "sample"
    qber_hint: float = 0.05
    block_bits: int = DEFAULT_BLOCK_BITS

    def __post_init__(self) -> None:
        check_choice("estimation", self.estimation, ESTIMATION_METHODS)
        check_probability("qber_hint", self.qber_hint, upper=0.5)
        if self.estimation == "ec" and not self.distill:
            raise ValidationError(
                "estimation='ec' counts errors during error correction: it needs distill=True"
            )
        SAMPLE_FRACTION.check(self.sample_fraction)
        QBER_ABORT.check(self.qber_abort)
        check_choice("ec", self.ec, EC_METHODS)
        EPS_SEC.check(self.eps_sec)
        EPS_COR.check(self.eps_cor)
        check_positive_int("block_bits", self.block_bits, minimum=1024)


@dataclass(frozen=True)
class BasisFigures:
    """One basis's error rate on its disclosed bits, its upper bound, and the bits compared."""

    rate: float
    upper: float
    sample_bits: int


@dataclass(frozen=True)
class KeyOutcome:
    """Estimation and distillation figures of one run (no key bits).

    With several blocks, ``qber`` pools every block's sample, while ``qber_upper`` and
    ``phase_error_upper`` are the largest per-block bounds (the ones the abort rules saw).
    """

    qber: float
    qber_upper: float
    sample_size: int
    phase_error_upper: float
    aborted: bool
    abort_reason: str | None
    distillation: Any = None  # qentangle.distill DistillationResult when the chain ran
    eps_sec: float = KeyOptions.eps_sec
    eps_cor: float = KeyOptions.eps_cor
    blocks: int = 1
    bases: tuple[BasisFigures, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures, merged into the protocol's result.

        The distillation keys are always present: zero key and no match when the run
        stopped before distillation.
        """
        data: dict[str, Any] = {
            "qber": self.qber,
            "qber_upper": self.qber_upper,
            "qber_sample_bits": self.sample_size,
            "phase_error_upper": self.phase_error_upper,
            "final_key_bits": 0,
            "keys_match": None,
            "leaked_bits": 0,
            "ec_efficiency": None,
            "secret_fraction": 0.0,
            "asymptotic_key_bits": 0,
            "eps_sec": self.eps_sec,
            "eps_cor": self.eps_cor,
        }
        if self.distillation is not None:
            chain = self.distillation.to_dict()
            # The chain's own input size is the key after estimation, not the protocol's sifting.
            chain["distilled_bits"] = chain.pop("sifted_bits")
            chain["distill_messages"] = chain.pop("messages")
            chain["distill_auth_key_bits"] = chain.pop("auth_key_bits_used")
            chain.pop("aborted"), chain.pop("abort_reason")
            data.update(chain)
        data.update(eps_sec=self.eps_sec, eps_cor=self.eps_cor)  # as given, for the whole key
        data.update(key_blocks=self.blocks, aborted=self.aborted, abort_reason=self.abort_reason)
        return data


def block_plan(total_bits: int, options: KeyOptions) -> tuple[int, float, float]:
    """Number of blocks for ``total_bits`` sifted bits, and each block's ``eps_sec``, ``eps_cor``.

    >>> blocks, eps_sec, eps_cor = block_plan(10_000_000, KeyOptions())
    >>> blocks, round(blocks * eps_sec, 20), round(blocks * eps_cor, 25)
    (3, 1e-10, 1e-15)
    """
    blocks = max(1, math.ceil(total_bits / options.block_bits))
    return blocks, options.eps_sec / blocks, options.eps_cor / blocks


@dataclass
class _Estimate:
    """One block after estimation, as one endpoint sees it: its key bits left, and what the
    abort rules saw (public figures, the same on both sides)."""

    key: np.ndarray
    sample: ErrorSample | None = None
    qber_upper: float = 1.0
    phase_upper: float = 0.5
    phase: dict[str, Any] = field(default_factory=dict)
    bases: dict[int, tuple[ErrorSample | None, float]] = field(default_factory=dict)
    reason: str | None = None


def finish_key(
    session: Session,
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    options: KeyOptions,
    *,
    labels: np.ndarray | None = None,
    key_basis: int | None = None,
    abort_reason: str | None = None,
    phase_floor: tuple[float, float] | None = None,
    progress: bool | None = None,
) -> KeyOutcome:
    """Estimate, apply the abort rules and distil the sifted key, block by block.

    ``alice_bits`` and ``bob_bits`` are each side's sifted bits in round order. Without
    ``labels`` (E91) each block's phase error is bounded from its own sample, and never below
    ``phase_floor = (bound, estimate)`` (the bound from S, see
    :func:`qentangle.distill.finite_key.device_independent_phase_error`). With ``labels``
    (BBM92: the public basis, 0 = Z or 1 = X, of each sifted bit) the phase error comes from
    the other basis: ``key_basis`` 0 or 1 keys from that basis and discloses every bit of the
    other; ``None`` keys from both, each sampled (or, with ``estimation="ec"``, counted by
    error correction). ``abort_reason`` aborts the run whatever the estimates (they are still
    made, for the report).
    """
    total = int(alice_bits.size)
    blocks, eps_b, eps_cor_b = block_plan(total, options)
    edges = np.linspace(0, total, blocks + 1).round().astype(np.int64)
    two_basis = labels is not None and key_basis is None and options.estimation == "ec"
    reason = abort_reason
    estimates: list[_Estimate] = []
    results: list[DistillationResult] = []
    basis_parts: list[dict[int, tuple[ErrorSample | None, float]]] = []
    # retained_heap: the blocks' large work arrays reuse the same pages instead of faulting
    # fresh ones in for every block (see qentangle.distill.workspace)
    with progress_bar(blocks, progress=progress, label="distil", unit="block") as bar, retained_heap():
        for i in range(blocks):
            part = slice(int(edges[i]), int(edges[i + 1]))
            alice, bob = alice_bits[part], bob_bits[part]
            block_labels = None if labels is None else labels[part]
            prefix = f"block {i + 1}/{blocks}: " if blocks > 1 else ""
            if two_basis:
                if reason is None and alice.size < 2:
                    reason = f"only {total} sifted bits: too few to distil"
                if reason is not None:
                    break
                result, counted = _distil_two_basis(
                    session, alice, bob, block_labels, options, eps_b, eps_cor_b
                )
                results.append(result)
                basis_parts.append(counted)
                reason = prefix + str(results[-1].abort_reason) if results[-1].aborted else None
            else:
                proceed = reason is None and options.distill
                estimate, alice_side, bob_side = _block_lockstep(
                    session, alice, bob, block_labels, key_basis, options, (eps_b, eps_cor_b),
                    phase_floor, proceed,
                )
                estimates.append(estimate)
                basis_parts.append(estimate.bases)
                if reason is None and estimate.reason is not None:
                    reason = prefix + estimate.reason
                if alice_side is not None and bob_side is not None:
                    results.append(combine_sides(alice_side, bob_side))
                    if results[-1].aborted:
                        reason = prefix + str(results[-1].abort_reason)
            bar.update()
    return _outcome(estimates, results, basis_parts, reason, blocks, options)


def _block_lockstep(session, alice, bob, labels, key_basis, options, eps, floor, proceed):
    """One block in one process: Alice's and Bob's :func:`block_party` over the session's channel."""
    (estimate, alice_side), (_, bob_side) = run_lockstep(
        session.channel,
        lambda end: block_party(
            end, alice, options, eps, labels=labels, key_basis=key_basis, phase_floor=floor,
            distil=proceed, rng=session.alice.rng,
        ),
        lambda end: block_party(
            end, bob, options, eps, labels=labels, key_basis=key_basis, phase_floor=floor, distil=proceed
        ),
    )
    return estimate, alice_side, bob_side


def block_party(
    end: PartyEnd,
    bits: np.ndarray,
    options: KeyOptions,
    eps: tuple[float, float],
    *,
    labels: np.ndarray | None = None,
    key_basis: int | None = None,
    phase_floor: tuple[float, float] | None = None,
    distil: bool = True,
    rng: np.random.Generator | None = None,
) -> PartyProgram[tuple[_Estimate, PartySide | None]]:
    """One endpoint's half of one block: estimation, abort rules, then the distillation chain.

    A party program (:mod:`qentangle.channel_transport`): :func:`finish_key` runs Alice's and
    Bob's halves in one process; a network station (:mod:`qentangle.network.station`) runs its
    own half over TCP. ``bits`` are this endpoint's sifted bits of the block, ``labels`` their
    public bases (BBM92), ``eps = (eps_sec, eps_cor)`` the block's share. Alice gives ``rng``.
    Returns the block's public estimate and, when it was distilled (``distil`` and no abort
    rule fired), this side's :class:`~qentangle.distill.chain.PartySide`.
    """
    eps_sec, eps_cor = eps
    if labels is None:
        estimate = yield from _estimate_own(end, bits, options, eps_sec, phase_floor, rng)
    elif key_basis is None:
        estimate = yield from _estimate_both(end, bits, labels, options, eps_sec, rng)
    else:
        estimate = yield from _estimate_other(end, bits, labels, key_basis, options, eps_sec, rng)
    if not distil or estimate.reason is not None:
        return estimate, None
    plan = ChainPlan(
        ec=options.ec,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        sample_fraction=0.0,
        disclosed_sample=estimate.sample,
        max_qber=options.qber_abort,
        **estimate.phase,
    )
    side = yield from distill_party(end, estimate.key, plan, rng=rng)
    return estimate, side


def _estimate_own(end, key, options, eps, floor, rng) -> PartyProgram[_Estimate]:
    """E91: a sample of the key bounds its QBER and (basis symmetry) its phase error."""
    if key.size < 2:
        return _Estimate(key, reason=f"only {key.size} sifted bits: too few to estimate the QBER")
    sample, key = yield from _sample(end, key, options, rng)
    estimate = _Estimate(key, sample, phase={"phase_sample": None})
    # With a floor from S (E91), the phase error is the larger of two bounds sharing the budget.
    shares = 1 if floor is None else 2
    estimate.qber_upper = estimate.phase_upper = phase_error_bound(sample, key.size, eps, estimates=shares)
    if floor is not None and floor[0] > estimate.phase_upper:
        estimate.phase_upper = floor[0]
        estimate.phase = {"phase_error": floor[0], "phase_error_estimate": max(floor[1], sample.rate)}
    estimate.reason = _threshold("QBER upper bound", estimate.qber_upper, options)
    return estimate


def _estimate_other(end, key, labels, key_basis, options, eps, rng) -> PartyProgram[_Estimate]:
    """BBM92 keyed from one basis: every bit of the other basis is disclosed for the phase error."""
    other = 1 - key_basis
    in_key = labels == key_basis
    phase_sample = yield from _disclose_all(end, key.compress(~in_key))
    key = key.compress(in_key)
    if key.size < 2:
        count = f"only {key.size} {_BASIS_LABELS[key_basis]}-basis sifted bits"
        estimate = _Estimate(key, reason=f"{count}: too few to estimate the QBER")
        estimate.bases[other] = (phase_sample, 0.5)
        return estimate
    sample, key = yield from _sample(end, key, options, rng)
    estimate = _Estimate(key, sample, phase={"phase_sample": phase_sample})
    estimate.qber_upper = phase_error_bound(sample, key.size, eps)
    if phase_sample is not None:
        estimate.phase_upper = phase_error_bound(phase_sample, key.size, eps)
    estimate.bases = {key_basis: (sample, estimate.qber_upper), other: (phase_sample, estimate.phase_upper)}
    estimate.reason = _threshold("QBER upper bound", estimate.qber_upper, options)
    if estimate.reason is None and phase_sample is None:
        estimate.reason = (
            f"no {_BASIS_LABELS[other]}-basis sifted bits: the phase error of the "
            f"{_BASIS_LABELS[key_basis]}-basis key cannot be bounded"
        )
    if estimate.reason is None:
        what = f"{_BASIS_LABELS[other]}-basis error upper bound (the key's phase error)"
        estimate.reason = _threshold(what, estimate.phase_upper, options)
    return estimate


def _estimate_both(end, key, labels, options, eps, rng) -> PartyProgram[_Estimate]:
    """Symmetric BBM92: a sample of each basis; each bounds its own QBER and the other's phase error."""
    samples: dict[int, ErrorSample] = {}
    rests: dict[int, np.ndarray] = {}
    estimate = _Estimate(key[:0])
    for basis in (0, 1):
        mine = labels == basis
        if np.count_nonzero(mine) < 2:
            estimate.reason = estimate.reason or (
                f"fewer than 2 {_BASIS_LABELS[basis]}-basis sifted bits: too few to bound the "
                f"{_BASIS_LABELS[1 - basis]}-basis phase error"
            )
            continue
        samples[basis], rests[basis] = yield from _sample(end, key.compress(mine), options, rng)
        upper = phase_error_bound(samples[basis], rests[basis].size, eps)
        estimate.bases[basis] = (samples[basis], upper)
    if estimate.reason is not None:
        return estimate
    sizes = [rests[b].size for b in (0, 1)]
    estimate.key = np.concatenate([rests[0], rests[1]])
    estimate.sample = ErrorSample(samples[0].errors + samples[1].errors, samples[0].size + samples[1].size)
    # Phase errors of each basis's key bits from the other basis's sample; both bounds must
    # hold together, so each gets half of the failure probability (estimates=2).
    count = sum(phase_error_bound(samples[1 - b], sizes[b], eps, estimates=2) * sizes[b] for b in (0, 1))
    estimate.phase_upper = min(0.5, count / sum(sizes))
    guess = sum(samples[1 - b].rate * sizes[b] for b in (0, 1)) / sum(sizes)
    estimate.phase = {"phase_error": estimate.phase_upper, "phase_error_estimate": guess}
    worst = max((0, 1), key=lambda b: estimate.bases[b][1])
    estimate.qber_upper = estimate.bases[worst][1]
    what = f"QBER upper bound ({_BASIS_LABELS[worst]} basis)"
    estimate.reason = _threshold(what, estimate.qber_upper, options)
    return estimate


def _threshold(what: str, bound: float, options: KeyOptions) -> str | None:
    if bound > options.qber_abort:
        return f"{what} {bound:.4f} exceeds the abort threshold {options.qber_abort:g}"
    return None


def _sample(end, key, options, rng) -> PartyProgram[tuple[ErrorSample, np.ndarray]]:
    return (yield from sample_party(end, key, sample_size_for(key.size, options.sample_fraction), rng))


def _disclose_all(end: PartyEnd, bits: np.ndarray) -> PartyProgram[ErrorSample | None]:
    """Alice discloses every bit of a basis; Bob announces the number of disagreements."""
    if bits.size == 0:
        return None
    if end.role == "alice":
        end.send("alice", "estimate/phase-basis", np.packbits(bits))
        errors = yield Recv("estimate/phase-errors")
    else:
        received = np.unpackbits((yield Recv("estimate/phase-basis")), count=bits.size)
        errors = int(np.count_nonzero(received != bits))
        end.send("bob", "estimate/phase-errors", errors)
    return ErrorSample(int(errors), bits.size)


def _distil_two_basis(session, alice, bob, labels, options, eps, eps_cor):
    """Every sifted bit of both bases is key (``estimation="ec"``).

    Also returns each basis's error count, as Bob announced it after error correction, over
    the basis's sifted bits, with the block's phase-error bound.
    """
    from qentangle.distill.chain import distill_two_basis

    before = len(session.channel.transcript)
    result = distill_two_basis(
        alice,
        bob,
        labels,
        session.channel,
        ec=options.ec,
        eps_sec=eps,
        eps_cor=eps_cor,
        qber_hint=options.qber_hint,
        max_qber=options.qber_abort,
        rng_alice=session.alice.rng,
    )
    announced = [
        m.payload for m in session.channel.transcript[before:] if m.kind == "estimate/ec-errors-per-basis"
    ]
    counted: dict[int, tuple[ErrorSample | None, float]] = {}
    if announced:
        sizes = np.bincount(labels, minlength=2)
        bound = result.phase_error_bound if result.phase_error_bound is not None else 0.5
        for basis in (0, 1):
            errors = min(int(announced[-1][basis]), int(sizes[basis]))
            counted[basis] = (ErrorSample(errors, int(sizes[basis])) if sizes[basis] else None, bound)
    return result, counted


def _outcome(
    estimates: list[_Estimate],
    results: list[DistillationResult],
    basis_parts: list[dict[int, tuple[ErrorSample | None, float]]],
    reason: str | None,
    blocks: int,
    options: KeyOptions,
) -> KeyOutcome:
    """Pool the blocks' figures into one outcome."""
    merged = merge_distillations(results, reason) if results else None
    bases = tuple(_pool_basis([part.get(b) for part in basis_parts]) for b in (0, 1))
    if estimates:
        samples = [e.sample for e in estimates if e.sample is not None]
        size = sum(s.size for s in samples)
        qber = sum(s.errors for s in samples) / size if size else math.nan
        qber_upper = max(e.qber_upper for e in estimates)
        phase_upper = max(e.phase_upper for e in estimates)
    else:  # estimation ran inside the two-basis chain
        size, qber, qber_upper, phase_upper = 0, math.nan, 1.0, 0.5
        if merged is not None:
            qber = merged.qber_estimate if merged.qber_estimate is not None else math.nan
            bounds = [r.phase_error_bound for r in results if r.phase_error_bound is not None]
            qber_upper = phase_upper = max(bounds) if bounds else 0.5
    return KeyOutcome(
        qber=qber,
        qber_upper=qber_upper,
        sample_size=size,
        phase_error_upper=phase_upper,
        aborted=reason is not None,
        abort_reason=reason,
        distillation=merged,
        eps_sec=options.eps_sec,
        eps_cor=options.eps_cor,
        blocks=blocks,
        bases=bases if any(b.sample_bits for b in bases) else (),
    )


def _pool_basis(parts: list[tuple[ErrorSample | None, float] | None]) -> BasisFigures:
    samples = [p[0] for p in parts if p is not None and p[0] is not None]
    size = sum(s.size for s in samples)
    rate = sum(s.errors for s in samples) / size if size else math.nan
    uppers = [p[1] for p in parts if p is not None and p[0] is not None]
    return BasisFigures(rate, max(uppers) if uppers else math.nan, size)


def merge_distillations(results: list[DistillationResult], reason: str | None = None) -> DistillationResult:
    """One result for consecutive blocks: bits and leakage summed, rates weighted by block size.

    ``ec_efficiency`` is the total leakage over the sum of each block's ``n h(Q)``. When the
    run aborted (``reason``), no key is kept, whatever earlier blocks produced.
    """
    if len(results) == 1 and reason == results[0].abort_reason:
        return results[0]
    total = sum(r.sifted_bits for r in results)

    def weighted(name: str) -> float | None:
        pairs = [(getattr(r, name), r.sifted_bits) for r in results if getattr(r, name) is not None]
        weight = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / weight if weight else None

    def summed(name: str) -> int:
        return int(sum(getattr(r, name) for r in results))

    ideal = [r.ec_leaked_bits / r.ec_efficiency for r in results if r.ec_efficiency]
    leak = sum(r.ec_leaked_bits for r in results if r.ec_efficiency)
    uppers = [r.qber_upper_bound for r in results if r.qber_upper_bound is not None]
    empty = np.zeros(0, dtype=np.uint8)
    aborted = reason is not None
    alice = empty if aborted else np.concatenate([r.alice_key for r in results])
    bob = empty.copy() if aborted else np.concatenate([r.bob_key for r in results])
    return replace(
        results[0],
        sifted_bits=total,
        sample_bits=summed("sample_bits"),
        reconciled_bits=summed("reconciled_bits"),
        final_key_bits=int(alice.size),
        qber_estimate=weighted("qber_estimate"),
        qber_upper_bound=max(uppers) if uppers else None,
        phase_error_estimate=weighted("phase_error_estimate"),
        phase_error_bound=weighted("phase_error_bound"),
        ec_leaked_bits=summed("ec_leaked_bits"),
        verification_bits=summed("verification_bits"),
        leaked_bits=summed("leaked_bits"),
        corrected_bits=summed("corrected_bits"),
        ec_efficiency=leak / sum(ideal) if ideal else None,
        frame_error_rate=weighted("frame_error_rate") or 0.0,
        discarded_bits=summed("discarded_bits"),
        asymptotic_key_bits=summed("asymptotic_key_bits"),
        finite_key_bits=summed("finite_key_bits"),
        secret_fraction=alice.size / total if total else 0.0,
        eps_sec=sum(r.eps_sec for r in results),
        eps_cor=sum(r.eps_cor for r in results),
        auth_key_bits_used=summed("auth_key_bits_used"),
        messages=summed("messages"),
        aborted=aborted,
        abort_reason=reason,
        keys_match=None if aborted else all(r.keys_match for r in results),
        true_qber=weighted("true_qber"),
        alice_key=alice,
        bob_key=bob,
    )


__all__ = [
    "DEFAULT_BLOCK_BITS",
    "BasisFigures",
    "KeyOptions",
    "KeyOutcome",
    "block_party",
    "block_plan",
    "finish_key",
    "merge_distillations",
]
