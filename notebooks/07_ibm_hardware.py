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
# # 07 · The same CHSH test on an IBM quantum computer
#
# The CHSH test you ran on Aer runs unchanged on an IBM device. `BackendEngine` is one more
# engine: it picks the best-calibrated qubit pair, transpiles the four setting circuits for the
# device, runs them with four readout-calibration circuits in **one** job of
# `qiskit_ibm_runtime.executor_sampler.Sampler`, and reports raw and readout-mitigated S next to
# what the pair's error figures predict.
#
# By default this notebook uses a **fake device** (`fake_sherbrooke`): IBM's calibration data of
# a real 127-qubit Eagle processor, simulated locally with no network and no account.

# %%
import os
import tempfile

# Keep this tutorial's job record out of ~/.qentangle (delete this line to keep yours there).
os.environ.setdefault("QENTANGLE_HOME", tempfile.mkdtemp(prefix="qentangle-nb07-"))

BACKEND = "fake_sherbrooke"   # real hardware: "ibm:ibm_torino", the only change (see the last section)
SHOTS = 8_000                 # total CHSH rounds, 2,000 per setting pair

# %% [markdown]
# ## The qubit pair and its error figures
#
# The engine ranks every coupled pair of the device's `target` by the CHSH visibility its
# calibrated errors allow (two-qubit gate error, `sx` errors, readout errors) and takes the best.
# Pass `qubits=(i, j)` (CLI: `--qubits i,j`) to choose yourself.

# %%
from qentangle.ibm import BackendEngine

# A notebook has no terminal to answer the "submit? [y/N]" prompt, so on real hardware
# (BACKEND = "ibm:...") yes=True confirms in advance: it accepts the shot/time estimate that is
# printed before the run below (and again at submission). On a fake device it changes nothing.
engine = BackendEngine(BACKEND, calibration_shots=2_000, yes=BACKEND.startswith("ibm:"))
figures = engine.figures
print("pair (Alice, Bob):", figures.qubits)
print(f"{figures.gate} error {figures.gate_error:.4f}, sx errors {figures.sx_error[0]:.5f} / {figures.sx_error[1]:.5f}")
print("readout (P(1|0), P(0|1)):", figures.readout)

# %% [markdown]
# ## What the error figures predict
#
# The figures become a noise description of our own (two-qubit depolarizing with p = 4/3 of the
# gate error, one-qubit depolarizing per `sx` gate, readout confusion), and the exact engine
# computes the S it implies. The band assumes the figures are good to ±50 %.

# %%
p = engine.prediction("phi+")
print(f"predicted S (raw)       {p.S:.3f}   band {p.S_low:.3f} .. {p.S_high:.3f}")
print(f"predicted S (mitigated) {p.S_mitigated:.3f}   band {p.S_mitigated_low:.3f} .. {p.S_mitigated_high:.3f}")
print(f"predicted QBER Z / X    {p.qber_z:.4f} / {p.qber_x:.4f}")

# %% [markdown]
# ## Run the CHSH test
#
# `run_chsh` is the same function as on Aer; only the engine changed. All four setting pairs and
# the four calibration circuits go to the device in one job; the first line printed is what that
# job would cost on real hardware. The standard error of the mitigated S includes the
# calibration's own sampling error.

# %%
from qentangle import run_chsh

print(engine.cost_estimate(circuits=4 + 4, shots=max(SHOTS // 4, engine.calibration_shots)))
result = run_chsh("phi+", shots=SHOTS, engine=engine, seed=7, settings="balanced")
info = result.to_dict()
print(f"S_raw = {result.S_raw:.3f} ± {result.S_raw_stderr:.3f}   predicted {info['predicted_S']:.3f}")
print(f"S     = {result.S:.3f} ± {result.S_stderr:.3f}   predicted {info['predicted_S_mitigated']:.3f}  (readout-mitigated)")
print("raw S inside its predicted band:      ", p.contains(result.S_raw, result.S_raw_stderr))
print("mitigated S inside its predicted band:", p.contains(result.S, result.S_stderr, mitigated=True))
print("backend", info["backend"], "qubits", info["qubits"], "job", info["job_ids"])

# %% [markdown]
# ## Jobs survive
#
# Every job is recorded (JSON lines, mode 0600) before the engine waits for it, so a result can
# be rebuilt later, also from the command line: `qentangle jobs list`, `qentangle jobs fetch JOB_ID`.
# Local fake-device runs store their outcomes in the record; hardware jobs are fetched from IBM.

# %%
from qentangle.ibm import fetch

rebuilt = fetch(info["job_ids"][-1])
print(rebuilt.source, rebuilt.backend, rebuilt.qubits, f"S_raw {rebuilt.S_raw:.3f}, S {rebuilt.S:.3f}")

# %% [markdown]
# ## On real hardware
#
# The single change is the backend name in the first cell, `BACKEND = "ibm:<device>"`; then run
# the notebook again from the top. Everything else already handles hardware: the engine cell
# passes `yes=True` for `ibm:` backends (a notebook has no terminal for the confirmation prompt;
# the cost estimate is printed before the run), and `fetch` gets a hardware job's outcomes from
# IBM by its ID. Credentials come from the environment (`QISKIT_IBM_TOKEN`, optionally
# `QISKIT_IBM_INSTANCE`) or from an account saved with `QiskitRuntimeService.save_account(...)`,
# never from the notebook. From the shell, where the prompt works, the same run is:
#
# ```
# export QISKIT_IBM_TOKEN=...      # never put it in code or files
# qentangle chsh --backend ibm:ibm_torino --shots 8000 --settings balanced --json
# ```

# %%
# The one change for real hardware, made in the first cell (then run all cells again):
#     BACKEND = "ibm:ibm_torino"
kind = "real hardware" if engine.resolved.is_hardware else "a local fake device"
print(f"this notebook ran on {engine.resolved.name} ({kind}); job {engine.job_ids[-1]}")
