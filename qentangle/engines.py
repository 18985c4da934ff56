"""Engines turn setting choices into outcomes. All protocols use one interface.

An engine answers one question: *for these setting pairs, this many rounds each, give me the
outcomes*. Outcomes are joint codes ``2 * bit_a + bit_b`` (uint8).

- :class:`ExactEngine` ("exact"): Aer computes each distinct (setup, setting pair)'s joint
  distribution once (density-matrix probabilities, readout confusion applied), then numpy
  draws every round in bulk. Compile once, sample many.
- :class:`ShotsEngine` ("shots"): Aer's SamplerV2, one pub per setting pair with its own shots;
  readout error enters through an Aer noise model.
- :class:`StatevectorEngine` ("statevector"): qiskit's StatevectorSampler, the noiseless
  reference.

>>> import numpy as np
>>> from qentangle.pairs import PairSetup
>>> engine = ExactEngine()
>>> p = engine.distributions(PairSetup("phi+"), [(0.0, 0.0)])
>>> np.round(p, 6).tolist()
[[0.5, 0.0, 0.0, 0.5]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError

from qentangle.analysis import codes_from_counts, correlator  # noqa: F401  (old home: one release)
from qentangle.errors import ValidationError, check_choice
from qentangle.pairs import PairSetup, pair_circuit, state_circuit
from qentangle.rng import child_seed

SettingPair = tuple[float, float]
ENGINE_NAMES: tuple[str, ...] = ("exact", "shots", "statevector")


def pair_indices(setting_a: np.ndarray, setting_b: np.ndarray, num_b: int) -> np.ndarray:
    """Index ``setting_a * num_b + setting_b`` of each round's setting pair."""
    return setting_a.astype(np.intp) * num_b + setting_b


class Engine(ABC):
    """Interface of every engine; subclasses implement :meth:`sample`.

    What a protocol session may rely on, declared here with its default:

    - :meth:`prefetch`: a hook called once per run with every setup and setting angle
      before any round is drawn (no-op by default; the exact engine computes every
      distribution in one Aer call);
    - ``one_call_per_run``: True when the engine wants all of a run's rounds in one call
      (a backend: one job, one readout calibration); False by default;
    - :meth:`chsh_prediction`: the engine's own predicted S as result fields, or None (the
      default) when the closed form of the simulated noise is the prediction;
    - :meth:`readout_confusion`: a calibration to mitigate readout with, or None.
    """

    name: ClassVar[str]
    #: Hand this engine all rounds of a run in one call (``Session.stream`` honours it).
    one_call_per_run: ClassVar[bool] = False

    def info(self) -> dict[str, object]:
        """JSON-safe facts about this engine for result objects (backend, qubits, jobs...)."""
        return {"engine": self.name}

    def readout_confusion(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Measured readout confusion matrices M[read, true] of (Alice, Bob) for mitigation.

        ``None`` (the default) when the engine has no calibration to mitigate with.
        """
        return None

    def prefetch(
        self, setups: Sequence[PairSetup], angles_a: Sequence[float], angles_b: Sequence[float]
    ) -> None:
        """Prepare every setup at every setting pair before a run draws rounds (default: nothing)."""
        return None

    def chsh_prediction(self, state: str, angles: Sequence[float]) -> dict[str, object] | None:
        """Predicted-S fields for a CHSH run at ``angles`` (a, a', b, b'), or None (the default).

        An engine that *is* the noise (a device) predicts S from its own error figures; the
        simulators return None and the closed form of the simulated noise applies.
        """
        return None

    @abstractmethod
    def sample(
        self,
        setup: PairSetup,
        pairs: Sequence[SettingPair],
        shots: Sequence[int],
        rng: np.random.Generator,
    ) -> list[np.ndarray]:
        """Outcome codes of ``shots[i]`` rounds at setting pair ``pairs[i]``."""

    def outcomes(
        self,
        setup: PairSetup,
        angles_a: Sequence[float],
        angles_b: Sequence[float],
        setting_a: np.ndarray,
        setting_b: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Outcome code of every round, given each round's setting indices.

        ``setting_a[i]`` indexes ``angles_a`` and ``setting_b[i]`` indexes ``angles_b``.
        """
        pairs = [(a, b) for a in angles_a for b in angles_b]
        index = pair_indices(setting_a, setting_b, len(angles_b))
        counts = np.bincount(index, minlength=len(pairs))
        drawn = self.sample(setup, pairs, counts.tolist(), rng)
        codes = np.empty(index.size, dtype=np.uint8)
        codes[np.argsort(index, kind="stable")] = np.concatenate(drawn) if drawn else []
        return codes


class ExactEngine(Engine):
    """Exact joint distributions from Aer's density-matrix simulator, sampled with numpy.

    Distributions are cached per (setup, setting pair): a run with 10^8 rounds and 9 setting
    pairs calls Aer once, on 9 two-qubit circuits.
    """

    name = "exact"

    def __init__(self) -> None:
        self._simulator = AerSimulator(method="density_matrix")
        self._cache: dict[tuple[PairSetup, SettingPair], np.ndarray] = {}

    def distributions(self, setup: PairSetup, pairs: Sequence[SettingPair]) -> np.ndarray:
        """Joint outcome probabilities, shape (len(pairs), 4), readout error included."""
        keys = [(setup, (float(a), float(b))) for a, b in pairs]
        self._compute(keys)
        return np.array([self._cache[key] for key in keys])

    def prefetch(
        self, setups: Sequence[PairSetup], angles_a: Sequence[float], angles_b: Sequence[float]
    ) -> None:
        """Compute every setup's distributions at every setting pair in one Aer call."""
        self._compute([(s, (float(a), float(b))) for s in setups for a in angles_a for b in angles_b])

    def _compute(self, keys: Sequence[tuple[PairSetup, SettingPair]]) -> None:
        missing = list(dict.fromkeys(key for key in keys if key not in self._cache))
        if not missing:
            return
        circuits = []
        for setup, (a, b) in missing:
            qc = pair_circuit(setup, a, b)
            qc.save_probabilities([0, 1])
            circuits.append(qc)
        result = self._simulator.run(self._compile(circuits)).result()
        for i, key in enumerate(missing):
            noise = key[0].noise
            little = np.asarray(result.data(i)["probabilities"], dtype=float)
            joint = little[[0, 2, 1, 3]].reshape(2, 2)  # joint[bit_a, bit_b]
            joint = noise.confusion_matrix("a") @ joint @ noise.confusion_matrix("b").T
            joint = np.clip(joint, 0.0, None)
            self._cache[key] = (joint / joint.sum()).ravel()

    def density_matrix(self, setup: PairSetup) -> np.ndarray:
        """The 4x4 density matrix of Alice's and Bob's qubits before measurement.

        Index order is Qiskit's (qubit 0 = Alice is the least significant bit).
        """
        qc = state_circuit(setup)
        qc.save_density_matrix([0, 1])
        return np.asarray(self._simulator.run(self._compile(qc)).result().data(0)["density_matrix"])

    def density_matrix_of(self, qc: QuantumCircuit) -> np.ndarray:
        """Run a circuit ending in ``save_density_matrix`` and return that matrix."""
        return np.asarray(self._simulator.run(self._compile(qc)).result().data(0)["density_matrix"])

    def _compile(self, circuits):
        # Channel instructions survive transpilation; gates Aer lacks (cry, ...) are decomposed.
        return transpile(circuits, self._simulator, optimization_level=0)

    def sample(self, setup, pairs, shots, rng):
        probabilities = self.distributions(setup, pairs)
        return [draw_codes(np.cumsum(p)[:3], n, rng) for p, n in zip(probabilities, shots, strict=True)]

    def outcomes(self, setup, angles_a, angles_b, setting_a, setting_b, rng):
        # Thresholds are the cumulative probabilities on a 2^-32 grid (bias <= 2.4e-10 per
        # probability); uint8 indices and uint32 uniforms keep the memory traffic small.
        pairs = [(a, b) for a in angles_a for b in angles_b]
        cumulative = np.cumsum(self.distributions(setup, pairs), axis=1)[:, :3]
        thresholds = np.minimum(np.round(cumulative * 2.0**32), 2.0**32 - 1).astype(np.uint32)
        if len(pairs) <= 255:
            index = setting_a * np.uint8(len(angles_b)) + setting_b.astype(np.uint8)
        else:
            index = pair_indices(setting_a, setting_b, len(angles_b))
        uniform = rng.integers(0, 2**32, index.size, dtype=np.uint32)
        codes = np.greater_equal(uniform, thresholds[:, 0].take(index)).view(np.uint8)
        for column in (1, 2):
            codes += np.greater_equal(uniform, thresholds[:, column].take(index)).view(np.uint8)
        return codes


def draw_codes(cumulative: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` codes 0..3 drawn from the cumulative probabilities ``cumulative[:3]``."""
    return np.searchsorted(cumulative, rng.random(size), side="right").astype(np.uint8)


class ShotsEngine(Engine):
    """Aer SamplerV2 shots: one pub per setting pair, readout error in the noise model."""

    name = "shots"

    def sample(self, setup, pairs, shots, rng):
        from qiskit_aer.primitives import SamplerV2

        options = {"backend_options": {"method": "density_matrix"}}
        if setup.noise.has_readout_error:
            options["backend_options"]["noise_model"] = _readout_noise_model(setup)
        sampler = SamplerV2(seed=child_seed(rng), options=options)
        return _sample_pubs(sampler, setup, pairs, shots)


class StatevectorEngine(Engine):
    """qiskit's StatevectorSampler: exact noiseless reference, no Aer involved."""

    name = "statevector"

    def sample(self, setup, pairs, shots, rng):
        from qiskit.primitives import StatevectorSampler

        if not setup.is_noiseless:
            raise ValidationError(
                "engine='statevector' is the noiseless reference: remove the noise and attacks "
                "or use engine='exact' or 'shots'"
            )
        sampler = StatevectorSampler(seed=np.random.default_rng(child_seed(rng)))
        return _sample_pubs(sampler, setup, pairs, shots)


def _sample_pubs(
    sampler, setup: PairSetup, pairs: Sequence[SettingPair], shots: Sequence[int]
) -> list[np.ndarray]:
    """Run one pub per setting pair with its own shot count on a V2 sampler; decode the codes."""
    wanted = [i for i, n in enumerate(shots) if n > 0]
    pubs = [(pair_circuit(setup, *pairs[i], measure=True), None, int(shots[i])) for i in wanted]
    result = sampler.run(pubs).result() if pubs else []
    drawn = [np.zeros(0, dtype=np.uint8) for _ in shots]
    for i, pub_result in zip(wanted, result, strict=True):
        drawn[i] = codes_from_counts(pub_result.data.meas.array[:, 0])
    return drawn


def _readout_noise_model(setup: PairSetup) -> NoiseModel:
    model = NoiseModel()
    for qubit, arm in enumerate("ab"):
        p01, p10 = setup.noise.readout_a if arm == "a" else setup.noise.readout_b
        if p01 or p10:
            model.add_readout_error(ReadoutError([[1 - p01, p01], [p10, 1 - p10]]), [qubit])
    return model


def get_engine(engine: str | Engine = "exact") -> Engine:
    """An engine instance from its name ('exact', 'shots', 'statevector') or as given."""
    if isinstance(engine, Engine):
        return engine
    name = check_choice("engine", engine, ENGINE_NAMES)
    return {"exact": ExactEngine, "shots": ShotsEngine, "statevector": StatevectorEngine}[name]()
