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
# # 2. The CHSH Bell test
#
# Alice chooses between two settings $a, a'$ and Bob between $b, b'$. From the four correlators
#
# $$S = E(a,b) - E(a,b') + E(a',b) + E(a',b')$$
#
# any *local realistic* model (pre-existing answers, no signalling) obeys $|S|\le 2$.
# Quantum mechanics allows up to $2\sqrt2\approx2.83$ (Tsirelson's bound), reached by a Bell pair at
# the right angles, for $\Phi^+$: $a=0$, $a'=\pi/2$, $b=\pi/4$, $b'=3\pi/4$ (Bloch angles).
#
# This notebook measures $S$, asks how sure we can be that $S>2$, sweeps Bob's angle and shows
# how noise pushes $S$ back below the classical bound.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

from qentangle import NoiseConfig, chsh_sweep, predicted_S, run_chsh
from qentangle.engines import ExactEngine
from qentangle.plots import plot_correlators, plot_s_value, plot_s_vs_noise, plot_sweep
from qentangle.states import BELL_STATES

engine = ExactEngine()

# %% [markdown]
# ## One run
#
# `run_chsh` draws, for every round, Alice's setting and Bob's setting uniformly at random (like a
# real Bell test), measures, and collects the statistics: for each of the four setting pairs the
# correlator $E$ with its standard error, and their signed sum $S$.

# %%
result = run_chsh("phi+", shots=20_000, engine=engine, seed=1)
print(f"{'a':>7} {'b':>7} {'sign':>4} {'rounds':>6} {'E':>8} {'± stderr':>8}")
for c in result.correlators:
    print(f"{c.a:7.4f} {c.b:7.4f} {c.sign:+4d} {c.n:6d} {c.E:8.4f} {c.stderr:8.4f}")
print(f"S = {result.S:.4f} ± {result.S_stderr:.4f}  (classical bound 2, Tsirelson {2 * math.sqrt(2):.4f})")
plot_correlators(result)
plt.show()

# %% [markdown]
# ## How sure are we? Three numbers
#
# 1. **Standard error.** Each correlator is an average of $\pm1$ outcomes over $N_i$ rounds, so its
#    variance is $(1-E_i^2)/N_i$ and $\sigma_S=\sqrt{\sum_i(1-E_i^2)/N_i}$.
# 2. **z-score and normal p-value.** $z=(S-2)/\sigma_S$ counts how many standard errors $S$ sits
#    above the classical bound; the p-value $P(Z\ge z)$ uses the normal approximation. It assumes
#    the rounds are independent and identically distributed (i.i.d.).
# 3. **The rigorous p-value.** A local model could have *memory* and adapt from round to round,
#    which breaks the i.i.d. assumption. The CHSH *game* avoids it: a round is **won** when the
#    outcomes agree on the three "+" setting pairs and differ on the "−" one. With uniformly random
#    settings any local model wins each round with probability at most 3/4, whatever happened before,
#    so the number of wins is at most as large as a Binomial$(N, 3/4)$ variable:
#    $p = P[\mathrm{Bin}(N,3/4)\ge \text{wins}]$. The Azuma–Hoeffding bound
#    $e^{-2N(w-3/4)^2}$ is a looser, simpler version. A quantum pair wins with probability
#    $\tfrac12+\tfrac{S}{8}\approx0.854$.

# %%
print(f"S = {result.S:.4f} ± {result.S_stderr:.4f},  z = {result.z_score:.1f}")
print(f"win fraction {result.win_fraction:.4f}  (1/2 + S/8 = {0.5 + result.S / 8:.4f})")
print(f"log10 p, normal approximation: {result.log10_p_value:.1f}")
print(f"log10 p, CHSH game (no i.i.d.): {result.log10_p_value_rigorous:.1f}")

# %% [markdown]
# How many rounds does it take? With a noisy pair ($S\approx2.3$) the violation needs a few thousand
# rounds before the rigorous p-value drops below $10^{-3}$:

# %%
noisy = NoiseConfig(depolarizing=0.2)
print(f"predicted S = {predicted_S('phi+', noise=noisy):.3f}")
print(f"{'rounds':>7} {'S':>7} {'±':>6} {'z':>6} {'p normal':>10} {'p rigorous':>11}")
for n in (100, 300, 1000, 3000, 10000):
    r = run_chsh("phi+", shots=n, noise=noisy, engine=engine, seed=7)
    print(f"{n:7d} {r.S:7.3f} {r.S_stderr:6.3f} {r.z_score:6.2f} {r.p_value:10.2e} {r.p_value_rigorous:11.2e}")

# %% [markdown]
# The rigorous p-value is always larger (more cautious) than the normal one: it is the price of
# assuming nothing about how the rounds depend on each other.
#
# ## Every Bell state violates the inequality
#
# Each Bell state has its own optimal angles; `run_chsh` uses them by default.

# %%
results = [run_chsh(state, shots=8000, engine=engine, seed=i) for i, state in enumerate(BELL_STATES)]
for r in results:
    print(f"{r.state}: angles {np.round(r.angles, 3)}  S = {r.S:.3f} ± {r.S_stderr:.3f}")
plot_s_value(results, labels=BELL_STATES)
plt.show()

# %% [markdown]
# ## The angle sweep
#
# As in IBM's CHSH tutorial, fix Alice at $\{0, \pi/2\}$ and rotate Bob's pair of settings
# $\{\theta, \theta+\pi/2\}$. Two CHSH combinations are tracked,
# $S_1 = E(a,b)-E(a,b')+E(a',b)+E(a',b')$ and $S_2 = E(a,b)+E(a,b')-E(a',b)+E(a',b')$. For
# $\Phi^+$: $S_1 = 2\sqrt2\cos(\theta-\pi/4)$ and $S_2 = 2\sqrt2\cos(\theta+\pi/4)$. The shaded band
# is what local realism allows. The sweep runs every circuit in one engine call.

# %%
thetas = np.linspace(0, 2 * np.pi, 25)
sweep = chsh_sweep("phi+", thetas, shots=2000, engine=engine, seed=3)
plot_sweep(sweep)
plt.show()
outside = np.abs(sweep.S1) - 2 > 3 * sweep.S1_stderr
print(f"{outside.sum()} of {thetas.size} angles violate |S1| <= 2 by more than 3 standard errors")

# %% [markdown]
# ## Noise against S
#
# Two-qubit depolarizing noise $p$ scales every correlator by $1-p$, so $S = 2\sqrt2(1-p)$. The
# violation disappears at $p = 1 - 1/\sqrt2 \approx 0.293$ (a visibility of 70.7 %).

# %%
ps = np.linspace(0, 0.5, 11)
runs = [run_chsh("phi+", shots=10_000, noise=NoiseConfig(depolarizing=p), engine=engine, seed=10 + i)
        for i, p in enumerate(ps)]
fine = np.linspace(0, 0.5, 100)
fig = plot_s_vs_noise(ps, [r.S for r in runs], [r.S_stderr for r in runs],
                      2 * math.sqrt(2) * (1 - fine), theory_x=fine, xlabel="depolarizing p")
fig.axes[0].axvline(1 - 1 / math.sqrt(2), color="grey", lw=0.8)
plt.show()

# %% [markdown]
# Misalignment is different: it does not destroy entanglement, it rotates Bob's frame. At the
# fixed optimal angles S falls as $2\sqrt2\cos(2\vartheta)$, but re-aligning the settings would
# bring it back. Readout error, finally, is a classical flip of the outcomes:

# %%
degs = np.linspace(0, 30, 7)
runs = [run_chsh("phi+", shots=10_000, noise=NoiseConfig(misalignment_b_deg=d), engine=engine, seed=30 + i)
        for i, d in enumerate(degs)]
fine = np.linspace(0, 30, 100)
theory = [predicted_S("phi+", noise=NoiseConfig(misalignment_b_deg=d)) for d in fine]
plot_s_vs_noise(degs, [r.S for r in runs], [r.S_stderr for r in runs], theory, theory_x=fine,
                xlabel="misalignment of Bob's polarization (degrees)")
plt.show()

for e in (0.0, 0.05, 0.1):
    r = run_chsh("phi+", shots=20_000, noise=NoiseConfig.symmetric_readout(e), engine=engine, seed=5)
    print(f"readout flip {e:.2f}: S = {r.S:.3f} ± {r.S_stderr:.3f} "
          f"(theory 2√2(1-2e)² = {2 * math.sqrt(2) * (1 - 2 * e) ** 2:.3f})")

# %% [markdown]
# ## Same experiment, other engines
#
# The `shots` engine runs every setting pair as an Aer sampler job; `statevector` is qiskit's
# noiseless reference. The statistics agree with the exact engine.

# %%
for name in ("exact", "shots", "statevector"):
    r = run_chsh("psi-", shots=8000, engine=name, seed=2)
    print(f"{name:12} S = {r.S:.3f} ± {r.S_stderr:.3f}")

# %% [markdown]
# From the command line the same run is
#
# ```
# qentangle chsh --state psi- --shots 8000 --engine shots --seed 2
# ```
#
# (add `--json` for machine-readable output and `--plot chsh.png` for the figure).
