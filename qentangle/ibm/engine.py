"""The backend engine: setting circuits on an IBM device (fake or real) in one Sampler job.

``BackendEngine.sample`` transpiles each distinct setting circuit once for the device, with
``initial_layout`` on the chosen pair (Alice's qubit first), then submits every setting pair
*and* the four readout-calibration circuits in **one** call of
``qiskit_ibm_runtime.executor_sampler.Sampler``. All circuits of one call share a shot count:
the job uses the largest request (at least ``calibration_shots``) and each setting pair keeps
a uniformly drawn subset of its circuit's shots (seeded, recorded, reproducible).

Fake devices run locally with no network through the same Sampler (see
:mod:`qentangle.ibm.simulation` for the pair-restricted simulator it is given). Their outcomes
are not reproducible from a seed: the local executor runs every circuit of a job in its own
Aer call with the one ``seed_simulator`` of the options, so a fixed seed would replay the same
random stream in every circuit and correlate the setting pairs; the engine leaves the
simulator seed unset (transpilation and the per-setting subsampling are seeded); the job
record keeps the counts a re-analysis needs, and the outcomes only with ``record_outcomes=True``.
Real hardware (``ibm:NAME``) prints a shot/time estimate on stderr and asks for confirmation unless
``yes=True``; job IDs go to :meth:`info` and to the job record (:mod:`qentangle.ibm.jobs`)
before the engine waits for results.

>>> import math, numpy as np
>>> from qentangle.pairs import PairSetup
>>> engine = BackendEngine("fake_manila", record=False, calibration_shots=256)
>>> drawn = engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [100], np.random.default_rng(1))
>>> drawn[0].size, engine.info()["backend"], len(engine.info()["job_ids"])
(100, 'fake_manila', 1)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from qentangle.engines import Engine, SettingPair
from qentangle.errors import BackendError, ValidationError, check_choice, check_positive_int
from qentangle.ibm import jobs
from qentangle.ibm.backend import ResolvedBackend, require_runtime, resolve_backend, scrub
from qentangle.ibm.layout import PairErrors, choose_pair, parse_qubits
from qentangle.ibm.mitigation import ReadoutConfusion, calibration_circuits
from qentangle.ibm.prediction import (
    DEFAULT_RELATIVE_UNCERTAINTY,
    Prediction,
    count_one_qubit_gates,
    predict,
)
from qentangle.pairs import PairSetup, pair_circuit
from qentangle.rng import child_seed
from qentangle.states import optimal_chsh_angles

SIMULATIONS = ("pair", "device")
SECONDS_PER_SHOT = 250e-6  # IBM's typical repetition delay; the estimate is rough
SECONDS_PER_JOB = 2.0


class BackendEngine(Engine):
    """Runs setting circuits on an IBM backend through the executor Sampler.

    Args:
        backend: ``"fake_NAME"``, ``"ibm:NAME"``, a BackendV2 object or a ResolvedBackend.
        qubits: physical (alice, bob) pair; default the best coupled pair of the target.
        mitigate: run the four calibration circuits and report readout confusion matrices.
        calibration_shots: minimum shots per circuit (the calibration's precision).
        optimization_level: the transpiler's (0..3).
        simulation: for local backends, ``"pair"`` (default: the device noise of the chosen
            pair only, fast) or ``"device"`` (the backend object itself; ~5 s per circuit on
            100+ qubit fake devices).
        yes: submit to real hardware without asking (the CLI's ``--yes``).
        timeout: seconds to wait for a hardware job before giving up (it keeps running;
            ``qentangle jobs fetch JOB_ID`` gets it later). None waits indefinitely.
        max_shots: largest shot count per circuit; a setting pair needing more rounds runs
            in several copies of its circuit within the same job.
        max_circuits: most circuits (pubs) allowed in one job.
        record: append jobs to the local record (:mod:`qentangle.ibm.jobs`): counts, not outcomes.
        record_outcomes: also store every round's outcomes of both parties in the record (for a
            BBM92/E91 run that is the raw key); off by default.
        relative_uncertainty: of the error figures, for the predicted band.
        stdin, stderr: streams for the confirmation prompt (default sys.stdin / sys.stderr).
    """

    name = "backend"
    #: A protocol run hands the engine all its rounds in one call (one job, one calibration):
    #: :meth:`qentangle.protocols.session.Session.stream` honours it.
    one_call_per_run = True

    def __init__(
        self,
        backend: Any,
        *,
        qubits: Sequence[int] | str | None = None,
        mitigate: bool = True,
        calibration_shots: int = 4096,
        optimization_level: int = 1,
        simulation: str = "pair",
        yes: bool = False,
        timeout: float | None = None,
        max_shots: int = 100_000,
        max_circuits: int = 300,
        record: bool = True,
        record_outcomes: bool = False,
        relative_uncertainty: float = DEFAULT_RELATIVE_UNCERTAINTY,
        stdin: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        require_runtime()
        self.resolved: ResolvedBackend = resolve_backend(backend)
        self.figures: PairErrors = choose_pair(self.resolved.backend.target, parse_qubits(qubits))
        self.mitigate = bool(mitigate)
        self.calibration_shots = check_positive_int("calibration_shots", calibration_shots)
        if optimization_level not in (0, 1, 2, 3):
            raise ValidationError(
                f"optimization_level={optimization_level!r} is not valid: expected 0, 1, 2 or 3"
            )
        self.optimization_level = int(optimization_level)
        self.simulation = check_choice("simulation", simulation, SIMULATIONS)
        self.yes = bool(yes)
        if timeout is not None and not timeout > 0:
            raise ValidationError(f"timeout={timeout!r} is out of range: expected seconds > 0 or None")
        self.timeout = timeout
        self.max_shots = check_positive_int("max_shots", max_shots)
        self.max_circuits = check_positive_int("max_circuits", max_circuits, minimum=5)
        self.record = bool(record)
        self.record_outcomes = bool(record_outcomes)
        self.relative_uncertainty = relative_uncertainty
        self._stdin, self._stderr = stdin, stderr
        self._mode: Any = None
        self._transpiled: dict[tuple[str, float, float], Any] = {}
        self._calibration: list[Any] | None = None
        self._confusion: ReadoutConfusion | None = None
        self._job_ids: list[str] = []
        self._state = "phi+"
        self._predictions: dict[tuple[str, tuple[float, ...] | None], Prediction] = {}
        self._shots_per_circuit: list[int] = []
        self.last_job: Any = None

    # ------------------------------------------------------------------ public facts
    @property
    def qubits(self) -> tuple[int, int]:
        """Physical (alice, bob)."""
        return self.figures.qubits

    @property
    def job_ids(self) -> tuple[str, ...]:
        """IDs of every job this engine submitted, oldest first."""
        return tuple(self._job_ids)

    def prediction(self, state: str | None = None, angles: Sequence[float] | None = None) -> Prediction:
        """S/QBER predicted from the pair's error figures (for the last state run, or ``state``).

        At ``angles`` (a, a', b, b'), default the state's optimal CHSH angles. The single-qubit
        gate count per arm is that of those four circuits as transpiled for this pair
        (transpiled here if needed, with a fixed seed, and cached).
        """
        state = self._state if state is None else state
        key = (state, None if angles is None else tuple(float(x) for x in angles))
        if key not in self._predictions:
            a, a2, b, b2 = optimal_chsh_angles(state) if angles is None else key[1]
            pairs = [(a, b), (a, b2), (a2, b), (a2, b2)]
            circuits = self.transpiled(PairSetup(state), pairs, np.random.default_rng(0))
            n1 = count_one_qubit_gates(circuits, self.qubits)
            self._predictions[key] = predict(
                self.figures, state, n1, angles=angles, relative_uncertainty=self.relative_uncertainty
            )
        return self._predictions[key]

    def chsh_prediction(self, state: str, angles: Sequence[float] | None = None) -> dict[str, object]:
        """The predicted S of a CHSH run at ``angles`` from the device noise, as result fields.

        ``predicted_S`` and its band include readout error (compare with ``S_raw``);
        ``predicted_S_mitigated`` and its band leave it out (compare with the mitigated ``S``).
        """
        p = self.prediction(state, angles)
        return {
            "predicted_S": p.S,
            "predicted_S_band": [p.S_low, p.S_high],
            "predicted_S_mitigated": p.S_mitigated,
            "predicted_S_mitigated_band": [p.S_mitigated_low, p.S_mitigated_high],
        }

    def info(self) -> dict[str, object]:
        prediction = self.prediction()
        local = not self.resolved.is_hardware
        execution = "qiskit_ibm_runtime.executor_sampler.Sampler"
        if local:
            execution += (
                " (local Aer simulation of the fake device's calibrated noise on the chosen pair)"
                if self.simulation == "pair"
                else " (local Aer simulation of the whole fake device)"
            )
        return {
            "engine": self.name,
            "backend": self.resolved.name,
            "backend_kind": self.resolved.kind,
            "execution": execution,
            "qubits": list(self.qubits),
            "pair_errors": self.figures.to_dict(),
            **self.chsh_prediction(self._state),
            "predicted_qber_z": prediction.qber_z,
            "predicted_qber_x": prediction.qber_x,
            "prediction": prediction.to_dict(),
            "job_ids": list(self._job_ids),
            "shots_per_circuit": list(self._shots_per_circuit),
            "mitigation": "tensored readout calibration (4 circuits per job)" if self.mitigate else "none",
            "optimization_level": self.optimization_level,
        }

    def readout_confusion(self) -> ReadoutConfusion | None:
        """(M_alice, M_bob), M[read, true], from the last job's calibration circuits.

        A protocol run is one job (see ``one_call_per_run``), so this is that run's
        calibration; it carries its shot counts for the calibration's own error.
        """
        return self._confusion

    # ------------------------------------------------------------------ circuits
    def _check_setup(self, setup: PairSetup) -> None:
        if setup.stages:
            raise ValidationError(
                "engine='backend' runs the Bell pair as prepared on the device: circuit stages "
                "(attacks) are simulator-only; use engine='exact' or 'shots'"
            )
        if not setup.noise.is_ideal:
            raise ValidationError(
                f"noise ({setup.noise.describe()}) is simulated noise: on a backend the device is the "
                "noise; remove the noise options or use engine='exact' or 'shots'"
            )

    def transpiled(
        self, setup: PairSetup, pairs: Sequence[SettingPair], rng: np.random.Generator
    ) -> list[Any]:
        """The device circuits of ``pairs`` (each distinct pair transpiled once, then cached)."""
        from qiskit import transpile

        keys = [(setup.state, float(a), float(b)) for a, b in pairs]
        missing = list(dict.fromkeys(k for k in keys if k not in self._transpiled))
        todo = [pair_circuit(setup, a, b, measure=True) for _, a, b in missing]
        if self.mitigate and self._calibration is None:
            todo += calibration_circuits()
        if todo:
            out = transpile(
                todo,
                backend=self.resolved.backend,
                initial_layout=list(self.qubits),
                optimization_level=self.optimization_level,
                seed_transpiler=child_seed(rng),
            )
            out = out if isinstance(out, list) else [out]
            for qc in out:
                self._check_qubits(qc)
            for key, qc in zip(missing, out, strict=False):
                self._transpiled[key] = qc
            if len(out) > len(missing):
                self._calibration = out[len(missing) :]
        return [self._transpiled[k] for k in keys]

    def _check_qubits(self, qc: Any) -> None:
        used = {
            qc.find_bit(q).index for inst in qc.data if inst.operation.name != "barrier" for q in inst.qubits
        }
        if not used <= set(self.qubits):
            raise BackendError(
                f"the transpiled circuit uses physical qubits {sorted(used)}, not only the pair "
                f"{self.qubits}: choose a coupled pair with --qubits"
            )

    # ------------------------------------------------------------------ running
    def sample(self, setup, pairs, shots, rng):
        self._check_setup(setup)
        if len(pairs) != len(shots):
            raise ValidationError(
                f"shots: expected one count per setting pair ({len(pairs)}), got {len(shots)}"
            )
        shots = [check_positive_int("shots", n, minimum=0) for n in shots]
        wanted = [i for i, n in enumerate(shots) if n > 0]
        if not wanted:
            return [np.zeros(0, dtype=np.uint8) for _ in shots]
        circuits = self.transpiled(setup, [pairs[i] for i in wanted], rng)
        self._state = setup.state
        shared, repeats = self._shot_plan(shots, wanted)
        pubs_circuits = [qc for qc, r in zip(circuits, repeats, strict=True) for _ in range(r)]
        pubs_circuits += list(self._calibration) if self.mitigate else []
        if self.resolved.is_hardware:
            self._confirm(len(pubs_circuits), shared)
        meta = {
            "version": jobs.RECORD_VERSION,
            "backend": self.resolved.name,
            "kind": self.resolved.kind,
            "qubits": list(self.qubits),
            "state": setup.state,
            "pairs": [[float(pairs[i][0]), float(pairs[i][1])] for i in range(len(pairs))],
            "shots": shots,
            "wanted": wanted,
            "shots_per_circuit": shared,
            "repeats": repeats,
            "calibration": self.mitigate,
            "subsample_seed": child_seed(rng),
            "pair_errors": self.figures.to_dict(),
            "optimization_level": self.optimization_level,
        }
        meta.update(self.chsh_prediction(setup.state))
        job = self._submit(pubs_circuits, shared)
        job_id = str(job.job_id())
        meta.update(job_id=job_id)
        self._job_ids.append(job_id)
        self._shots_per_circuit.append(shared)
        self._log({**meta, "event": "submitted", "time": jobs.now()})
        pub_codes = self._wait(job, job_id)
        drawn, confusion = jobs.assemble(meta, pub_codes)
        self._log(jobs.completed_entry(meta, pub_codes, drawn, record_outcomes=self.record_outcomes))
        self._confusion = confusion
        return drawn

    def _shot_plan(self, shots: list[int], wanted: list[int]) -> tuple[int, list[int]]:
        """The job's shared shots per circuit and how many copies each setting circuit gets.

        A setting pair needing more than ``max_shots`` rounds runs in several copies of its
        circuit (all in the same job); the shared count is the smallest that serves the largest
        request with that many copies, and at least ``calibration_shots`` when mitigating.
        """
        largest = max(shots[i] for i in wanted)
        copies = -(-largest // self.max_shots)
        shared = -(-largest // copies)
        if self.mitigate:
            shared = max(shared, min(self.calibration_shots, self.max_shots))
        repeats = [-(-shots[i] // shared) for i in wanted]
        if sum(repeats) + 4 > self.max_circuits:
            raise ValidationError(
                f"shots: {sum(shots):,} rounds need {sum(repeats)} circuits of {shared:,} shots, more than "
                f"max_circuits={self.max_circuits} in one job; use fewer rounds or raise max_shots"
            )
        return shared, repeats

    def _mode_object(self) -> Any:
        if self._mode is None:
            if self.resolved.is_hardware or self.simulation == "device":
                self._mode = self.resolved.backend
            else:
                from qentangle.ibm.simulation import pair_simulator

                self._mode = pair_simulator(self.resolved.backend, self.qubits)
        return self._mode

    def _submit(self, circuits: list[Any], shots: int) -> Any:
        from qiskit_ibm_runtime.executor_sampler import Sampler

        try:
            sampler = Sampler(mode=self._mode_object())
            sampler.options.default_shots = shots
            # No seed_simulator for local runs: the local executor runs each circuit in its own
            # Aer call with that one seed, so every circuit would replay the same random stream
            # (correlated outcomes across setting pairs). The record keeps counts instead.
            job = sampler.run([(qc, None, shots) for qc in circuits])
        except (ValidationError, BackendError):
            raise
        except Exception as error:
            raise BackendError(
                f"submission to {self.resolved.name} failed ({type(error).__name__}): {scrub(str(error))}"
            ) from None
        self.last_job = job
        return job

    def _wait(self, job: Any, job_id: str) -> list[np.ndarray]:
        """The job's outcome codes; a client-side wait timeout keeps the job, anything else fails it.

        ``RuntimeJobTimeoutError`` means only that *we* stopped waiting (the job runs on);
        ``RuntimeJobMaxTimeoutError`` (IBM's maximum execution time exceeded) and every other
        error are job failures, recorded as ``failed``.
        """
        from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError, RuntimeJobTimeoutError

        try:
            if self.resolved.is_hardware and self.timeout is not None:
                result = job.result(timeout=self.timeout)
            else:
                result = job.result()
        except KeyboardInterrupt:
            raise BackendError(
                f"interrupted while waiting for job {job_id} on {self.resolved.name}; it may still "
                f"run: qentangle jobs fetch {job_id}"
            ) from None
        except RuntimeJobTimeoutError:
            raise BackendError(
                f"job {job_id} on {self.resolved.name} did not finish within {self.timeout} s; it "
                f"keeps running on IBM's side: qentangle jobs fetch {job_id}"
            ) from None
        except Exception as error:
            message = scrub(str(error))
            if isinstance(error, RuntimeJobMaxTimeoutError):
                message = f"it exceeded IBM's maximum execution time ({message}); run fewer shots"
            self._log(
                {
                    "version": jobs.RECORD_VERSION,
                    "event": "failed",
                    "job_id": job_id,
                    "time": jobs.now(),
                    "error": f"{type(error).__name__}: {message}",
                }
            )
            raise BackendError(f"job {job_id} on {self.resolved.name} failed: {message}") from None
        return jobs.codes_from_result(result)

    def _log(self, entry: dict[str, Any]) -> None:
        if self.record:
            jobs.append_entry(entry)

    def cost_estimate(self, circuits: int, shots: int) -> str:
        """One line: circuits x shots, total shots and a rough QPU time."""
        total = circuits * shots
        seconds = total * SECONDS_PER_SHOT + SECONDS_PER_JOB
        return (
            f"about to submit 1 job to {self.resolved.name} (qubits {self.qubits[0]},{self.qubits[1]}): "
            f"{circuits} circuits x {shots:,} shots = {total:,} shots, roughly {seconds:,.0f} s of QPU "
            f"time ({SECONDS_PER_SHOT * 1e6:.0f} us per shot + {SECONDS_PER_JOB:.0f} s per job)"
        )

    def _confirm(self, circuits: int, shots: int) -> None:
        stderr = self._stderr or sys.stderr
        stdin = self._stdin or sys.stdin
        stderr.write(self.cost_estimate(circuits, shots) + "\n")
        stderr.flush()
        if self.yes:
            return
        if stdin is None or not stdin.isatty():
            raise BackendError(
                "refusing to submit to real hardware without confirmation: stdin is not a terminal; "
                "pass --yes (or yes=True) to submit"
            )
        stderr.write("submit? [y/N] ")
        stderr.flush()
        answer = stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise BackendError("submission cancelled: nothing was sent")
