"""Secret key lengths: asymptotic (Shor-Preskill), finite-key (TLGR 2012) and device-independent.

Which bound the chain uses
--------------------------
The final key length is :func:`finite_key_length`, the composable finite-key bound of
Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012)::

    l = floor( n (1 - h(e_ph^U)) - leaked - log2(2 / eps_sec^2) )

where ``leaked`` is everything the error correction *and* the verification tag disclosed
(the tag has ``t = ceil(log2(1/eps_cor))`` bits, so this is TLGR's
``n (1 - h(Q + mu)) - leak_EC - log2(2 / (eps_sec^2 eps_cor))`` with the tag counted as it
crossed the channel) and ``e_ph^U`` is an upper bound on the phase-error rate of the ``n``
key bits that fails with probability at most ``(eps_sec / 2)^2`` (TLGR's accounting).

That failure probability is the budget of *all* phase-error estimates of one key together:
when the key's phase error is bounded piecewise (BBM92 with both bases as key: one bound per
basis, each from the other basis's bit errors), every piece must hold at once, so by the union
bound each of ``k`` estimates gets ``(eps_sec / 2)^2 / k`` (:func:`phase_error_failure`, and
``estimates=k`` in :func:`qentangle.distill.estimate.phase_error_bound`).

TLGR bound ``e_ph^U = Q + mu`` with the Serfling deviation ``mu`` (:func:`tlgr_key_length`) is
loose at small blocks: at Micius 2020 parameters (BBM92, ~3400 sifted bits over 3100 s, i.e.
~1700 key bits per basis whose phase error is estimated from the ~1700 bits of the other
basis, QBER 4.5 %, f = 1.19, eps = 1e-10) it gives no key at all. The chain therefore uses,
by default, the *exact hypergeometric* upper confidence limit at the same failure probability
``(eps_sec/2)^2`` (:func:`qentangle.distill.estimate.phase_error_bound`), split over the two
bases' estimates. It is rigorous (the Serfling inequality is itself a bound on this
hypergeometric tail) and gives about 81 bits per basis (~162 bits for the two bases) at those
parameters. Micius reported 372 bits; the same formula gives ~516 bits with the looser
accounting in which each phase-error estimate fails with probability ``eps_sec`` rather than
``(eps_sec/2)^2 / 2``, so the published figure lies between our rigorous default and that
variant. See :func:`micius_example`.

>>> round(shor_preskill_rate(0.045, 0.045, 1.19), 3)
0.42
"""

from __future__ import annotations

import math

from qentangle.distill.estimate import (
    ErrorSample,
    binary_entropy,
    phase_error_bound,
    serfling_mu,
)
from qentangle.errors import ValidationError, check_positive_int, check_probability, check_range


def _eps(name: str, value: float) -> float:
    return check_range(name, value, 0.0, 1.0, low_open=True, high_open=True)


def phase_error_failure(eps_sec: float, estimates: int = 1) -> float:
    """Failure probability allowed to each of ``estimates`` phase-error bounds of one key.

    TLGR's proof needs the phase-error bound of the whole key to fail with probability at most
    ``(eps_sec / 2)^2``. When it is assembled from ``estimates`` separate bounds (e.g. one per
    basis in BBM92 with both bases as key) that must all hold together, the union bound gives
    each ``(eps_sec / 2)^2 / estimates``.

    >>> f"{phase_error_failure(1e-10):.3g}"
    '2.5e-21'
    >>> phase_error_failure(1e-10, estimates=2) / phase_error_failure(1e-10)
    0.5
    """
    eps_sec = _eps("eps_sec", eps_sec)
    estimates = check_positive_int("estimates", estimates)
    return (eps_sec / 2.0) ** 2 / estimates


def shor_preskill_rate(e_bit: float, e_phase: float, f: float = 1.0) -> float:
    """Asymptotic secret fraction ``1 - f h(e_bit) - h(e_phase)`` (may be negative).

    >>> shor_preskill_rate(0.0, 0.0)
    1.0
    """
    e_bit = check_probability("e_bit", e_bit)
    e_phase = check_probability("e_phase", e_phase)
    f = check_range("f", f, 1.0)
    return float(1.0 - f * binary_entropy(e_bit) - binary_entropy(e_phase))


def asymptotic_key_length(n: int, phase_error: float, leaked_bits: int) -> int:
    """Shor-Preskill key length with the measured leakage: ``floor(n (1 - h(e_ph)) - leak)``.

    ``phase_error`` is the observed (point) estimate; no finite-size correction. Clipped at 0.

    >>> asymptotic_key_length(10000, 0.02, 1600)
    6985
    """
    n = check_positive_int("n", n, minimum=0)
    phase_error = check_probability("phase_error", phase_error)
    leaked_bits = check_positive_int("leaked_bits", leaked_bits, minimum=0)
    value = n * (1.0 - binary_entropy(min(phase_error, 0.5))) - leaked_bits
    return max(0, math.floor(value))


def finite_key_length(n: int, phase_error_upper: float, leaked_bits: int, eps_sec: float) -> int:
    """TLGR finite-key length with a given phase-error bound and *total* disclosed bits.

    ``l = floor(n (1 - h(e_ph^U)) - leaked_bits - log2(2 / eps_sec^2))``, clipped at 0.
    ``leaked_bits`` must include the verification tag (``>= log2(1/eps_cor)`` bits), which
    takes the place of TLGR's ``log2(1/eps_cor)`` term.

    >>> finite_key_length(10**6, 0.03, 200_000, 1e-10)
    605540
    """
    n = check_positive_int("n", n, minimum=0)
    phase_error_upper = check_probability("phase_error_upper", phase_error_upper)
    leaked_bits = check_positive_int("leaked_bits", leaked_bits, minimum=0)
    eps_sec = _eps("eps_sec", eps_sec)
    if n == 0:
        return 0
    value = (
        n * (1.0 - binary_entropy(min(phase_error_upper, 0.5)))
        - leaked_bits
        - math.log2(2.0 / eps_sec**2)
    )
    return max(0, math.floor(value))


def tlgr_key_length(
    n: int, k: int, qber: float, leak_ec: int, eps_sec: float, eps_cor: float
) -> int:
    """TLGR (Nat. Commun. 3, 634, 2012) key length exactly as published.

    ``l = floor(n (1 - h(Q + mu)) - leak_EC - log2(2 / (eps_sec^2 eps_cor)))`` with
    ``mu = sqrt((n + k)/(n k) (k + 1)/k ln(2/eps_sec))``; ``n`` key bits, ``k`` sampled bits,
    ``Q`` the error rate observed on the sample. Clipped at 0; ``h`` saturates at 1/2.

    >>> tlgr_key_length(10**6, 10**5, 0.02, 160_000, 1e-10, 1e-15)
    615517
    """
    n = check_positive_int("n", n)
    k = check_positive_int("k", k)
    qber = check_probability("qber", qber)
    leak_ec = check_positive_int("leak_ec", leak_ec, minimum=0)
    eps_sec = _eps("eps_sec", eps_sec)
    eps_cor = _eps("eps_cor", eps_cor)
    q = min(0.5, qber + serfling_mu(n, k, eps_sec))
    value = n * (1 - binary_entropy(q)) - leak_ec - math.log2(2.0 / (eps_sec**2 * eps_cor))
    return max(0, math.floor(value))


def device_independent_rate(s_value: float, qber: float) -> float:
    """Acin et al. (PRL 98, 230501, 2007) collective-attack rate from CHSH ``S``.

    ``r = 1 - h(Q) - h((1 + sqrt((S/2)^2 - 1)) / 2)``; 0 when ``S <= 2``. Not valid for
    post-selected (fair-sampling) data.

    >>> round(device_independent_rate(2 * math.sqrt(2), 0.0), 6)
    1.0
    """
    s_value = check_range("s_value", s_value, 0.0, 2 * math.sqrt(2) + 1e-9)
    qber = check_probability("qber", qber)
    if s_value <= 2.0:
        return 0.0
    arg = min(1.0, (1.0 + math.sqrt(max(0.0, (s_value / 2) ** 2 - 1.0))) / 2.0)
    return float(1.0 - binary_entropy(min(qber, 1.0)) - binary_entropy(arg))


def device_independent_phase_error(s_value: float) -> float:
    """The phase-error rate whose entropy is the Acin et al. bound on Eve's information from S.

    Eve's information per key bit is at most ``h((1 + sqrt((S/2)^2 - 1)) / 2)``, which equals
    ``h(e)`` for ``e = (1 - sqrt((S/2)^2 - 1)) / 2``; with ``S <= 2`` nothing is bounded (1/2).
    Using ``e`` as the phase error makes the key length ``n (1 - h(e)) - leak - ...`` the
    device-independent one.

    >>> device_independent_phase_error(2 * math.sqrt(2))
    0.0
    >>> device_independent_phase_error(2.0)
    0.5
    """
    s_value = check_range("s_value", s_value, -4.0, 4.0)
    if s_value <= 2.0:
        return 0.5
    return float(max(0.0, (1.0 - math.sqrt(max(0.0, min(1.0, (s_value / 2) ** 2 - 1.0)))) / 2.0))


def micius_example(
    *,
    sifted_bits: int = 3410,
    qber: float = 0.045,
    f: float = 1.19,
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-10,
) -> dict[str, float | int]:
    """Key lengths at Micius-2020-like parameters (BBM92, both bases kept as key).

    Each basis holds ``sifted_bits / 2`` key bits whose phase error is bounded from the bit
    errors of the other basis (two estimates, each failing with probability
    ``phase_error_failure(eps_sec, 2)``); EC leaks ``f n h(Q)``, the tag
    ``ceil(log2(1/eps_cor))`` bits. Returns the total over both bases for several phase-error
    bounds.

    >>> ex = micius_example()
    >>> ex["tlgr_serfling_bits"], ex["hypergeometric_bits"] > 100
    (0, True)
    """
    from qentangle.distill.verify import tag_bits

    n = check_positive_int("sifted_bits", sifted_bits, minimum=2) // 2
    errors = round(qber * n)
    sample = ErrorSample(errors, n)
    leak = math.ceil(f * n * binary_entropy(qber)) + tag_bits(eps_cor)
    e_hyp = phase_error_bound(sample, n, eps_sec, estimates=2)
    e_ser = phase_error_bound(sample, n, eps_sec, method="serfling", estimates=2)
    # Looser accounting: estimate failing with probability eps_sec itself (not (eps_sec/2)^2).
    from qentangle.distill.estimate import hypergeometric_upper_errors

    e_lin = hypergeometric_upper_errors(errors, n, n, eps_sec) / n
    return {
        "key_bits_per_basis": n,
        "phase_error_hypergeometric": e_hyp,
        "phase_error_serfling": e_ser,
        "tlgr_serfling_bits": 2 * finite_key_length(n, e_ser, leak, eps_sec),
        "hypergeometric_bits": 2 * finite_key_length(n, e_hyp, leak, eps_sec),
        "hypergeometric_linear_eps_bits": 2 * finite_key_length(n, e_lin, leak, eps_sec),
        "asymptotic_bits": 2 * asymptotic_key_length(n, qber, leak),
        "published_bits": 372,
    }


def secret_fraction(final_bits: int, sifted_bits: int) -> float:
    """Final key bits per sifted bit entering distillation (0 for an empty input).

    ``sifted_bits`` counts every sifted bit the distillation consumed, including those disclosed
    (and removed) to estimate the QBER; this is the ``secret_fraction`` of a
    :class:`~qentangle.distill.chain.DistillationResult`.

    >>> secret_fraction(25, 100)
    0.25
    """
    final_bits = check_positive_int("final_bits", final_bits, minimum=0)
    sifted_bits = check_positive_int("sifted_bits", sifted_bits, minimum=0)
    if final_bits > max(sifted_bits, 0):
        raise ValidationError(
            f"final_bits={final_bits!r} is out of range: expected <= sifted_bits={sifted_bits}"
        )
    return 0.0 if sifted_bits == 0 else final_bits / sifted_bits


__all__ = [
    "asymptotic_key_length",
    "device_independent_rate",
    "finite_key_length",
    "micius_example",
    "phase_error_failure",
    "secret_fraction",
    "shor_preskill_rate",
    "tlgr_key_length",
]
