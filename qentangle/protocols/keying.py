"""From sifted bits to a secret key: estimation, abort rule, then the distillation chain.

Both E91 and BBM92 end here. A random sample of the sifted key is disclosed to estimate the
QBER (those bits leave the key); its upper confidence bound decides the abort; the remaining
bits go through :mod:`qentangle.distill` (error correction, verification, privacy
amplification) over the same authenticated channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qentangle.distill.estimate import (
    ErrorSample,
    estimate_qber,
    phase_error_bound,
    sample_size_for,
)
from qentangle.errors import ValidationError, check_choice, check_probability, check_range

if TYPE_CHECKING:
    from qentangle.protocols.session import Session

EC_METHODS = ("cascade", "ldpc")
ESTIMATION_METHODS = ("sample", "ec")


@dataclass(frozen=True)
class KeyOptions:
    """How sifted bits become a key.

    Attributes:
        sample_fraction: fraction of the key-basis sifted bits disclosed to estimate the QBER.
        qber_abort: abort when the QBER's upper confidence bound exceeds this (default 11 %).
        ec: error correction, ``"cascade"`` or ``"ldpc"``.
        eps_sec, eps_cor: secrecy and correctness parameters of the finite-key analysis.
        distill: run the distillation chain (``False`` stops after estimation).
        estimation: ``"sample"`` discloses ``sample_fraction`` of the key to estimate the QBER;
            ``"ec"`` (BBM92 with p_z = 1/2) keeps every sifted bit: error correction counts
            each basis's errors, which bound the other basis's phase errors.
        qber_hint: QBER that tunes error correction when no sample is disclosed (``"ec"``).
    """

    sample_fraction: float = 0.1
    qber_abort: float = 0.11
    ec: str = "cascade"
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    distill: bool = True
    estimation: str = "sample"
    qber_hint: float = 0.05

    def __post_init__(self) -> None:
        check_choice("estimation", self.estimation, ESTIMATION_METHODS)
        check_probability("qber_hint", self.qber_hint, upper=0.5)
        if self.estimation == "ec" and not self.distill:
            raise ValidationError(
                "estimation='ec' counts errors during error correction: it needs distill=True"
            )
        check_range("sample_fraction", self.sample_fraction, 0.0, 1.0, low_open=True, high_open=True)
        check_probability("qber_abort", self.qber_abort, upper=0.5)
        check_choice("ec", self.ec, EC_METHODS)
        check_range("eps_sec", self.eps_sec, 0.0, 1.0, low_open=True, high_open=True)
        check_range("eps_cor", self.eps_cor, 0.0, 1.0, low_open=True, high_open=True)


@dataclass(frozen=True)
class KeyOutcome:
    """Estimation and distillation figures of one run (no key bits)."""

    qber: float
    qber_upper: float
    sample_size: int
    phase_error_upper: float
    aborted: bool
    abort_reason: str | None
    distillation: Any = None  # qentangle.distill DistillationResult when the chain ran
    eps_sec: float = KeyOptions.eps_sec
    eps_cor: float = KeyOptions.eps_cor

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
        data.update(aborted=self.aborted, abort_reason=self.abort_reason)
        return data


def finish_key(
    session: Session,
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    options: KeyOptions,
    *,
    abort_reason: str | None = None,
    sample: ErrorSample | None = None,
    phase_sample: ErrorSample | None = None,
    phase_floor: tuple[float, float] | None = None,
) -> KeyOutcome:
    """Estimate the QBER, apply the abort rules, then distil.

    Without ``sample``, a random sample of the key is disclosed here (and removed); with it, the
    keys given are what is left after the caller disclosed ``sample``. The phase error is
    bounded from ``phase_sample`` (BBM92: the other basis) or else from the key's own sample
    (basis symmetry), and never below ``phase_floor = (bound, estimate)`` when given (E91: the
    bound from S, see :func:`qentangle.distill.finite_key.device_independent_phase_error`).
    """
    if sample is None:
        if alice_key.size < 2:
            reason = abort_reason or f"only {alice_key.size} sifted bits: too few to estimate the QBER"
            return KeyOutcome(float("nan"), 1.0, 0, 0.5, True, reason, None, options.eps_sec, options.eps_cor)
        size = sample_size_for(alice_key.size, options.sample_fraction)
        sample, alice_key, bob_key = estimate_qber(
            alice_key, bob_key, session.channel, sample_size=size, rng_alice=session.alice.rng
        )
    if alice_key.size < 1:
        reason = abort_reason or "no key bits left after estimation"
        return KeyOutcome(
            sample.rate, 1.0, sample.size, 0.5, True, reason, None, options.eps_sec, options.eps_cor
        )
    qber_upper = phase_error_bound(sample, alice_key.size, options.eps_sec)
    phase_upper = phase_error_bound(phase_sample or sample, alice_key.size, options.eps_sec)
    floored = phase_floor is not None and phase_floor[0] > phase_upper
    if floored:
        phase_upper = phase_floor[0]
    if abort_reason is None and qber_upper > options.qber_abort:
        abort_reason = f"QBER upper bound {qber_upper:.4f} exceeds the abort threshold {options.qber_abort:g}"
    if abort_reason is None and phase_upper > options.qber_abort:
        abort_reason = (
            f"phase-error upper bound {phase_upper:.4f} exceeds the abort threshold {options.qber_abort:g}"
        )
    distillation = None
    if abort_reason is None and options.distill:
        from qentangle.distill.chain import distill

        phase = (
            {"phase_error": phase_upper, "phase_error_estimate": max(phase_floor[1], sample.rate)}
            if floored
            else {"phase_sample": phase_sample}
        )
        distillation = distill(
            alice_key,
            bob_key,
            session.channel,
            ec=options.ec,
            eps_sec=options.eps_sec,
            eps_cor=options.eps_cor,
            sample_fraction=0.0,
            disclosed_sample=sample,
            max_qber=options.qber_abort,
            rng_alice=session.alice.rng,
            rng_bob=session.bob.rng,
            **phase,
        )
        if distillation.aborted:
            abort_reason = distillation.abort_reason
    return KeyOutcome(
        qber=sample.rate,
        qber_upper=qber_upper,
        sample_size=sample.size,
        phase_error_upper=phase_upper,
        aborted=abort_reason is not None,
        abort_reason=abort_reason,
        distillation=distillation,
        eps_sec=options.eps_sec,
        eps_cor=options.eps_cor,
    )


def finish_key_two_basis(
    session: Session,
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    basis: np.ndarray,
    options: KeyOptions,
) -> tuple[KeyOutcome, tuple[float, float]]:
    """Distil all sifted bits of both bases (``estimation="ec"``); also return the per-basis QBER.

    The per-basis error counts are the ones Bob announced on the channel after correction.
    """
    from qentangle.distill.chain import distill_two_basis

    if alice_key.size < 2:
        reason = f"only {alice_key.size} sifted bits: too few to distil"
        outcome = KeyOutcome(float("nan"), 1.0, 0, 0.5, True, reason, None, options.eps_sec, options.eps_cor)
        return outcome, (float("nan"), float("nan"))
    result = distill_two_basis(
        alice_key,
        bob_key,
        basis,
        session.channel,
        ec=options.ec,
        eps_sec=options.eps_sec,
        eps_cor=options.eps_cor,
        qber_hint=options.qber_hint,
        max_qber=options.qber_abort,
        rng_alice=session.alice.rng,
    )
    announced = [m.payload for m in session.channel.transcript if m.kind == "estimate/ec-errors-per-basis"]
    per_basis = (float("nan"), float("nan"))
    if announced:
        sizes = [int(np.count_nonzero(basis == b)) for b in (0, 1)]
        per_basis = tuple(e / n if n else float("nan") for e, n in zip(announced[-1], sizes, strict=True))
    bound = result.phase_error_bound if result.phase_error_bound is not None else 0.5
    outcome = KeyOutcome(
        qber=result.qber_estimate if result.qber_estimate is not None else float("nan"),
        qber_upper=bound,
        sample_size=0,
        phase_error_upper=bound,
        aborted=result.aborted,
        abort_reason=result.abort_reason,
        distillation=result,
        eps_sec=options.eps_sec,
        eps_cor=options.eps_cor,
    )
    return outcome, per_basis
