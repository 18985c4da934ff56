"""The CHSH experiment: S and every correlator against closed forms, and its statistics.

Closed forms used (phi+, Bloch angles a for Alice and b for Bob, E = <A ⊗ B>):

- noiseless: E = cos(a - b); two-qubit depolarizing p scales it by (1 - p), so S = 2√2 (1 - p).
- misalignment of Bob's polarization by θ degrees: RY(2θ) before RY(-b), i.e. Bob measures at
  b - 2θ: E = cos(a - b + 2θ).
- dephasing p on one arm: <XX> -> (1 - 2p) <XX>, E = cos a cos b + (1 - 2p) sin a sin b.
- amplitude damping γ on one arm: <ZZ> = 1 - γ, <XX> = sqrt(1 - γ), <ZX> = <XZ> = 0,
  E = (1 - γ) cos a cos b + sqrt(1 - γ) sin a sin b.
- readout (e0, e1) = (P(1|0), P(0|1)) per arm maps each ±1 outcome z to α z + β on average
  with α = 1 - e0 - e1, β = e1 - e0; with zero marginals E' = α_a α_b E + β_a β_b.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qentangle.analysis import correlator
from qentangle.engines import Engine, ExactEngine
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup
from qentangle.protocols.chsh import ChshResult, chsh_sweep, run_bell_test, run_chsh
from qentangle.states import BELL_STATES, optimal_chsh_angles
from qentangle.theory import predicted_correlator, predicted_S

TSIRELSON = 2 * math.sqrt(2)
ANGLES = (0.3, 1.4, -0.5, 2.2)  # generic (non-optimal) angles: every term of the formulas matters
SHOTS = 40_000


def _phi_plus_formula(noise_kind: str, value: float, a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if noise_kind == "misalignment":
        return np.cos(a - b + 2 * math.radians(value))
    if noise_kind == "dephasing":
        return np.cos(a) * np.cos(b) + (1 - 2 * value) * np.sin(a) * np.sin(b)
    if noise_kind == "damping":
        return (1 - value) * np.cos(a) * np.cos(b) + math.sqrt(1 - value) * np.sin(a) * np.sin(b)
    raise AssertionError(noise_kind)


CASES = [
    ("misalignment", 10.0, NoiseConfig(misalignment_b_deg=10.0)),
    ("misalignment", -25.0, NoiseConfig(misalignment_b_deg=-25.0)),
    ("dephasing", 0.2, NoiseConfig(dephasing_b=0.2)),
    ("dephasing", 0.35, NoiseConfig(dephasing_a=0.35)),
    ("damping", 0.3, NoiseConfig(amplitude_damping_b=0.3)),
    ("damping", 0.6, NoiseConfig(amplitude_damping_a=0.6)),
]


def _pairs(angles):
    a, a2, b, b2 = angles
    return np.array([a, a, a2, a2]), np.array([b, b2, b, b2])


@pytest.mark.parametrize(("kind", "value", "noise"), CASES, ids=lambda x: str(x)[:20])
def test_channel_correlators_closed_form_exact(kind, value, noise, exact_engine):
    a, b = _pairs(ANGLES)
    expected = _phi_plus_formula(kind, value, a, b)
    assert np.allclose(predicted_correlator("phi+", a, b, noise), expected, atol=1e-12)
    aer = correlator(exact_engine.distributions(PairSetup("phi+", noise), list(zip(a, b, strict=True))))
    assert np.allclose(aer, expected, atol=1e-9)


@pytest.mark.parametrize(("kind", "value", "noise"), CASES, ids=lambda x: str(x)[:20])
def test_channel_correlators_measured(kind, value, noise, seed, within):
    result = run_chsh("phi+", ANGLES, shots=SHOTS, noise=noise, seed=seed)
    a, b = _pairs(ANGLES)
    measured = np.array([c.E for c in result.correlators])
    stderr = np.array([c.stderr for c in result.correlators])
    within(measured, _phi_plus_formula(kind, value, a, b), stderr, what=f"{kind} {value}")


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.5])
def test_depolarizing_scales_S(p, seed, within):
    result = run_chsh("phi+", shots=SHOTS, noise=NoiseConfig(depolarizing=p), seed=seed)
    within(result.S, TSIRELSON * (1 - p), result.S_stderr, what=f"S at p={p}")
    assert predicted_S("phi+", noise=NoiseConfig(depolarizing=p)) == pytest.approx(TSIRELSON * (1 - p))


READOUTS = [((0.05, 0.05), (0.05, 0.05)), ((0.02, 0.10), (0.07, 0.01)), ((0.2, 0.0), (0.0, 0.15))]


@pytest.mark.parametrize(("ra", "rb"), READOUTS)
@pytest.mark.parametrize("state", ["phi+", "psi-"])
def test_readout_error_on_each_correlator(state, ra, rb, seed, within):
    noise = NoiseConfig(readout_a=ra, readout_b=rb)
    alpha_a, beta_a = 1 - ra[0] - ra[1], ra[1] - ra[0]
    alpha_b, beta_b = 1 - rb[0] - rb[1], rb[1] - rb[0]
    a, b = _pairs(ANGLES)
    ideal = predicted_correlator(state, a, b)
    expected = alpha_a * alpha_b * ideal + beta_a * beta_b
    assert np.allclose(predicted_correlator(state, a, b, noise), expected, atol=1e-12)
    result = run_chsh(state, ANGLES, shots=SHOTS, noise=noise, seed=seed)
    within([c.E for c in result.correlators], expected, [c.stderr for c in result.correlators])


@pytest.mark.parametrize("state", BELL_STATES)
@pytest.mark.parametrize("engine", ["exact", "statevector"])
def test_every_bell_state_reaches_tsirelson(state, engine, within):
    result = run_chsh(state, shots=8_000, engine=engine, seed=len(state) + BELL_STATES.index(state))
    assert result.angles == optimal_chsh_angles(state)
    within(abs(result.S), TSIRELSON, result.S_stderr, what=state)
    assert result.z_score > 10 and result.p_value_rigorous < 1e-10


def test_shots_engine_reaches_tsirelson_with_noise(within):
    noise = NoiseConfig(depolarizing=0.2, readout_a=(0.03, 0.03))
    result = run_chsh("psi+", shots=8_000, engine="shots", noise=noise, seed=4)
    within(result.S, predicted_S("psi+", noise=noise), result.S_stderr)
    assert result.engine == "shots"


def test_standard_error_matches_the_spread_over_seeds(exact_engine):
    noise = NoiseConfig(depolarizing=0.3)
    runs = [run_chsh("phi+", shots=2_000, noise=noise, engine=exact_engine, seed=s) for s in range(150)]
    spread = np.std([r.S for r in runs], ddof=1)
    reported = np.mean([r.S_stderr for r in runs])
    assert 0.8 < spread / reported < 1.25


def test_balanced_settings_split_exactly():
    result = run_chsh("phi-", shots=1_003, settings="balanced", seed=1)
    assert [c.n for c in result.correlators] == [251, 251, 251, 250]
    assert "balanced" in result.rigorous_assumption


def test_random_settings_are_uniform_and_counts_add_up():
    result = run_chsh("phi+", shots=40_000, seed=2)
    n = np.array([c.n for c in result.correlators])
    assert n.sum() == 40_000 and all(sum(c.counts) == c.n for c in result.correlators)
    from scipy import stats

    assert stats.chisquare(n).pvalue > 1e-4


def test_seed_reproduces_and_differs():
    first = run_chsh(shots=2_000, seed=5, noise=NoiseConfig(depolarizing=0.2))
    assert first == run_chsh(shots=2_000, seed=5, noise=NoiseConfig(depolarizing=0.2))
    assert first.S != run_chsh(shots=2_000, seed=6, noise=NoiseConfig(depolarizing=0.2)).S


def test_result_is_json_safe_and_has_the_documented_keys():
    data = run_chsh("psi-", shots=400, seed=0).to_dict()
    text = json.dumps(data, allow_nan=False)
    for key in ("state", "engine", "shots", "S", "S_stderr", "z_score", "p_value", "p_value_rigorous"):
        assert key in data
    assert [set(c) >= {"a", "b", "E", "n"} for c in json.loads(text)["correlators"]] == [True] * 4
    assert isinstance(run_chsh(shots=8, seed=0), ChshResult)


def test_negative_orientation_for_angles_that_predict_negative_S(within):
    a, a2, b, b2 = optimal_chsh_angles("phi+")
    result = run_chsh("phi+", (a, a2, b + math.pi, b2 + math.pi), shots=8_000, seed=3)
    assert result.orientation == -1
    within(result.S, -TSIRELSON, result.S_stderr)
    assert result.z_score > 10 and result.p_value_rigorous < 1e-10


# ------------------------------------------------------------------------ rigorous p-value
class LocalEngine(Engine):
    """A local hidden-variable model: a shared random bit (common cause), both output it.

    Outcomes never depend on the settings, so the parties agree on every round: they win the
    CHSH game on the three setting pairs with sign +1 and lose on the fourth, i.e. with
    probability exactly 3/4 (the best any local model can do).
    """

    name = "local"

    def sample(self, setup, pairs, shots, rng):  # pragma: no cover - only outcomes() is used
        raise NotImplementedError

    def outcomes(self, setup, angles_a, angles_b, setting_a, setting_b, rng):
        coin = rng.integers(0, 2, setting_a.size)
        return (3 * coin).astype(np.uint8)  # codes 00 or 11


def test_rigorous_p_value_is_valid_under_a_local_model():
    p_values = np.array([run_chsh(shots=400, engine=LocalEngine(), seed=s).p_value_rigorous
                         for s in range(300)])
    # A valid p-value satisfies P(p <= alpha) <= alpha (allow sampling slack over 300 runs).
    for alpha in (0.05, 0.2):
        assert np.mean(p_values <= alpha) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / 300)
    assert np.mean(p_values <= 0.5) > 0.2  # and it is not trivially 1


def test_local_model_wins_three_quarters(within):
    result = run_chsh(shots=40_000, engine=LocalEngine(), seed=0)
    within(result.win_fraction, 0.75, math.sqrt(0.75 * 0.25 / 40_000))
    within(result.S, 2.0, result.S_stderr)


def test_win_fraction_tracks_S():
    result = run_chsh(shots=40_000, seed=8, settings="balanced")
    assert result.win_fraction == pytest.approx(0.5 + result.S / 8, abs=1e-12)


# ------------------------------------------------------------------------ readout mitigation
class CalibratedEngine(ExactEngine):
    """An exact engine that also reports the readout calibration (as a backend would)."""

    def __init__(self, noise: NoiseConfig) -> None:
        super().__init__()
        self._noise = noise

    def readout_confusion(self):
        return self._noise.confusion_matrix("a"), self._noise.confusion_matrix("b")


def test_readout_mitigation_recovers_the_noiseless_correlators(seed, within):
    noise = NoiseConfig(depolarizing=0.1, readout_a=(0.08, 0.03), readout_b=(0.02, 0.12))
    result = run_chsh("phi+", ANGLES, shots=SHOTS, noise=noise, engine=CalibratedEngine(noise), seed=seed)
    assert result.mitigated
    clean = predicted_correlator("phi+", *_pairs(ANGLES), NoiseConfig(depolarizing=0.1))
    within([c.E for c in result.correlators], clean, [c.stderr for c in result.correlators])
    within(result.S_raw, predicted_S("phi+", ANGLES, noise), result.S_raw_stderr)
    assert abs(result.S) > abs(result.S_raw)


def test_mitigated_stderr_matches_spread():
    noise = NoiseConfig(readout_a=(0.1, 0.1), readout_b=(0.1, 0.1))
    engine = CalibratedEngine(noise)
    runs = [run_chsh(shots=2_000, noise=noise, engine=engine, seed=s) for s in range(100)]
    spread, reported = np.std([r.S for r in runs], ddof=1), np.mean([r.S_stderr for r in runs])
    assert 0.8 < spread / reported < 1.25


# ------------------------------------------------------------------------ distributed Bell test
def test_bell_test_returns_a_chsh_result_at_the_closed_form(seed, within):
    noise = NoiseConfig(depolarizing=0.15, misalignment_b_deg=4.0)
    result = run_bell_test(40_000, noise=noise, seed=seed)
    assert isinstance(result, ChshResult) and result.settings == "random" and result.shots == 40_000
    assert result.predicted_S == pytest.approx(predicted_S("phi+", noise=noise))
    within(result.S, result.predicted_S, result.S_stderr)
    assert result.orientation == 1 and result.noise == noise and not result.mitigated
    assert sum(c.n for c in result.correlators) == 40_000
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["protocol"] == "chsh" and data["z_score"] == result.z_score and data["elapsed_s"] > 0


def test_bell_test_orients_angles_that_predict_negative_S(within):
    a, a2, b, b2 = optimal_chsh_angles("psi-")
    result = run_bell_test(20_000, state="psi-", angles=(a, a2, b + math.pi, b2 + math.pi), seed=3)
    assert result.orientation == -1
    within(result.S, -TSIRELSON, result.S_stderr)
    assert result.z_score > 10 and result.p_value_rigorous < 1e-10


def test_bell_test_over_a_schedule_predicts_the_round_weighted_S(seed, within):
    source, accidental = NoiseConfig(depolarizing=0.1), NoiseConfig(accidental=1.0)
    schedule = [(source, 30_000), (accidental, 10_000), (source, 20_000)]
    result = run_bell_test(schedule=schedule, seed=seed)
    expected = 50_000 * 0.9 * TSIRELSON / 60_000  # accidentals are white noise: S = 0
    assert result.predicted_S == pytest.approx(expected)
    within(result.S, expected, result.S_stderr)
    assert result.noise is None and result.to_dict()["noise"] is None
    assert result.extra["noise_configurations"] == 2


def test_bell_test_mitigates_with_the_engines_calibration(seed, within):
    noise = NoiseConfig(depolarizing=0.1, readout_a=(0.08, 0.03), readout_b=(0.02, 0.12))
    result = run_bell_test(SHOTS, noise=noise, engine=CalibratedEngine(noise), seed=seed)
    assert result.mitigated
    within(result.S, 0.9 * TSIRELSON, result.S_stderr)
    within(result.S_raw, predicted_S("phi+", noise=noise), result.S_raw_stderr)


def test_bell_test_local_model_wins_three_quarters(within):
    result = run_bell_test(40_000, engine=LocalEngine(), seed=1)
    within(result.win_fraction, 0.75, math.sqrt(0.75 * 0.25 / 40_000))
    assert result.p_value_rigorous > 1e-4


# ------------------------------------------------------------------------ sweep
def test_sweep_follows_theory(within):
    thetas = np.linspace(0, 2 * np.pi, 9)
    noise = NoiseConfig(depolarizing=0.15)
    sweep = chsh_sweep("phi+", thetas, shots=3_000, noise=noise, seed=4)
    assert np.allclose(sweep.S1_theory, 0.85 * TSIRELSON * np.cos(thetas - np.pi / 4), atol=1e-12)
    assert np.allclose(sweep.S2_theory, 0.85 * TSIRELSON * np.cos(thetas + np.pi / 4), atol=1e-12)
    within(sweep.S1, sweep.S1_theory, sweep.S1_stderr, what="S1")
    within(sweep.S2, sweep.S2_theory, sweep.S2_stderr, what="S2")
    assert sweep.correlators.shape == (9, 4)
    json.dumps(sweep.to_dict(), allow_nan=False)


# ------------------------------------------------------------------------ validation
@settings(max_examples=25)
@given(shots=st.integers(max_value=3))
def test_too_few_shots_are_rejected(shots):
    with pytest.raises(ValidationError, match="shots"):
        run_chsh(shots=shots)


@settings(max_examples=25)
@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), where=st.integers(0, 3))
def test_non_finite_angles_are_rejected(bad, where):
    angles = [0.0, 1.0, 0.5, 2.0]
    angles[where] = bad
    with pytest.raises(ValidationError, match="angles"):
        run_chsh(angles=angles, shots=8)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"angles": (0.0, 1.0, 2.0)}, "angles"),
        ({"state": "bell"}, "state"),
        ({"settings": "sometimes"}, "settings"),
        ({"noise": {"depolarizing": 0.1}}, "noise"),
        ({"engine": "quantum"}, "engine"),
        ({"seed": -1}, "seed"),
        ({"shots": 10.5}, "shots"),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValidationError, match=name):
        run_chsh(**{"shots": 8, **kwargs})


def test_sweep_rejects_bad_thetas():
    with pytest.raises(ValidationError, match="thetas"):
        chsh_sweep(thetas=[0.0, math.nan])
    with pytest.raises(ValidationError, match="thetas"):
        chsh_sweep(thetas=[])
