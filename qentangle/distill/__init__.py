"""Key distillation (pure numpy, no Qiskit): estimation, reconciliation, verification,
privacy amplification and finite-key lengths.

The one entry point most callers need is :func:`distill`:

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> from qentangle.distill import distill
>>> rng = np.random.default_rng(2)
>>> a = rng.integers(0, 2, 20_000, dtype=np.uint8)
>>> b = a ^ (rng.random(20_000) < 0.01).astype(np.uint8)
>>> r = distill(a, b, ClassicalChannel.with_random_key(rng), rng_alice=rng)
>>> r.aborted, r.keys_match
(False, True)
"""

from qentangle.distill.amplify import privacy_amplification, toeplitz_hash, toeplitz_matrix
from qentangle.distill.cascade import CascadeOutcome, block_sizes, cascade_reconcile
from qentangle.distill.chain import DistillationResult, distill, distill_two_basis
from qentangle.distill.estimate import (
    ErrorSample,
    binary_entropy,
    estimate_qber,
    hypergeometric_upper_errors,
    phase_error_bound,
    phase_error_failure,
    serfling_mu,
)
from qentangle.distill.finite_key import (
    TwoBasisKey,
    asymptotic_key_length,
    device_independent_rate,
    finite_key_analyses,
    finite_key_length,
    lim_2021_key,
    shor_preskill_rate,
    tlgr_key_length,
    two_basis_key,
)
from qentangle.distill.verify import tag_bits, verify_keys

__all__ = [
    "CascadeOutcome",
    "DistillationResult",
    "ErrorSample",
    "TwoBasisKey",
    "asymptotic_key_length",
    "binary_entropy",
    "block_sizes",
    "cascade_reconcile",
    "device_independent_rate",
    "distill",
    "distill_two_basis",
    "estimate_qber",
    "finite_key_analyses",
    "finite_key_length",
    "hypergeometric_upper_errors",
    "lim_2021_key",
    "phase_error_bound",
    "phase_error_failure",
    "privacy_amplification",
    "serfling_mu",
    "shor_preskill_rate",
    "tag_bits",
    "tlgr_key_length",
    "toeplitz_hash",
    "toeplitz_matrix",
    "two_basis_key",
    "verify_keys",
]
