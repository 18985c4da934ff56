"""Engines: exact distributions against closed forms, and agreement between engines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qentangle.analysis import correlator
from qentangle.engines import Engine, ExactEngine, ShotsEngine, StatevectorEngine, get_engine
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup
from qentangle.states import BELL_STATES, ideal_correlator
from qentangle.theory import predicted_distribution

PAIRS = [(0.0, 0.0), (0.0, math.pi / 4), (math.pi / 2, 3 * math.pi / 4), (0.4, -1.3), (2.0, 0.7)]
NOISES = [
    NoiseConfig(),
    NoiseConfig(depolarizing=0.2),
    NoiseConfig(dephasing_a=0.15, amplitude_damping_b=0.3),
    NoiseConfig(misalignment_b_deg=12.0, depolarizing_a=0.1),
    NoiseConfig(accidental=0.1, readout_a=(0.03, 0.08), readout_b=(0.05, 0.01)),
]


@pytest.mark.parametrize("noise", NOISES, ids=lambda n: n.describe())
@pytest.mark.parametrize("state", BELL_STATES)
def test_exact_distributions_equal_closed_form(exact_engine, state, noise):
    probabilities = exact_engine.distributions(PairSetup(state, noise), PAIRS)
    a, b = np.array(PAIRS).T
    assert np.allclose(probabilities, predicted_distribution(state, a, b, noise), atol=1e-9)
    assert np.allclose(probabilities.sum(axis=1), 1)


@pytest.mark.parametrize("state", BELL_STATES)
def test_noiseless_correlators_match_the_ideal_ones(exact_engine, state):
    values = correlator(exact_engine.distributions(PairSetup(state), PAIRS))
    assert np.allclose(values, [ideal_correlator(state, a, b) for a, b in PAIRS], atol=1e-12)


def _counts(codes: list[np.ndarray]) -> np.ndarray:
    return np.array([np.bincount(c, minlength=4) for c in codes])


def _assert_same_distribution(first: np.ndarray, second: np.ndarray, alpha: float = 1e-4) -> None:
    """Chi-square two-sample (contingency) test per setting pair, Bonferroni over pairs."""
    for row_a, row_b in zip(first, second, strict=True):
        table = np.array([row_a, row_b])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            assert np.array_equal(row_a, row_b)
            continue
        p_value = stats.chi2_contingency(table)[1]
        assert p_value > alpha / len(first), (row_a, row_b, p_value)


@pytest.mark.parametrize("seed", [5, 6])
def test_exact_and_shots_engines_agree(seed):
    setup = PairSetup("psi+", NoiseConfig(depolarizing=0.1, dephasing_b=0.1, misalignment_a_deg=7,
                                           readout_a=(0.04, 0.02), readout_b=(0.01, 0.06)))
    shots = [4000] * len(PAIRS)
    rng_exact, rng_shots = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    exact = _counts(ExactEngine().sample(setup, PAIRS, shots, rng_exact))
    sampled = _counts(ShotsEngine().sample(setup, PAIRS, shots, rng_shots))
    _assert_same_distribution(exact, sampled)


def test_statevector_engine_agrees_with_exact():
    setup = PairSetup("phi-")
    shots = [3000] * len(PAIRS)
    exact = _counts(ExactEngine().sample(setup, PAIRS, shots, np.random.default_rng(1)))
    reference = _counts(StatevectorEngine().sample(setup, PAIRS, shots, np.random.default_rng(2)))
    _assert_same_distribution(exact, reference)


def test_exact_samples_fit_their_distribution(exact_engine):
    setup = PairSetup("phi+", NoiseConfig(depolarizing=0.3))
    probabilities = exact_engine.distributions(setup, PAIRS)
    codes = exact_engine.sample(setup, PAIRS, [20_000] * len(PAIRS), np.random.default_rng(3))
    for p, observed in zip(probabilities, _counts(codes), strict=True):
        keep = p > 0
        assert observed[~keep].sum() == 0
        p_value = stats.chisquare(observed[keep], p[keep] * observed.sum()).pvalue
        assert p_value > 1e-4 / len(PAIRS)


@pytest.mark.parametrize("name", ["exact", "shots", "statevector"])
def test_outcomes_follow_each_rounds_settings(name):
    # phi+ at (0, 0) always agrees; at (0, pi) always disagrees: the order of rounds must survive.
    rng = np.random.default_rng(9)
    setting_a = np.zeros(400, dtype=np.intp)
    setting_b = rng.integers(0, 2, 400)
    codes = get_engine(name).outcomes(PairSetup("phi+"), [0.0], [0.0, math.pi], setting_a, setting_b, rng)
    equal = (codes == 0) | (codes == 3)
    assert np.array_equal(equal, setting_b == 0)


def test_zero_shots_and_empty_pairs():
    setup = PairSetup("phi+")
    rng = np.random.default_rng(0)
    for engine in (ExactEngine(), ShotsEngine(), StatevectorEngine()):
        drawn = engine.sample(setup, [(0.0, 0.0), (0.1, 0.2)], [0, 5], rng)
        assert [len(d) for d in drawn] == [0, 5]


def test_same_seed_same_outcomes_different_seed_different():
    setup = PairSetup("phi+", NoiseConfig(depolarizing=0.5))

    def draw(seed: int) -> np.ndarray:
        return ExactEngine().sample(setup, PAIRS, [500] * len(PAIRS), np.random.default_rng(seed))[3]

    assert np.array_equal(draw(1), draw(1))
    assert not np.array_equal(draw(1), draw(2))


def test_statevector_rejects_noise_and_unknown_engines_are_named():
    with pytest.raises(ValidationError, match="statevector"):
        StatevectorEngine().sample(PairSetup("phi+", NoiseConfig(depolarizing=0.1)), [(0, 0)], [1],
                                   np.random.default_rng(0))
    with pytest.raises(ValidationError, match="engine"):
        get_engine("magic")
    engine = ExactEngine()
    assert get_engine(engine) is engine
    assert engine.info() == {"engine": "exact"} and engine.readout_confusion() is None


def test_exact_density_matrix_is_a_state(exact_engine):
    rho = exact_engine.density_matrix(PairSetup("psi-", NoiseConfig(amplitude_damping_a=0.4)))
    assert np.allclose(rho, rho.conj().T)
    assert np.trace(rho).real == pytest.approx(1)
    assert np.linalg.eigvalsh(rho).min() > -1e-12


# ------------------------------------------------------------------------ the session contract
class _Minimal(Engine):
    name = "minimal"

    def sample(self, setup, pairs, shots, rng):  # pragma: no cover - never sampled here
        raise NotImplementedError


class _Recording(ExactEngine):
    """An exact engine that records the session's calls of the contract's hooks."""

    def __init__(self, *, one_call: bool = False, prediction: dict | None = None) -> None:
        super().__init__()
        self.one_call_per_run = one_call
        self.prefetched: list[tuple] = []
        self.chunks: list[int] = []
        self._prediction = prediction

    def prefetch(self, setups, angles_a, angles_b):
        self.prefetched.append((tuple(setups), tuple(angles_a), tuple(angles_b)))
        super().prefetch(setups, angles_a, angles_b)

    def outcomes(self, setup, angles_a, angles_b, setting_a, setting_b, rng):
        self.chunks.append(int(setting_a.size))
        return super().outcomes(setup, angles_a, angles_b, setting_a, setting_b, rng)

    def chsh_prediction(self, state, angles):
        return self._prediction


def test_base_engine_declares_the_session_contract():
    engine = _Minimal()
    assert engine.one_call_per_run is False
    assert engine.prefetch([PairSetup()], (0.0,), (0.0,)) is None
    assert engine.chsh_prediction("phi+", (0.0, 1.0, 0.5, 2.0)) is None
    assert engine.readout_confusion() is None
    for cls in (ExactEngine, ShotsEngine, StatevectorEngine):
        assert cls.one_call_per_run is False and cls().chsh_prediction("phi+", (0, 1, 0, 1)) is None


def test_session_uses_prefetch_and_one_call_per_run():
    from qentangle.protocols.chsh import run_bell_test

    plain = _Recording()
    run_bell_test(10_000, engine=plain, seed=1, chunk_size=1_000)
    assert len(plain.prefetched) == 1 and plain.chunks == [1_000] * 10
    (setups, angles_a, angles_b), = plain.prefetched
    assert setups == (PairSetup(),) and len(angles_a) == len(angles_b) == 2
    single = _Recording(one_call=True)
    run_bell_test(10_000, engine=single, seed=1, chunk_size=1_000)
    assert single.chunks == [10_000]


def test_run_chsh_takes_the_engines_own_prediction():
    from qentangle.protocols.chsh import run_chsh

    fields = {"predicted_S": 1.5, "predicted_S_band": [1.0, 2.0]}
    result = run_chsh(shots=400, engine=_Recording(prediction=fields), seed=1)
    assert result.predicted_S == 1.5 and result.to_dict()["predicted_S_band"] == [1.0, 2.0]
    plain = run_chsh(shots=400, engine=_Recording(), seed=1)
    assert plain.predicted_S == pytest.approx(2 * math.sqrt(2)) and "predicted_S_band" not in plain.extra
