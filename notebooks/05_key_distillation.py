# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Key distillation: from sifted bits to a secret key
#
# Two endpoints hold correlated sifted bits. Over an authenticated public channel they
# **estimate** the error rate, **correct** errors (Cascade or LDPC), **verify** the result with a
# universal hash and **amplify privacy** with a Toeplitz hash, keeping as many bits as the
# finite-key bound allows. Every bit disclosed on the channel is counted and subtracted.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

from qentangle import ClassicalChannel
from qentangle.distill import (
    ErrorSample,
    binary_entropy,
    cascade_reconcile,
    distill,
    estimate_qber,
    finite_key_length,
    hypergeometric_upper_errors,
    phase_error_bound,
    privacy_amplification,
    tag_bits,
    two_basis_key,
    verify_keys,
)

rng = np.random.default_rng(2024)
n, qber = 40_000, 0.03
alice = rng.integers(0, 2, n, dtype=np.uint8)
bob = alice ^ (rng.random(n) < qber).astype(np.uint8)   # a binary symmetric channel
channel = ClassicalChannel.with_random_key(rng)

# %% [markdown]
# ## 1. Parameter estimation
# Alice discloses a random 10 % sample; the bits are removed from the key. The phase error of
# the remaining key is bounded by random sampling without replacement (exact hypergeometric tail
# at TLGR's failure probability, or TLGR's Serfling `mu`).

# %%
sample, a_key, b_key = estimate_qber(alice, bob, channel, sample_size=n // 10, rng_alice=rng)
bound = phase_error_bound(sample, a_key.size, 1e-10)
serf = phase_error_bound(sample, a_key.size, 1e-10, method="serfling")
print(f"observed {sample.rate:.4f}; phase-error bound: hypergeometric {bound:.4f}, Serfling {serf:.4f}")

# %% [markdown]
# ## 2. Error correction with Cascade (every parity of Alice's key that crosses is counted)

# %%
out = cascade_reconcile(a_key, b_key, channel, qber=sample.rate, rng_alice=rng)
f = out.leaked_bits / (a_key.size * binary_entropy(out.corrected_bits / a_key.size))
print(f"corrected {out.corrected_bits} bits, leaked {out.leaked_bits}, f = {f:.3f}, "
      f"{out.messages} messages, residual errors (diagnostic): {np.count_nonzero(out.bob_key != a_key)}")

# %% [markdown]
# ## 2b. Error correction with LDPC syndromes (one-way)
# Alice sends, per frame, the syndrome `H x_A` of a public LDPC code sized for the estimated QBER
# (`m = f0 n h(Q)` bits) and a 32-bit hash; Bob decodes his error pattern with belief propagation
# (the `ldpc` package). A frame that fails gets blind retries (Alice reveals the bits Bob was least
# sure of), and is discarded after the last one. Below: efficiency `f = leaked / (n h(Q))` and frame
# error rates against the QBER, beside Cascade on the same keys. The frames here are small (4000
# bits, so this runs in seconds); longer frames decode closer to capacity, see
# `benchmarks/distill.py`.

# %%
from qentangle.distill.ldpc_ec import ldpc_reconcile

qbers = [0.01, 0.02, 0.03, 0.04, 0.05]
rows = []
for q in qbers:
    r_ = np.random.default_rng(int(q * 1000))
    a = r_.integers(0, 2, 16_000, dtype=np.uint8)
    b = a ^ (r_.random(16_000) < q).astype(np.uint8)
    h_true = binary_entropy(np.mean(a != b))
    ld = ldpc_reconcile(a, b, ClassicalChannel.with_random_key(r_), qber=q, rng_alice=r_, frame_bits=4000)
    kept = ld.kept
    f_ldpc = ld.leaked_bits / (kept.sum() * binary_entropy(np.mean(a[kept] != b[kept])))
    cs = cascade_reconcile(a, b, ClassicalChannel.with_random_key(r_), qber=q, rng_alice=r_)
    rows.append((q, f_ldpc, ld.first_try_frame_error_rate, ld.frame_error_rate, ld.retries,
                 cs.leaked_bits / (a.size * h_true)))
    assert np.array_equal(ld.bob_key[kept], a[kept]) and np.array_equal(cs.bob_key, a)
print("QBER   f LDPC  FER first try  FER final  retries   f Cascade")
for q, fl, fer1, fer, nr, fc in rows:
    print(f"{q:4.2f}  {fl:7.3f}  {fer1:13.2f}  {fer:9.2f}  {nr:7d}  {fc:10.3f}")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(qbers, [r[1] for r in rows], "o-", label="LDPC (4000-bit frames)")
ax.plot(qbers, [r[5] for r in rows], "s-", label="Cascade")
ax.axhline(1.0, color="grey", lw=0.8)
ax.set_xlabel("QBER")
ax.set_ylabel("f = leaked / (n h(Q))")
ax.legend()
plt.show()

# %% [markdown]
# On these short frames LDPC discloses noticeably more than `n h(Q)`: the first syndrome often
# fails to decode (first-try FER) and the retries add revealed bits, all counted. Cascade stays
# near `f = 1.05` but needs many interactive rounds; LDPC needs one message plus a retry round
# per failure.

# %% [markdown]
# ## 3. Verification and 4. privacy amplification

# %%
ok = verify_keys(a_key, out.bob_key, channel, eps_cor=1e-15, rng_alice=rng)
leaked = channel.disclosed_bits
length = finite_key_length(a_key.size, bound, leaked, 1e-10)
ka, kb = privacy_amplification(a_key, out.bob_key, channel, length, rng_alice=rng)
print(f"tags match: {ok}; disclosed {leaked} bits; final key {length} bits; identical: {np.array_equal(ka, kb)}")

# %% [markdown]
# ## The whole chain in one call
# `distill` returns a frozen result; `to_dict()` never holds key bits.

# %%
rng2 = np.random.default_rng(1)
result = distill(alice, bob, ClassicalChannel.with_random_key(rng2), rng_alice=rng2)
{k: v for k, v in result.to_dict().items() if k in (
    "final_key_bits", "keys_match", "leaked_bits", "ec_efficiency", "qber_estimate",
    "phase_error_bound", "asymptotic_key_bits", "finite_key_bits", "secret_fraction",
    "auth_key_bits_used", "aborted")}

# %% [markdown]
# ## Finite-size effects: key length against block size and QBER
# Analytic lengths (EC leakage `1.06 n h(Q)`, 10 % sample, tag of 50 bits): the key fraction
# shrinks as the block gets smaller or the QBER rises, and vanishes below a few thousand bits.

# %%
sizes = np.logspace(3, 7, 17).astype(int)
fig, ax = plt.subplots(figsize=(6, 3.5))
for q in (0.01, 0.03, 0.05, 0.07):
    fr = []
    for N in sizes:
        k = N // 10
        m = N - k
        e = phase_error_bound(ErrorSample(round(q * k), k), m, 1e-10)
        fr.append(finite_key_length(m, e, int(1.06 * m * binary_entropy(q)) + 50, 1e-10) / N)
    ax.semilogx(sizes, fr, label=f"QBER {q:.0%}")
ax.set_xlabel("sifted bits")
ax.set_ylabel("final bits per sifted bit")
ax.legend()
plt.show()

# %% [markdown]
# And measured with the full chain on small blocks (simulation):

# %%
for N in (2_000, 10_000, 50_000):
    for q in (0.02, 0.05, 0.08):
        r_ = np.random.default_rng(N + int(q * 100))
        a = r_.integers(0, 2, N, dtype=np.uint8)
        b = a ^ (r_.random(N) < q).astype(np.uint8)
        res = distill(a, b, ClassicalChannel.with_random_key(r_), rng_alice=r_)
        print(f"N={N:6d} QBER={q:.2f}: final {res.final_key_bits:6d} bits"
              + (f" (aborted: {res.abort_reason})" if res.aborted else ""))

# %% [markdown]
# ## Micius 2020 check
# About 3400 sifted bits (1700 per basis, the phase error of each basis estimated from the
# other), QBER 4.5 %, f = 1.19, eps = 1e-10 (Yin et al., Nature 582, 501, 2020, who report a
# final key of 372 bits). `two_basis_key` is the accounting the chain uses for such a key. TLGR
# with the Serfling bound gives nothing; the exact hypergeometric bound at the same failure
# probability gives a positive key; the paper's 372 bits lie between it and the looser variant
# in which each estimate fails with probability eps itself (instead of `(eps/2)^2` for both).

# %%
n, q, f, eps = 3410, 0.045, 1.19, 1e-10
sizes = (n // 2, n - n // 2)
errors = [round(q * size) for size in sizes]
leak = math.ceil(f * n * binary_entropy(q)) + tag_bits(eps)   # error correction + verification tag
serfling = two_basis_key(errors, sizes, leak, eps, bound="serfling")
exact = two_basis_key(errors, sizes, leak, eps)
loose_errors = sum(hypergeometric_upper_errors(errors[1 - b], sizes[1 - b], sizes[b], eps) for b in (0, 1))
loose = finite_key_length(n, loose_errors / n, leak, eps)
print(f"phase-error bound: Serfling {serfling.phase_error_bound:.4f}, hypergeometric "
      f"{exact.phase_error_bound:.4f}, hypergeometric at eps itself {loose_errors / n:.4f}")
print(f"final key bits:    Serfling {serfling.final_bits}, hypergeometric {exact.final_bits}, "
      f"looser {loose}; published 372; asymptotic {exact.asymptotic_bits}")
assert serfling.final_bits == 0 < exact.final_bits < 372 < loose
