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
# # 1. Bell pairs and noise
#
# This tutorial builds an entangled photon pair as a quantum circuit, sends it through the noise
# channels that `qentangle` models, and looks at what each channel does to the pair:
#
# * the **counts** Alice and Bob see when they measure,
# * the **correlator** $E(a,b) = P(\text{equal}) - P(\text{different})$,
# * the **fidelity** of the two-qubit density matrix with the ideal Bell state.
#
# **Conventions.** Qubit 0 is Alice's photon, qubit 1 is Bob's. A measurement *setting* is a Bloch
# angle $\theta$ in the X–Z plane: the circuit applies $R_Y(-\theta)$ and measures Z, so $\theta=0$
# measures Z (horizontal/vertical polarisation) and $\theta=\pi/2$ measures X (diagonal). A
# polarizer at angle $\theta/2$ does the same for a photon. Joint outcomes are written
# `(Alice bit, Bob bit)`: 00, 01, 10, 11.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

from qentangle import NoiseConfig, predicted_correlator
from qentangle.engines import ExactEngine, correlator
from qentangle.pairs import PairSetup
from qentangle.plots import plot_counts
from qentangle.states import BELL_STATES, bell_circuit
from qentangle.theory import predicted_density_matrix

engine = ExactEngine()          # exact distributions from Aer, sampled with numpy
rng = np.random.default_rng(2024)

# %% [markdown]
# ## The four Bell states
#
# Every Bell state starts from $|00\rangle$: a Hadamard on Alice's qubit and a CNOT make
# $|\Phi^+\rangle = (|00\rangle + |11\rangle)/\sqrt2$; an X on Bob's qubit turns $\Phi$ into $\Psi$
# and a Z on Alice's qubit flips the sign.

# %%
for state in BELL_STATES:
    print(state)
    print(bell_circuit(state).draw(output="text"))

# %% [markdown]
# ## Measuring the ideal pair
#
# For $|\Phi^+\rangle$ Alice and Bob always get the *same* bit when they measure in the same basis,
# Z or X, and each bit on its own is a fair coin. With $|\Psi^-\rangle$ they always disagree.
# We draw 2000 rounds per setting pair.

# %%
shots = 2000
settings = [(0.0, 0.0), (math.pi / 2, math.pi / 2), (0.0, math.pi / 2)]
labels = ["Z,Z", "X,X", "Z,X"]
for state in ("phi+", "psi-"):
    drawn = engine.sample(PairSetup(state), settings, [shots] * 3, rng)
    counts = {f"{state} {label}": np.bincount(codes, minlength=4) for label, codes in zip(labels, drawn, strict=True)}
    plot_counts(counts)
    plt.title(f"{state}: counts per setting pair")
    plt.show()

# %% [markdown]
# In mismatched bases (Z for Alice, X for Bob) all four outcomes are equally likely: the
# correlator is 0. In general, for $|\Phi^+\rangle$, $E(a,b)=\cos(a-b)$.
#
# ## The noise channels
#
# A `NoiseConfig` describes the channel from the source to the detectors. It is a value: it
# validates its numbers, and round-trips through a dict or TOML.

# %%
noise = NoiseConfig(depolarizing=0.1, misalignment_b_deg=5.0, readout_a=(0.02, 0.03))
print(noise.describe())
print(noise.to_toml())
assert NoiseConfig.from_toml(noise.to_toml()) == noise
try:
    NoiseConfig(dephasing_a=1.5)
except ValueError as error:
    print("rejected:", error)

# %% [markdown]
# The channels, one at a time (all with strength 0.2 except the misalignment):
#
# | channel | what it models | effect on $\Phi^+$ |
# |---|---|---|
# | `depolarizing` (two-qubit) | imperfect source, mixing with white noise | $\rho\to(1-p)\rho+p\,I/4$: every correlator shrinks by $1-p$ |
# | `accidental` | uncorrelated photons counted as a pair | same white-noise form |
# | `dephasing_b` | phase noise on Bob's fibre/free-space arm | Z correlations kept, X correlations times $1-2p$ |
# | `amplitude_damping_b` | polarisation-dependent loss | $\langle ZZ\rangle = 1-\gamma$, $\langle XX\rangle=\sqrt{1-\gamma}$ |
# | `depolarizing_b` | one arm scrambled | $\rho\to(1-p)\rho+p\,\rho_A\otimes I/2$ |
# | `misalignment_b_deg` | Bob's polarisation frame rotated by $\vartheta$ | Bob measures at $b-2\vartheta$: a rotation, not a loss of purity |
# | `readout_b` | detector misreads a bit | classical: the state is unchanged, the counts are not |
#
# Readout error acts on the outcomes, not on the state, so it does not change the density matrix.

# %%
channels = {
    "ideal": NoiseConfig(),
    "depolarizing 0.2": NoiseConfig(depolarizing=0.2),
    "accidental 0.2": NoiseConfig(accidental=0.2),
    "dephasing_b 0.2": NoiseConfig(dephasing_b=0.2),
    "amplitude_damping_b 0.2": NoiseConfig(amplitude_damping_b=0.2),
    "depolarizing_b 0.2": NoiseConfig(depolarizing_b=0.2),
    "misalignment_b 10 deg": NoiseConfig(misalignment_b_deg=10.0),
    "readout 0.1 both": NoiseConfig.symmetric_readout(0.1),
}
ideal = predicted_density_matrix("phi+")
order = [0, 2, 1, 3]  # Qiskit's index (2*bob + alice) -> (2*alice + bob)

print(f"{'channel':26} {'fidelity':>9} {'E(Z,Z)':>8} {'E(X,X)':>8} {'E(Z,X)':>8}")
for name, noise in channels.items():
    setup = PairSetup("phi+", noise)
    rho = engine.density_matrix(setup)[np.ix_(order, order)]
    fidelity = float(np.real(np.trace(ideal @ rho)))
    e = correlator(engine.distributions(setup, [(0, 0), (math.pi / 2, math.pi / 2), (0, math.pi / 2)]))
    print(f"{name:26} {fidelity:9.4f} {e[0]:8.4f} {e[1]:8.4f} {e[2]:8.4f}")

# %% [markdown]
# Things to notice:
#
# * **Fidelity** $F=\langle\Phi^+|\rho|\Phi^+\rangle$: depolarizing $p$ gives $1-3p/4$; dephasing
#   $p$ gives $1-p$; the **readout** row keeps $F=1$ (the pair is perfect, the detectors are not).
# * **Misalignment** keeps the state pure but rotated, so $E(Z,X)$ becomes non-zero: the
#   correlations have moved to other angles rather than disappeared. Bob can correct it by
#   re-aligning his frame.
# * **Dephasing** leaves $E(Z,Z)=1$ but shrinks $E(X,X)$: it only destroys the coherence.
# * **Amplitude damping** is the only channel here that also biases Bob's bits towards 0.
#
# The counts at the Z,Z setting show the same story:

# %%
counts = {}
for name in ("ideal", "depolarizing 0.2", "amplitude_damping_b 0.2", "readout 0.1 both"):
    (codes,) = engine.sample(PairSetup("phi+", channels[name]), [(0.0, 0.0)], [4000], rng)
    counts[name] = np.bincount(codes, minlength=4)
fig = plot_counts(counts)
fig.axes[0].set_title("phi+ measured Z,Z (4000 rounds each)")
plt.show()

# %% [markdown]
# ## Fidelity against channel strength
#
# The exact engine returns the density matrix directly, so we can trace each channel's fidelity as
# its strength grows. Misalignment is shown against $\vartheta/90°$.

# %%
strengths = np.linspace(0, 1, 11)
makers = {
    "depolarizing": lambda s: NoiseConfig(depolarizing=s),
    "dephasing_b": lambda s: NoiseConfig(dephasing_b=s),
    "amplitude_damping_b": lambda s: NoiseConfig(amplitude_damping_b=s),
    "depolarizing_b": lambda s: NoiseConfig(depolarizing_b=s),
    "misalignment_b (θ/90°)": lambda s: NoiseConfig(misalignment_b_deg=90 * s),
}
fig, ax = plt.subplots(figsize=(6, 4))
for name, make in makers.items():
    fid = [np.real(np.trace(ideal @ engine.density_matrix(PairSetup("phi+", make(s)))[np.ix_(order, order)]))
           for s in strengths]
    ax.plot(strengths, fid, marker="o", ms=3, label=name)
ax.set_xlabel("channel strength")
ax.set_ylabel("fidelity with $\\Phi^+$")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Checking against the closed forms
#
# `predicted_correlator` evaluates the correlators from a density matrix built in plain numpy
# (no Aer), an independent implementation of the same physics. For dephasing $p$ on one arm,
# $E(a,b)=\cos a\cos b+(1-2p)\sin a\sin b$; for amplitude damping $\gamma$,
# $E=(1-\gamma)\cos a\cos b+\sqrt{1-\gamma}\sin a\sin b$; for readout error $(e_0,e_1)$ on both arms,
# $E' = (1-e_0-e_1)^2E + (e_1-e_0)^2$. Aer and the formulas agree:

# %%
a, b = 0.4, 1.1
checks = {
    "dephasing_b 0.2": math.cos(a) * math.cos(b) + 0.6 * math.sin(a) * math.sin(b),
    "amplitude_damping_b 0.2": 0.8 * math.cos(a) * math.cos(b) + math.sqrt(0.8) * math.sin(a) * math.sin(b),
    "readout 0.1 both": 0.8**2 * math.cos(a - b),
    "misalignment_b 10 deg": math.cos(a - b + 2 * math.radians(10)),
}
for name, formula in checks.items():
    aer = float(correlator(engine.distributions(PairSetup("phi+", channels[name]), [(a, b)]))[0])
    numpy_model = predicted_correlator("phi+", a, b, channels[name])
    print(f"{name:26} Aer {aer:.6f}   numpy {numpy_model:.6f}   formula {formula:.6f}")

# %% [markdown]
# **Next:** `02_chsh.ipynb` uses these correlators to test Bell's inequality.
