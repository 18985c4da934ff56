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
hypergeometric tail). :func:`two_basis_key` holds that accounting for a key made of both
bases; at the Micius 2020 operating point (3410 sifted bits, QBER 4.5 %, f = 1.19,
eps = 1e-10) it keeps 266 bits, where Yin et al. (Nature 582, 501, 2020) report 372.

>>> round(shor_preskill_rate(0.045, 0.045, 1.19), 3)
0.42
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qentangle.distill.estimate import (
    ErrorSample,
    binary_entropy,
    phase_error_bound,
    phase_error_failure,
    serfling_mu,
)
from qentangle.errors import ValidationError, check_positive_int, check_probability, check_range


def _eps(name: str, value: float) -> float:
    return check_range(name, value, 0.0, 1.0, low_open=True, high_open=True)


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


@dataclass(frozen=True)
class TwoBasisKey:
    """The finite-key accounting of a key made of both bases' sifted bits (see :func:`two_basis_key`)."""

    phase_error_bounds: tuple[float, float]
    """Upper bound on the phase-error rate of each basis's bits, from the other basis."""
    phase_error_bound: float
    """Upper bound on the phase-error rate of the whole key (at most 1/2)."""
    final_bits: int
    """Finite-key length (Tomamichel et al. 2012), 0 when not positive."""
    asymptotic_bits: int
    """Asymptotic length ``n (1 - h(Q)) - leaked`` at the observed QBER."""


def two_basis_key(
    errors: Sequence[int],
    sizes: Sequence[int],
    leaked_bits: int,
    eps_sec: float,
    *,
    key_bits: int | None = None,
    qber: float | None = None,
    bound: str = "hypergeometric",
) -> TwoBasisKey:
    """Key length of BBM92 with every sifted bit of both bases kept as key.

    This is the one place the two-basis accounting lives: the distillation chain
    (:func:`qentangle.distill.chain.distill_two_basis`) calls it with counted errors, and the
    satellite comparison with a link model's expected ones.

    Basis ``b`` holds ``sizes[b]`` sifted bits, ``errors[b]`` of them in error. Each basis's
    rounds are a random sample of all rounds (the basis was chosen at random per round), so the
    bit errors of one basis bound the *phase* errors of the other: ``bound`` (exact
    hypergeometric tail by default, or Serfling) at failure probability
    ``phase_error_failure(eps_sec, 2)`` each, so that both hold together with probability
    ``1 - (eps_sec/2)^2``. The two bounds, weighted by the basis sizes, bound the phase-error
    rate of the ``key_bits`` kept bits (all sifted bits by default); the key length is
    :func:`finite_key_length` with ``leaked_bits`` (error correction and verification tag).
    ``qber`` (default: total errors over total bits) gives the asymptotic length beside it.

    Assumptions: the basis choice is uniform and independent of the source (sampling), and
    Eve's attack is bounded by the phase-error (entropic uncertainty) argument of TLGR 2012.

    At the Micius 2020 operating point (3410 sifted bits, QBER 4.5 %, the paper's f = 1.19,
    eps = 1e-10 and a 34-bit verification tag) it keeps 266 bits (the paper reports 372):

    >>> n, q = 3410, 0.045
    >>> sizes = (n // 2, n - n // 2)
    >>> leak = math.ceil(1.19 * n * binary_entropy(q)) + 34
    >>> two_basis_key([round(q * s) for s in sizes], sizes, leak, 1e-10).final_bits
    266
    """
    sizes = tuple(check_positive_int(f"sizes[{b}]", sizes[b], minimum=1) for b in (0, 1))
    errors = tuple(check_positive_int(f"errors[{b}]", errors[b], minimum=0) for b in (0, 1))
    if len(errors) != 2 or any(errors[b] > sizes[b] for b in (0, 1)):
        raise ValidationError(f"errors={list(errors)!r} is out of range: expected 0 <= errors[b] <= sizes[b]")
    kept = sum(sizes) if key_bits is None else check_positive_int("key_bits", key_bits, minimum=1)
    bounds = tuple(
        phase_error_bound(ErrorSample(errors[1 - b], sizes[1 - b]), sizes[b], eps_sec, method=bound,
                          estimates=2)
        for b in (0, 1)
    )
    counts = sum(bounds[b] * sizes[b] for b in (0, 1))
    phase = 0.5 if max(bounds) >= 0.5 else min(0.5, counts / kept)
    observed = sum(errors) / sum(sizes) if qber is None else check_probability("qber", qber)
    return TwoBasisKey(
        phase_error_bounds=bounds,
        phase_error_bound=phase,
        final_bits=finite_key_length(kept, phase, leaked_bits, eps_sec),
        asymptotic_bits=asymptotic_key_length(kept, min(0.5, observed), leaked_bits),
    )


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


# ------------------------------------------------------------------ analyses side by side
MICIUS_2020_POINT = {"sifted_bits": 3410, "qber": 0.045, "ec_efficiency": 1.19, "eps_sec": 1e-10}
"""The published Micius 2020 operating point (Yin et al., Nature 582, 501, 2020): 1.1 Hz sifted
for 3100 s, QBER about 4.5 %, Hamming code f = 1.19, eps = 1e-10 (all [P])."""


def fmc_deviation(failure: float, n_x: int, n_z: int, e_b: float) -> float:
    """Fung-Ma-Chau random-sampling deviation theta (PRA 81, 012318, 2010).

    The phase-error rate of ``n_x`` bits exceeds the bit-error rate ``e_b`` of ``n_z`` other bits
    (both a random split of one population) by more than theta with probability at most

        sqrt(n_x + n_z) / sqrt(n_x n_z e_b (1 - e_b)) 2^(-(n_x + n_z) xi(theta)),
        xi = h(e_b + theta - q theta) - q h(e_b) - (1 - q) h(e_b + theta),  q = n_x / (n_x + n_z);

    returns the theta at which that is ``failure`` (an approximation of the hypergeometric tail
    by entropies, not a strict bound for every size).

    >>> round(fmc_deviation(1e-10, 1705, 1705, 0.045), 4)
    0.0576
    """
    failure = _eps("failure", failure)
    n_x, n_z = check_positive_int("n_x", n_x), check_positive_int("n_z", n_z)
    e_b = check_range("e_b", e_b, 0.0, 0.5, low_open=True, high_open=True)
    q = n_x / (n_x + n_z)
    prefactor = math.sqrt(n_x + n_z) / math.sqrt(n_x * n_z * e_b * (1.0 - e_b))

    def excess(theta: float) -> float:
        xi = (float(binary_entropy(e_b + theta - q * theta)) - q * float(binary_entropy(e_b))
              - (1.0 - q) * float(binary_entropy(e_b + theta)))
        return math.log2(prefactor) - (n_x + n_z) * xi - math.log2(failure)

    lo, hi = 0.0, 0.5 - e_b
    if excess(hi - 1e-12) > 0:
        return hi
    for _ in range(200):  # bisection: excess falls from >= 0 at theta = 0 to < 0 at hi
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return hi


@dataclass(frozen=True)
class Lim2021Key:
    """Optimised key of the Lim, Xu, Pan & Ekert (2021) analysis (see :func:`lim_2021_key`)."""

    final_bits: int
    phase_error_bound: float
    """delta + nu at the optimum: the bound on the key bits' phase-error rate."""
    test_fraction: float
    """beta: the fraction of the m sifted bits used as the (X-basis) test set."""
    tag_bits: int
    """t: error-verification tag length, eps_cor = 2^-t."""


def lim_2021_key(sifted_bits: int, qber: float, ec_efficiency: float, eps_sec: float) -> Lim2021Key:
    """BBM92 finite key of Lim, Xu, Pan & Ekert, PRL 126, 100501 (2021) (arXiv 2009.04882).

    The formula as read [S] from a public third-party implementation that cites the paper (the
    paper's text was not available to us; its abstract [P] says the analysis gives Micius a
    positive key at eps = 1e-5). Of the ``m`` sifted bits a random fraction ``beta`` (``k`` bits)
    is the test set, the other ``n = m - k`` bits the key (ONE basis as key, the other as test)::

        l = n (1 - h(delta + nu)) - f n h(delta) - t + 2 log2(2 (eps - 2^-t - 2 eps_pe)),
        eps_pe = sqrt( exp(-2 m k xi^2 / (n + 1)) + exp(-2 g ((n (nu - xi))^2 - 1)) ),
        g = 1 / (1 + m (delta + xi)) + 1 / (1 + m - m (delta + xi)),

    maximised over beta, nu > xi and the tag length t. The first exponential bounds the test's
    observed error against the whole block's (random, Bernoulli-sampled test set), the second the
    phase errors of the key bits given the whole block's rate (a hypergeometric tail sharper than
    Serfling's). We optimise on a grid: ``eps_pe`` as a fraction of ``eps - 2^-t`` and its split
    between the two exponentials (xi and nu then follow in closed form), beta, and t; any grid
    point is an admissible choice, so the returned length is achievable by the analysis (it may
    lie a bit or two below the exact optimum).

    Why our default keeps 266 bits at 1e-10 where this keeps none (Micius point, both measured):

    1. What is key. The default (:func:`two_basis_key`) keeps BOTH bases as key (3410 bits, each
       basis's phase errors bounded from the other basis's bit errors); Lim et al. keep only the
       key basis (here about half the block). The default with one basis as key (1705 key bits,
       phase errors from the other 1705) keeps 87 bits at 1e-10: the second basis is worth 179.
    2. The tail. At 1e-10 the default's phase-error bound is 0.136 (exact hypergeometric tail,
       conditioned on the realised split of fixed sizes, failure (eps/2)^2); Lim et al.'s is 0.18:
       their test set is a Bernoulli sample of random size (the first exponential, with its own
       share of eps) and the phase-error tail is an analytic (Chvatal/Hush-type) bound, both
       looser than the exact tail at 1700-bit samples. That alone takes 87 bits to none.
    3. Budget terms (tag t, PA 2 log2(1/(2 eps_PA)) with eps_PA = eps - 2^-t - 2 eps_pe) differ by
       a few bits only.

    Conditioning on the realised basis sizes is sound when the basis is chosen uniformly and
    independently per round (given the counts, the split is then uniformly random), which both
    analyses assume; we found no assumption in the default that Lim et al. avoid, other than
    using both bases as key (uniform, independent basis choice for both bases' bits).

    >>> key = lim_2021_key(3410, 0.045, 1.19, 1e-5)
    >>> key.final_bits > 0, lim_2021_key(3410, 0.045, 1.19, 1e-10).final_bits
    (True, 0)
    """
    m = check_positive_int("sifted_bits", sifted_bits, minimum=2)
    delta = check_range("qber", qber, 0.0, 0.5, low_open=True, high_open=True)
    f = check_range("ec_efficiency", ec_efficiency, 1.0, 10.0)
    eps = _eps("eps_sec", eps_sec)
    t0 = math.floor(math.log2(1.0 / eps))
    beta, tag, fraction, split = np.meshgrid(
        np.linspace(0.05, 0.7, 66), np.arange(t0 + 1, t0 + 14, dtype=float), np.logspace(-5, -0.001, 41),
        np.linspace(0.05, 0.95, 19), indexing="ij", sparse=False,
    )
    room = eps - 2.0**-tag
    eps_pe = fraction * room / 2.0
    k = np.floor(beta * m)
    n = m - k
    xi = np.sqrt((n + 1) * np.log(1.0 / (split * eps_pe**2)) / (2.0 * m * k))
    gamma = 1.0 / (1.0 + m * (delta + xi)) + 1.0 / (1.0 + m - m * (delta + xi))
    nu = xi + np.sqrt(np.log(1.0 / ((1.0 - split) * eps_pe**2)) / (2.0 * gamma) + 1.0) / n
    phase = np.minimum(delta + nu, 0.5)
    length = (2.0 * np.log2(2.0 * (room - 2.0 * eps_pe)) + n * (1.0 - binary_entropy(phase))
              - f * n * float(binary_entropy(delta)) - tag)
    length = np.where(delta + nu < 0.5, length, -np.inf)
    best = np.unravel_index(int(np.argmax(length)), length.shape)
    return Lim2021Key(
        final_bits=max(0, math.floor(float(length[best]))), phase_error_bound=float(phase[best]),
        test_fraction=float(beta[best]), tag_bits=int(tag[best]),
    )


@dataclass(frozen=True)
class FiniteKeyAnalysis:
    """One finite-key analysis at an operating point (a row of :func:`finite_key_analyses`)."""

    name: str
    assumes: str
    key_bits: int
    """Final key at the operating point's eps."""
    first_positive_eps: float | None
    """Smallest eps on the decade grid 1e-1 ... 1e-20 with a positive key (None: none)."""
    phase_error_bound: float
    published: str


def _analysis_key(name: str, n: int, qber: float, f: float, eps: float) -> tuple[int, float]:
    """Key bits and phase-error bound of analysis ``name`` at one point (both bases as key)."""
    sizes = (n // 2, n - n // 2)
    errors = [round(qber * size) for size in sizes]
    leak_ec = math.ceil(f * n * float(binary_entropy(qber)))
    tag = math.ceil(math.log2(1.0 / eps))  # verification tag at eps_cor = eps
    if name in ("hypergeometric", "serfling"):
        key = two_basis_key(errors, sizes, leak_ec + tag, eps, qber=qber, bound=name)
        return key.final_bits, key.phase_error_bound
    if name == "lim-2021":
        key = lim_2021_key(n, qber, f, eps)
        return key.final_bits, key.phase_error_bound
    if name == "fmc-eps":
        e_ph = min(0.5, qber + fmc_deviation(eps, sizes[0], sizes[1], qber))
        return finite_key_length(n, e_ph, leak_ec + tag, eps), e_ph
    if name == "fmc-no-pa-terms":
        e_ph = min(0.5, qber + fmc_deviation(phase_error_failure(eps), sizes[0], sizes[1], qber))
        value = n * (1.0 - float(binary_entropy(e_ph))) - f * n * float(binary_entropy(qber))
        return max(0, math.floor(value)), e_ph
    raise ValidationError(f"analysis={name!r} is not valid: expected one of {list(ANALYSES)}")


ANALYSES = {
    "hypergeometric": (
        "qentangle's default: exact hypergeometric tail of each basis's phase errors from the other's "
        "bit errors at (eps/2)^2/2 each; TLGR 2012 length with PA term log2(2/eps^2) and verification "
        "tag; composable, coherent attacks (entropic uncertainty)",
        "",
    ),
    "serfling": (
        "as the default with the Serfling bound (TLGR 2012's own estimate) in place of the exact tail",
        "",
    ),
    "lim-2021": (
        "Lim, Xu, Pan & Ekert 2021 as read [S] from a third-party implementation: one basis is key, "
        "a random fraction beta of the block is the test set (random size), Bernoulli-sampling plus "
        "sharpened hypergeometric tail for the phase error, tag t and 2 log2(1/(2 eps_PA)) for PA, "
        "optimised over beta, t and the eps split; composable, coherent attacks",
        "Lim, Xu, Pan & Ekert, PRL 126, 100501 (2021): Micius gives a positive key at eps = 1e-5 [P, "
        "abstract]; a secondary source says about 6 bits at 1e-6 and none below for a 3100-bit block at "
        "QBER 4.51 % [S] (this row there: 14 bits at 1e-6, none at 1e-7)",
    ),
    "fmc-eps": (
        "Fung-Ma-Chau random sampling with the whole eps given to the phase-error estimate (not "
        "(eps/2)^2), then the TLGR length: inconsistent failure budget, not composable at eps",
        "",
    ),
    "fmc-no-pa-terms": (
        "Fung-Ma-Chau random sampling at (eps/2)^2 on all sifted bits, length n (1 - h(e_b + theta)) "
        "- f n h(e_b) WITHOUT the privacy-amplification term log2(2/eps^2) or the verification tag: "
        "not a composable eps-secure key (the closest reading of the published 372 we found; the "
        "paper's own formula was not available to us)",
        "Yin et al., Nature 582, 501 (2020): 372 bits at eps = 1e-10",
    ),
}
"""Each analysis's assumptions and the published claim it sits beside."""


def finite_key_analyses(
    sifted_bits: int = MICIUS_2020_POINT["sifted_bits"],
    qber: float = MICIUS_2020_POINT["qber"],
    ec_efficiency: float = MICIUS_2020_POINT["ec_efficiency"],
    eps_sec: float = MICIUS_2020_POINT["eps_sec"],
) -> list[FiniteKeyAnalysis]:
    """Every finite-key analysis of :data:`ANALYSES` at one operating point (default: Micius 2020).

    Both bases are key (n/2 bits each, errors ``round(qber n/2)``), error correction leaks
    ``ceil(f n h(Q))`` bits, the verification tag ``ceil(log2(1/eps))`` (eps_cor = eps).

    >>> rows = {row.name: row for row in finite_key_analyses()}
    >>> rows["hypergeometric"].key_bits, rows["fmc-no-pa-terms"].key_bits, rows["serfling"].key_bits
    (266, 368, 0)
    >>> rows["serfling"].first_positive_eps
    1e-05
    """
    n = check_positive_int("sifted_bits", sifted_bits, minimum=2)
    qber = check_range("qber", qber, 0.0, 0.5, low_open=True, high_open=True)
    f = check_range("ec_efficiency", ec_efficiency, 1.0, 10.0)
    eps_sec = _eps("eps_sec", eps_sec)
    rows = []
    for name, (assumes, published) in ANALYSES.items():
        key, phase = _analysis_key(name, n, qber, f, eps_sec)
        first = None
        for decade in range(1, 21):  # keys shrink as eps tightens: stop at the first empty one
            if _analysis_key(name, n, qber, f, 10.0**-decade)[0] == 0:
                break
            first = 10.0**-decade
        rows.append(FiniteKeyAnalysis(name, assumes, key, first, phase, published))
    return rows


__all__ = [
    "ANALYSES",
    "MICIUS_2020_POINT",
    "FiniteKeyAnalysis",
    "Lim2021Key",
    "TwoBasisKey",
    "asymptotic_key_length",
    "device_independent_rate",
    "finite_key_analyses",
    "finite_key_length",
    "fmc_deviation",
    "lim_2021_key",
    "phase_error_failure",
    "secret_fraction",
    "shor_preskill_rate",
    "tlgr_key_length",
    "two_basis_key",
]
