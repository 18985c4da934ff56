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
# # 4. BBM92 and the eavesdroppers
#
# BBM92 (Bennett, Brassard & Mermin 1992) is the entanglement-based twin of BB84. Alice and Bob
# each measure their photon in the **Z** basis (Bloch angle 0, H/V polarisation) or the **X**
# basis ($\pi/2$, diagonal), announce the bases, and keep the rounds where the bases match.
# There is no Bell test: security comes from comparing error rates in *both* bases. An
# eavesdropper who learns Z-basis bits must disturb the X basis, and vice versa; the bit-error
# rate measured in one basis bounds the *phase error* of the key in the other, which is what
# privacy amplification must remove.
#
# This notebook: the sifting fraction and the efficient (biased) variant; QBER in both bases
# under noise; then three attacks (intercept-resend, an entangling probe, a fake source), what
# each does to the two error rates, and how the protocol catches it.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from qentangle import (
    EntanglingProbe,
    FakeSource,
    InterceptResend,
    KeyOptions,
    NoiseConfig,
    run_bbm92,
    run_e91,
)
from qentangle.distill import binary_entropy
from qentangle.distill.estimate import sample_size_for
from qentangle.engines import ExactEngine

engine = ExactEngine()
TSIRELSON = 2 * math.sqrt(2)
SIGMAS = 4
OPTIONS = KeyOptions()             # defaults: 10 % sample, abort above an 11 % upper bound
ESTIMATE_ONLY = KeyOptions(distill=False)


def within(observed, expected, stderr, what):
    assert abs(observed - expected) <= SIGMAS * stderr, (
        f"{what}: {observed:.5f} vs {expected:.5f} ({abs(observed - expected) / stderr:.1f} standard errors)"
    )


def qber_stderr(rate, sample):
    # binomial standard error of an error rate measured on `sample` bits (floored near 0)
    return math.sqrt(max(rate * (1 - rate), 1.0 / sample) / sample)


def basis_samples(r, options=OPTIONS):
    # bits compared in each basis: a sample of each (p_z = 1/2), or every X bit (p_z > 1/2)
    if r.p_z > 0.5:
        return r.key.sample_size, r.sifted_x
    return (sample_size_for(r.sifted_z, options.sample_fraction),
            sample_size_for(r.sifted_x, options.sample_fraction))


# %% [markdown]
# ## Sifting: how many rounds survive
#
# If both ends pick Z with probability $p_z$, their bases match with probability
# $p_z^2+(1-p_z)^2$: one half for the symmetric protocol. Lo, Chau and Ardehali's **efficient
# BBM92** biases the choice towards Z: more rounds match, the key comes from Z only, and the few
# X rounds are all disclosed to estimate the phase error. The bias cannot go all the way: with
# too few X rounds the phase-error bound becomes loose and the finite key shrinks.

# %%
N = 100_000
p_zs = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
runs = [run_bbm92(N, p_z=pz, engine=engine, seed=20 + i) for i, pz in enumerate(p_zs)]

print(f"{'p_z':>5} {'sifted/N':>9} {'theory':>7} {'Z bits':>7} {'X bits':>7} {'key from':>8} "
      f"{'e_ph^U':>7} {'final/N':>8}")
for pz, r in zip(p_zs, runs, strict=True):
    d = r.to_dict()
    theory = pz**2 + (1 - pz) ** 2
    within(r.sifted_bits / N, theory, math.sqrt(theory * (1 - theory) / N), f"sifted fraction at p_z={pz}")
    print(f"{pz:5.2f} {r.sifted_bits / N:9.4f} {theory:7.4f} {r.sifted_z:7d} {r.sifted_x:7d} "
          f"{r.key_bases:>8} {r.key.phase_error_upper:7.4f} {d.get('final_key_bits', 0) / N:8.4f}")

fine = np.linspace(0.5, 1.0, 101)
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(fine, fine**2 + (1 - fine) ** 2, color="black", lw=1, label="$p_z^2+(1-p_z)^2$")
ax.plot(p_zs, [r.sifted_bits / N for r in runs], "o", label="sifted bits per pair")
ax.plot(p_zs, [r.to_dict().get("final_key_bits", 0) / N for r in runs], "s", label="final key bits per pair")
ax.set_xlabel("probability of choosing Z, $p_z$")
ax.set_ylabel("bits per pair")
ax.set_title(f"BBM92 with {N} perfect pairs")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# At $p_z=1/2$ both bases feed the key (each sampled for its QBER); with any bias the key comes
# from Z alone, so the key per pair first drops, then grows with $p_z$, until the X rounds are
# so few that the phase-error bound $e_\text{ph}^U$ (the upper confidence limit at
# $\varepsilon_\text{sec}=10^{-10}$) rises and eats the gain. The best bias depends on the
# number of pairs: the longer the run, the closer to 1 it gets.
#
# ## QBER in both bases under noise
#
# Noise shows up differently in the two bases, which is why both are watched:
#
# * two-qubit **depolarizing** $p$: $\text{QBER}_Z = \text{QBER}_X = p/2$;
# * **dephasing** $p$ on Bob's arm (a phase flip with probability $p$): Z bits untouched,
#   $\text{QBER}_X = p$.

# %%
strengths = np.round(np.arange(0.0, 0.31, 0.05), 2)
cases = {
    "depolarizing": (lambda s: NoiseConfig(depolarizing=s), lambda s: (s / 2, s / 2)),
    "dephasing on Bob's arm": (lambda s: NoiseConfig(dephasing_b=s), lambda s: (0.0, s)),
}
fine = np.linspace(0, 0.3, 100)
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, (make, theory)) in zip(axes, cases.items(), strict=True):
    results = [run_bbm92(200_000, noise=make(float(s)), engine=engine, seed=40 + i, key_options=ESTIMATE_ONLY)
               for i, s in enumerate(strengths)]
    for basis, color in (("z", "tab:blue"), ("x", "tab:orange")):
        k = 0 if basis == "z" else 1
        rates = [getattr(r, f"qber_{basis}") for r in results]
        errors = [qber_stderr(q, basis_samples(r)[k]) for q, r in zip(rates, results, strict=True)]
        for s, q, e in zip(strengths, rates, errors, strict=True):
            within(q, theory(float(s))[k], e, f"{name}: QBER_{basis} at {s}")
        ax.errorbar(strengths, rates, yerr=errors, fmt="o", capsize=3, color=color,
                    label=f"measured QBER {basis.upper()}")
        ax.plot(fine, [theory(s)[k] for s in fine], color=color, lw=1)
    ax.axhline(OPTIONS.qber_abort, color="tab:red", ls="--", lw=1, label="abort threshold")
    ax.set_title(f"{name} (lines: theory)")
    ax.set_xlabel("channel strength p")
    ax.legend(fontsize=8)
axes[0].set_ylabel("QBER")
plt.show()

# %% [markdown]
# Dephasing leaves the Z key perfect but not secret-looking: the X errors mean the Z bits'
# *phase* is disturbed, exactly what an eavesdropper who reads Z would cause. The protocol
# cannot tell noise from Eve, so it charges every error to Eve.
#
# ## Eavesdropper 1: intercept-resend
#
# On a fraction $f$ of the pairs Eve catches Bob's photon, measures it in Z or X at random and
# sends on a photon in the state she found. Half the time she picks the wrong basis and Bob's
# bit becomes random: $\text{QBER}=f/4$ in **both** bases, and she learns $f/2$ bit per key bit.
# The same attack against E91 shrinks every test correlator: $S=2\sqrt2\,(1-f/2)$, down to
# $\sqrt2$ for $f=1$.

# %%
fractions = np.round(np.arange(0.0, 1.01, 0.2), 1)
ir_bbm92, ir_e91 = [], []
for i, f in enumerate(fractions):
    attack = (InterceptResend(float(f), "bob"),)
    ir_bbm92.append(run_bbm92(200_000, attacks=attack, engine=engine, seed=60 + i))
    ir_e91.append(run_e91(200_000, attacks=attack, engine=engine, seed=70 + i, key_options=ESTIMATE_ONLY))

print(f"{'f':>4} {'QBER Z':>7} {'QBER X':>7} {'Eve info':>8} {'E91 S':>7}  BBM92 outcome")
for f, r, e in zip(fractions, ir_bbm92, ir_e91, strict=True):
    nz, nx = basis_samples(r)
    within(r.qber_z, f / 4, qber_stderr(r.qber_z, nz), f"QBER Z at f={f}")
    within(r.qber_x, f / 4, qber_stderr(r.qber_x, nx), f"QBER X at f={f}")
    within(e.S, TSIRELSON * (1 - f / 2), e.S_stderr, f"E91 S at f={f}")
    assert math.isclose(r.eve_information, f / 2, abs_tol=1e-12)
    outcome = r.key.abort_reason or f"key of {r.to_dict()['final_key_bits']} bits"
    print(f"{f:4.1f} {r.qber_z:7.4f} {r.qber_x:7.4f} {r.eve_information:8.3f} {e.S:7.3f}  {outcome}")

print()
for f, r in zip(fractions, ir_bbm92, strict=True):
    if f > 0 and not r.aborted:
        d = r.to_dict()
        removed = (d["distilled_bits"] - d["leaked_bits"] - d["final_key_bits"]) / d["distilled_bits"]
        print(f"f = {f}: Eve learned {r.eve_information:.3f} bit per key bit; privacy amplification "
              f"removed {removed:.3f} bit per bit (h(e_ph^U) = {binary_entropy(r.key.phase_error_upper):.3f})")
        assert removed >= r.eve_information
print(f"first intercepted fraction that makes BBM92 abort: {min(f for f, r in zip(fractions, ir_bbm92, strict=True) if r.aborted)}")

fine = np.linspace(0, 1, 100)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for basis, color in (("z", "tab:blue"), ("x", "tab:orange")):
    k = 0 if basis == "z" else 1
    ax1.errorbar(fractions, [getattr(r, f"qber_{basis}") for r in ir_bbm92],
                 yerr=[qber_stderr(getattr(r, f"qber_{basis}"), basis_samples(r)[k]) for r in ir_bbm92],
                 fmt="o", capsize=3, color=color, label=f"QBER {basis.upper()}")
ax1.plot(fine, fine / 4, color="black", lw=1, label="f / 4")
ax1.axhline(OPTIONS.qber_abort, color="tab:red", ls="--", lw=1, label="abort threshold")
ax1.set_xlabel("intercepted fraction f")
ax1.set_ylabel("QBER")
ax1.set_title("BBM92 under intercept-resend")
ax1.legend(fontsize=8)
ax2.errorbar(fractions, [r.S for r in ir_e91], yerr=[r.S_stderr for r in ir_e91], fmt="o", capsize=3,
             label="measured S")
ax2.plot(fine, TSIRELSON * (1 - fine / 2), color="black", lw=1, label="2√2 (1 - f/2)")
ax2.axhline(2, color="tab:red", ls="--", lw=1, label="classical bound")
ax2.set_xlabel("intercepted fraction f")
ax2.set_ylabel("S")
ax2.set_title("E91's Bell test under intercept-resend")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# Intercepting everything is blatant (a quarter of the bits wrong, $S=\sqrt2$). Intercepting a
# little is not caught, and need not be: privacy amplification removes $h(e^U_\text{ph})$ per
# bit, more than the $f/2$ bit Eve learned, as printed above. Once the error bound passes 11 %
# the protocol aborts and nothing is lost but time.
#
# ## Eavesdropper 2: an entangling probe
#
# A subtler Eve does not measure: she lets Bob's photon control a rotation of her own qubit
# (a controlled-$R_Y(s)$ in the Z basis, strength $s$ from 0 to $\pi$; $s=\pi$ is a CNOT that
# copies the Z value). She keeps her qubit and measures it later, as cleverly as she likes.
# The photon's Z value is untouched, so $\text{QBER}_Z = 0$; the X basis pays:
#
# $$\text{QBER}_X = \frac{1-\cos(s/2)}{2}, \qquad
#   \chi(\text{Alice}:\text{Eve}) = h\!\left(\frac{1+\cos(s/2)}{2}\right) = h(\text{QBER}_X)$$
#
# bits about each Z key bit (the Holevo information of her qubit, which `eve_information`
# computes from Aer's density matrix). That is exactly the phase-error term privacy
# amplification removes. We use efficient BBM92 ($p_z=0.8$, key from Z only, every X bit
# disclosed) so the key is made of the bits Eve probes.

# %%
P_Z = 0.8
probe_strengths = np.round(np.arange(0.0, 2.01, 0.25), 2)
probe_runs = [run_bbm92(200_000, p_z=P_Z, attacks=(EntanglingProbe(float(s), "bob", 0.0),),
                        engine=engine, seed=80 + i)
              for i, s in enumerate(probe_strengths)]

print(f"{'s':>5} {'QBER Z':>7} {'QBER X':>7} {'theory':>7} {'Eve χ':>6} {'PA removes':>10}  outcome")
removed = []
for s, r in zip(probe_strengths, probe_runs, strict=True):
    d = r.to_dict()
    e_x = (1 - math.cos(s / 2)) / 2
    within(r.qber_x, e_x, qber_stderr(r.qber_x, r.sifted_x), f"QBER X at s={s}")
    assert r.qber_z == 0.0
    assert math.isclose(r.eve_information, binary_entropy((1 + math.cos(s / 2)) / 2), abs_tol=1e-6)
    if r.aborted:
        removed.append(np.nan)
        outcome = r.key.abort_reason
    else:
        n = d["distilled_bits"]
        removed.append((n - d["leaked_bits"] - d["final_key_bits"]) / n)  # per key bit, besides EC leakage
        assert removed[-1] >= r.eve_information    # privacy amplification removes at least what Eve knows
        outcome = f"key of {d['final_key_bits']} bits"
    print(f"{s:5.2f} {r.qber_z:7.4f} {r.qber_x:7.4f} {e_x:7.4f} {r.eve_information:6.3f} "
          f"{removed[-1]:10.3f}  {outcome}")
first_abort = min(float(s) for s, r in zip(probe_strengths, probe_runs, strict=True) if r.aborted)
print(f"\nfirst probe strength that makes the run abort: {first_abort} rad "
      f"(X-QBER {(1 - math.cos(first_abort / 2)) / 2:.3f} in theory)")

fine = np.linspace(0, 2.0, 100)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.errorbar(probe_strengths, [r.qber_x for r in probe_runs],
             yerr=[qber_stderr(r.qber_x, r.sifted_x) for r in probe_runs],
             fmt="o", capsize=3, color="tab:orange", label="QBER X")
ax1.plot(probe_strengths, [r.qber_z for r in probe_runs], "o", color="tab:blue", label="QBER Z")
ax1.plot(fine, (1 - np.cos(fine / 2)) / 2, color="black", lw=1, label="(1 - cos(s/2)) / 2")
ax1.axhline(OPTIONS.qber_abort, color="tab:red", ls="--", lw=1, label="abort threshold")
ax1.set_xlabel("probe strength s (rad)")
ax1.set_ylabel("QBER")
ax1.legend(fontsize=8)
ax2.plot(fine, binary_entropy((1 + np.cos(fine / 2)) / 2), color="black", lw=1, label="h((1 + cos(s/2)) / 2)")
ax2.plot(probe_strengths, [r.eve_information for r in probe_runs], "o", color="tab:purple",
         label="Eve's Holevo information (Aer)")
ax2.plot(probe_strengths, removed, "s", color="tab:green", mfc="none",
         label="removed by privacy amplification, per bit")
ax2.set_xlabel("probe strength s (rad)")
ax2.set_ylabel("bits per key bit")
ax2.set_title("aborted runs have no square")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# The squares lie above the curve: the chain removes $h(e^U_\text{ph})$ per bit with an
# *upper* bound of the phase error, plus a finite-size margin, so Eve's share is always cut
# away. Once the X errors push the phase-error bound above 11 % the run aborts (the first such
# strength is printed above). The abort reason names the *phase error*: the key's own Z bits
# are perfect, only the other basis reveals the probe.
#
# ## Eavesdropper 3: a fake source
#
# The boldest Eve replaces the satellite: she sends pairs that are not entangled at all, just
# *classically* correlated in Z (both photons H, or both V, chosen by her coin). Every Z bit
# agrees, so a protocol that only checked Z would be fooled, and Eve knows every bit. But in X
# the outcomes are independent coins: $\text{QBER}_X=1/2$. In E91 the correlations
# $E(a,b)=\cos a\cos b$ give $S=\sqrt2$, no violation at all.

# %%
attacks = {
    "none": (),
    "intercept-resend, f = 1": (InterceptResend(1.0, "bob"),),
    "probe, s = π (a CNOT copy)": (EntanglingProbe(math.pi, "bob", 0.0),),
    "fake source (Z-correlated)": (FakeSource(0.0),),
    "fake source (X-correlated)": (FakeSource(math.pi / 2),),
}
expected = {  # closed forms: (QBER Z, QBER X, E91 S, Eve's information on Z key bits)
    "none": (0.0, 0.0, TSIRELSON, 0.0),
    "intercept-resend, f = 1": (0.25, 0.25, math.sqrt(2), 0.5),
    "probe, s = π (a CNOT copy)": (0.0, 0.5, math.sqrt(2), 1.0),
    "fake source (Z-correlated)": (0.0, 0.5, math.sqrt(2), 1.0),
    "fake source (X-correlated)": (0.5, 0.0, math.sqrt(2), 0.0),
}
rows = ["| attack | QBER Z | QBER X | E91 S | Eve's info (Z bit) | BBM92, $p_z=1/2$ | efficient BBM92, $p_z=0.8$ | E91 |",
        "|---|---|---|---|---|---|---|---|"]
table = {}
for i, (name, attack) in enumerate(attacks.items()):
    b = run_bbm92(200_000, attacks=attack, engine=engine, seed=90 + i)
    e = run_e91(200_000, attacks=attack, engine=engine, seed=95 + i, key_options=ESTIMATE_ONLY)
    biased = run_bbm92(200_000, p_z=P_Z, attacks=attack, engine=engine, seed=85 + i)
    qz, qx, s, info = expected[name]
    nz, nx = basis_samples(b)
    within(b.qber_z, qz, qber_stderr(b.qber_z, nz), f"{name}: QBER Z")
    within(b.qber_x, qx, qber_stderr(b.qber_x, nx), f"{name}: QBER X")
    within(e.S, s, e.S_stderr, f"{name}: E91 S")
    if attack:
        # efficient BBM92 keys from Z only: its eve_information is Eve's information on a Z bit
        assert math.isclose(biased.eve_information, info, abs_tol=1e-6), name
    table[name] = (b, e)
    verdict_b = f"aborted: {b.key.abort_reason}" if b.aborted else f"key, {b.to_dict()['final_key_bits']} bits"
    verdict_biased = (f"aborted: {biased.key.abort_reason}" if biased.aborted
                      else f"key, {biased.to_dict()['final_key_bits']} bits")
    verdict_e = f"aborted: {e.key.abort_reason}" if e.aborted else "passes the checks"
    rows.append(f"| {name} | {b.qber_z:.3f} | {b.qber_x:.3f} | {e.S:.3f} ± {e.S_stderr:.3f} | "
                f"{biased.eve_information:.3f} | {verdict_b} | {verdict_biased} | {verdict_e} |")
display(Markdown("\n".join(rows)))

fig, ax = plt.subplots(figsize=(8, 3.8))
y = np.arange(len(table))
ax.barh(y - 0.2, [b.qber_z for b, _ in table.values()], height=0.4, label="QBER Z")
ax.barh(y + 0.2, [b.qber_x for b, _ in table.values()], height=0.4, label="QBER X")
ax.axvline(OPTIONS.qber_abort, color="tab:red", ls="--", lw=1, label="abort threshold")
ax.set_yticks(y, list(table))
ax.invert_yaxis()
ax.set_xlabel("QBER (BBM92, 200 000 pairs)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Every full-strength attack leaves a fingerprint in at least one basis. In the symmetric
# protocol both bases are key, so any of them shows up in the **QBER bound** of the key. In
# efficient BBM92 the key is Z only: an attack that keeps Z perfect (the probe, the
# Z-correlated fake source) passes the QBER check and is caught by the **phase-error bound**
# from the X bits, which is why those X bits must be measured and disclosed at all. E91's Bell
# test sees all of them as $S\approx\sqrt2$.
#
# | attack | what Eve does | what it breaks | caught by |
# |---|---|---|---|
# | intercept-resend | measures a fraction $f$ of photons, resends | both bases, $f/4$ | QBER bound; E91: $S$ |
# | entangling probe | couples her qubit to the photon's Z value | X basis only | efficient BBM92: phase-error bound (X bits); symmetric: QBER bound; E91: $S$ |
# | fake source | sends classically correlated pairs | the conjugate basis, $1/2$ | as the probe; E91: $S=\sqrt2$ |
#
# From the command line: `qentangle bbm92 --eve intercept-resend --eve-fraction 0.5 --seed 1`
# (`--eve probe --eve-fraction F` sets the probe strength to $F\pi$).
#
# **Next:** notebook 06 runs BBM92 and a Bell test over a satellite double downlink.
