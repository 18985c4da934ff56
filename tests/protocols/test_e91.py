"""E91 against closed forms: S and QBER under noise and attacks, the S abort rule."""

import math

import numpy as np
import pytest
from protocol_stats import within

from qentangle.distill.finite_key import device_independent_phase_error
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.protocols.attacks import FakeSource, InterceptResend
from qentangle.protocols.e91 import run_e91
from qentangle.protocols.keying import KeyOptions

SEEDS = (21, 22, 23)
PAIRS = 300_000
TSIRELSON = 2 * math.sqrt(2)
ESTIMATE_ONLY = KeyOptions(distill=False, sample_fraction=0.2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.25])
def test_depolarizing_scales_s_and_qber(seed, p):
    result = run_e91(PAIRS, noise=NoiseConfig(depolarizing=p), seed=seed, key_options=ESTIMATE_ONLY)
    assert abs(result.S - TSIRELSON * (1 - p)) <= 4 * result.S_stderr
    assert within(result.qber, p / 2, result.key.sample_size)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("state", ["phi+", "phi-", "psi+", "psi-"])
def test_ideal_pair_reaches_tsirelson_and_a_perfect_key(seed, state):
    result = run_e91(PAIRS, state=state, seed=seed, key_options=ESTIMATE_ONLY)
    assert abs(result.S - TSIRELSON) <= 4 * result.S_stderr
    assert result.qber == 0.0 and not result.aborted


@pytest.mark.parametrize("seed", SEEDS)
def test_misalignment_rotates_bob_by_twice_the_angle(seed):
    theta = 8.0
    result = run_e91(PAIRS, noise=NoiseConfig(misalignment_b_deg=theta), seed=seed, key_options=ESTIMATE_ONLY)
    phi = 2 * math.radians(theta)
    assert abs(result.S - TSIRELSON * math.cos(phi)) <= 4 * result.S_stderr
    assert within(result.qber, math.sin(phi / 2) ** 2, result.key.sample_size)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arm", ["alice", "bob"])
def test_full_intercept_resend_gives_root_two_and_aborts(seed, arm):
    result = run_e91(PAIRS, attacks=(InterceptResend(1.0, arm),), seed=seed, key_options=ESTIMATE_ONLY)
    assert abs(result.S - math.sqrt(2)) <= 4 * result.S_stderr
    assert within(result.qber, 0.25, result.key.sample_size)
    assert result.aborted and "standard errors above 2" in result.key.abort_reason


@pytest.mark.parametrize("seed", SEEDS)
def test_fake_source_cannot_violate_chsh(seed):
    result = run_e91(PAIRS, attacks=(FakeSource(),), seed=seed, key_options=ESTIMATE_ONLY)
    assert abs(result.S - math.sqrt(2)) <= 4 * result.S_stderr  # cos a cos b correlations only
    assert result.aborted


def test_s_abort_rule_is_configurable():
    noise = NoiseConfig(depolarizing=0.27)  # S = 2.065: barely above 2 (and QBER 13.5 %)
    options = KeyOptions(distill=False, qber_abort=0.5)  # isolate the S rule
    strict = run_e91(PAIRS, noise=noise, seed=3, s_sigmas=30.0, key_options=options)
    lenient = run_e91(PAIRS, noise=noise, seed=3, s_sigmas=1.0, key_options=options)
    assert strict.aborted and "standard errors above 2" in strict.key.abort_reason
    assert not lenient.aborted


def test_correlators_and_counts_are_reported():
    result = run_e91(90_000, seed=4, key_options=ESTIMATE_ONLY)
    data = result.to_dict()
    assert len(data["correlators"]) == 4
    assert sum(c["n"] for c in data["correlators"]) == data["test_rounds"]
    assert abs(data["test_rounds"] / 90_000 - 4 / 9) < 0.01
    assert abs(data["sifted_bits"] / 90_000 - 1 / 9) < 0.01  # key only at Alice's CHSH input pi/2


@pytest.mark.parametrize("bad", ["ghz", "w", ""])
def test_unknown_states_are_rejected(bad):
    with pytest.raises(ValidationError, match="state"):
        run_e91(1000, state=bad)


@pytest.mark.parametrize("strength", [0.3, 0.6, 1.0])
@pytest.mark.parametrize("basis", [math.pi / 4, math.pi / 2])
def test_key_never_exceeds_what_eve_leaves_under_a_key_basis_attack(strength, basis):
    """A probe aimed at one key basis leaves the key's own errors low; S must still bound Eve.

    Devetak-Winter: at most n (1 - chi) - leaked of n reconciled bits are secret, chi being
    Eve's Holevo information per key bit (computed from the density matrix).
    """
    from qentangle.protocols.attacks import EntanglingProbe

    result = run_e91(400_000, seed=4, attacks=(EntanglingProbe(strength, "bob", basis),))
    data = result.to_dict()
    if result.aborted:
        assert data["final_key_bits"] == 0
        return
    ceiling = data["reconciled_bits"] * (1 - result.eve_information) - data["leaked_bits"]
    assert data["final_key_bits"] <= ceiling


@pytest.mark.parametrize("distill", [True, False])
@pytest.mark.parametrize("pairs", [10, 40, 100, 150, 3000])
def test_short_runs_abort_cleanly(pairs, distill):
    for seed in (1, 2, 3):
        result = run_e91(pairs, seed=seed, key_options=KeyOptions(distill=distill))
        data = result.to_dict()
        assert result.aborted and data["final_key_bits"] == 0 and data["abort_reason"]
        if any(c["n"] == 0 for c in data["correlators"]):
            assert "too few test rounds" in data["abort_reason"] and math.isnan(result.S)


def test_no_test_round_at_a_setting_pair_means_s_is_unknown():
    unknown = [run_e91(10, seed=seed, key_options=ESTIMATE_ONLY) for seed in range(6)]
    unknown = [r for r in unknown if any(c["n"] == 0 for c in r.correlators)]
    assert unknown
    for result in unknown:
        assert math.isnan(result.S) and "S is unknown" in result.key.abort_reason


def test_with_distillation_s_must_be_bounded_above_two():
    """3000 ideal pairs: S is 10 standard errors above 2, but its rigorous lower bound is not."""
    result = run_e91(3000, seed=5)
    assert result.z_score > 3
    assert result.aborted and "too few test rounds" in result.key.abort_reason


def test_qber_threshold_applies_to_measured_errors_and_s_sets_the_floor():
    """QBER 2.5 %: the phase-error floor from S is above 11 % but the finite key is positive."""
    options = KeyOptions()
    result = run_e91(300_000, seed=3, noise=NoiseConfig(depolarizing=0.05), key_options=options)
    data = result.to_dict()
    assert not result.aborted and data["final_key_bits"] > 0 and data["keys_match"]
    assert data["qber_upper"] < options.qber_abort < data["phase_error_upper"]
    # The floor: the Hoeffding bound on S at half the phase-error budget (eps_sec/2)^2: the other
    # half goes to the key sample's own bound (the phase error is the larger of the two).
    n = np.array([c["n"] for c in data["correlators"]])
    failure = (options.eps_sec / 2) ** 2 / 2
    s_low = result.S_raw - float(np.sum(np.sqrt(2 * math.log(4 / failure) / n)))
    assert data["phase_error_upper"] == pytest.approx(device_independent_phase_error(s_low))


def test_measured_qber_above_the_threshold_still_aborts():
    noise = NoiseConfig(depolarizing=0.26)  # QBER 13 %, S = 2.09 (no device-independent key either)
    result = run_e91(PAIRS, seed=2, noise=noise, s_sigmas=0.0, key_options=KeyOptions(distill=False))
    assert result.aborted and "QBER upper bound" in result.key.abort_reason
    distilled = run_e91(PAIRS, seed=2, noise=noise, s_sigmas=0.0)
    assert distilled.aborted and "lower confidence bound on S" in distilled.key.abort_reason




@pytest.mark.parametrize("seed", SEEDS)
def test_every_key_bit_is_covered_by_the_bound_from_s_by_default(seed):
    """Alice's pi/4 is never a CHSH input: by default no key bit comes from it."""
    result = run_e91(90_000, seed=seed, key_options=ESTIMATE_ONLY)
    data = result.to_dict()
    assert data["key_rounds"] == "chsh-inputs"
    assert data["key_bits_covered_by_chsh_bound"] == data["sifted_bits"] > 0
    assert data["key_bits_basis_symmetry_only"] == 0
    assert "every key bit" in data["key_assumption"]


@pytest.mark.parametrize("seed", SEEDS)
def test_all_key_rounds_report_the_bits_that_rest_on_basis_symmetry(seed):
    result = run_e91(90_000, seed=seed, key_options=ESTIMATE_ONLY, key_rounds="all")
    data = result.to_dict()
    sifted, uncovered = data["sifted_bits"], data["key_bits_basis_symmetry_only"]
    assert abs(sifted / 90_000 - 2 / 9) < 0.01
    # Half the key bits are Alice's pi/4 outcomes (binomial, 5 standard errors).
    assert abs(uncovered - sifted / 2) <= 5 * math.sqrt(sifted / 4)
    assert data["key_bits_covered_by_chsh_bound"] + uncovered == sifted
    assert "basis symmetry only" in data["key_assumption"]


def test_unknown_key_rounds_are_rejected():
    with pytest.raises(ValidationError, match="key_rounds"):
        run_e91(1000, key_rounds="pi/4")


def test_phase_error_budget_is_split_between_s_and_the_key_sample():
    """The key sample's own bound gets (eps/2)^2 / 2: with the floor from S below it (a large
    ideal run), the reported phase-error bound is the hypergeometric bound at the split budget."""
    from qentangle.distill.estimate import ErrorSample, phase_error_bound

    options = KeyOptions(sample_fraction=0.2)
    result = run_e91(300_000, seed=8, noise=NoiseConfig(depolarizing=0.02), key_options=options)
    data = result.to_dict()
    sample = ErrorSample(errors=round(data["qber"] * data["qber_sample_bits"]), size=data["qber_sample_bits"])
    population = data["sifted_bits"] - data["qber_sample_bits"]
    split = phase_error_bound(sample, population, options.eps_sec, estimates=2)
    whole = phase_error_bound(sample, population, options.eps_sec)
    assert split > whole
    assert data["qber_upper"] == pytest.approx(split)
