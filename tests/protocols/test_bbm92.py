"""BBM92 against closed forms: QBER under noise and attacks, sifting, aborts."""

import math

import numpy as np
import pytest
from protocol_stats import within

from qentangle.distill.estimate import (
    ErrorSample,
    binary_entropy,
    hypergeometric_upper_errors,
    phase_error_bound,
)
from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.protocols.attacks import EntanglingProbe, FakeSource, InterceptResend
from qentangle.protocols.bbm92 import run_bbm92
from qentangle.protocols.keying import KeyOptions

SEEDS = (11, 12, 13)
PAIRS = 200_000
ESTIMATE_ONLY = KeyOptions(distill=False, sample_fraction=0.2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.0, 0.06, 0.2])
def test_depolarizing_gives_qber_p_over_2_in_both_bases(seed, p):
    result = run_bbm92(PAIRS, noise=NoiseConfig(depolarizing=p), seed=seed, key_options=ESTIMATE_ONLY)
    assert within(result.qber_z, p / 2, result.sample_z)
    assert within(result.qber_x, p / 2, result.sample_x)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("fraction", "arm"), [(0.2, "bob"), (0.6, "alice"), (1.0, "bob")])
def test_intercept_resend_fraction_f_gives_qber_f_over_4(seed, fraction, arm):
    attack = InterceptResend(fraction, arm)
    result = run_bbm92(PAIRS, attacks=(attack,), seed=seed, key_options=ESTIMATE_ONLY)
    assert within(result.qber_z, fraction / 4, result.sample_z)
    assert within(result.qber_x, fraction / 4, result.sample_x)
    assert result.eve_information == pytest.approx(fraction / 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_full_intercept_resend_aborts(seed):
    result = run_bbm92(PAIRS, attacks=(InterceptResend(1.0, "bob"),), seed=seed, key_options=ESTIMATE_ONLY)
    assert result.aborted and "exceeds the abort threshold" in result.key.abort_reason


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("state", ["phi+", "phi-", "psi+", "psi-"])
def test_every_bell_state_sifts_to_identical_bits_without_noise(seed, state):
    result = run_bbm92(50_000, state=state, seed=seed, key_options=ESTIMATE_ONLY)
    assert result.qber_z == 0.0 and result.qber_x == 0.0 and not result.aborted


@pytest.mark.parametrize("seed", SEEDS)
def test_misalignment_gives_sin_squared(seed):
    theta = 6.0  # degrees of polarization rotation on Bob's arm
    result = run_bbm92(
        PAIRS, noise=NoiseConfig(misalignment_b_deg=theta), seed=seed, key_options=ESTIMATE_ONLY
    )
    expected = math.sin(math.radians(theta)) ** 2
    assert within(result.qber_z, expected, result.sample_z)
    assert within(result.qber_x, expected, result.sample_x)


@pytest.mark.parametrize("seed", SEEDS)
def test_fake_source_is_perfect_in_z_and_random_in_x(seed):
    result = run_bbm92(PAIRS, attacks=(FakeSource(),), seed=seed, key_options=ESTIMATE_ONLY)
    assert result.qber_z == 0.0
    assert within(result.qber_x, 0.5, result.sample_x)
    assert result.aborted
    # Eve knows every Z bit and nothing of the X bits; the key holds both in their shares.
    z_share = result.sifted_z / result.sifted_bits
    assert result.eve_information == pytest.approx(1.0 * z_share, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("strength", [math.pi / 3, math.pi / 2])
def test_entangling_probe_disturbs_x_and_informs_eve(seed, strength):
    result = run_bbm92(
        PAIRS, attacks=(EntanglingProbe(strength, "bob"),), seed=seed, key_options=ESTIMATE_ONLY
    )
    overlap = math.cos(strength / 2)
    assert result.qber_z == 0.0
    assert within(result.qber_x, (1 - overlap) / 2, result.sample_x)
    # Holevo information of two equiprobable pure states with this overlap, on the Z share of
    # the key (a Z-basis probe tells Eve nothing about X bits)
    z_share = result.sifted_z / result.sifted_bits
    assert result.eve_information == pytest.approx(binary_entropy((1 + overlap) / 2) * z_share, abs=1e-6)
    efficient = run_bbm92(
        50_000, p_z=0.9, attacks=(EntanglingProbe(strength, "bob"),), seed=seed, key_options=ESTIMATE_ONLY
    )
    assert efficient.eve_information == pytest.approx(binary_entropy((1 + overlap) / 2), abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_efficient_bbm92_sifts_p_z_squared_and_keys_from_z(seed):
    p_z = 0.8
    result = run_bbm92(PAIRS, p_z=p_z, seed=seed, key_options=ESTIMATE_ONLY)
    expected = p_z**2 + (1 - p_z) ** 2
    assert within(result.sifted_bits / PAIRS, expected, PAIRS)
    assert within(result.sifted_z / result.sifted_bits, p_z**2 / expected, result.sifted_bits)
    assert result.key_bases == "z"


def test_abort_threshold_is_configurable():
    noise = NoiseConfig(depolarizing=0.1)  # QBER 5 %
    strict = run_bbm92(PAIRS, noise=noise, seed=1, key_options=KeyOptions(distill=False, qber_abort=0.03))
    lenient = run_bbm92(PAIRS, noise=noise, seed=1, key_options=KeyOptions(distill=False, qber_abort=0.11))
    assert strict.aborted and not lenient.aborted


def test_same_seed_same_run_and_chunking_changes_nothing_statistically():
    first = run_bbm92(100_000, seed=5, key_options=ESTIMATE_ONLY).to_dict()
    second = run_bbm92(100_000, seed=5, key_options=ESTIMATE_ONLY).to_dict()
    for key in ("sifted_bits", "qber_z", "qber_x"):
        assert first[key] == second[key]
    chunked = run_bbm92(100_000, seed=5, key_options=ESTIMATE_ONLY, chunk_size=7_777)
    assert within(chunked.sifted_bits / 100_000, 0.5, 100_000)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"pairs": 0}, "pairs"),
        ({"p_z": 1.5}, "p_z"),
        ({"p_z": 1.0}, "p_z"),
        ({"p_z": 0.0}, "p_z"),
        ({"state": "ghz"}, "state"),
        ({"engine": "gpu"}, "engine"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    args = {"pairs": 1000, **kwargs}
    pairs = args.pop("pairs")
    with pytest.raises(ValidationError, match=name):
        run_bbm92(pairs, **args)


def test_shots_engine_agrees_with_exact_engine():
    noise = NoiseConfig(depolarizing=0.12)
    shots = run_bbm92(20_000, noise=noise, engine="shots", seed=3, key_options=ESTIMATE_ONLY)
    assert within(shots.qber_z, 0.06, shots.sample_z)
    assert np.isfinite(shots.qber_x)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_basis_is_bounded_from_its_own_sample(seed):
    """Dephasing on Bob's arm flips X outcomes only: the Z bound must not inherit X's errors."""
    options = KeyOptions(distill=False)
    result = run_bbm92(PAIRS, noise=NoiseConfig(dephasing_b=0.08), seed=seed, key_options=options)
    assert result.qber_z == 0.0 and within(result.qber_x, 0.08, result.sample_x)
    for rate, upper, sifted, sample in (
        (result.qber_z, result.qber_z_upper, result.sifted_z, result.sample_z),
        (result.qber_x, result.qber_x_upper, result.sifted_x, result.sample_x),
    ):
        own = phase_error_bound(ErrorSample(round(rate * sample), sample), sifted - sample, options.eps_sec)
        assert upper == pytest.approx(own)
    assert result.qber_z_upper < 0.02 < 0.08 < result.qber_x_upper  # pooled, Z would be about 0.05


def test_symmetric_phase_error_bounds_share_the_failure_budget():
    """Z key bits from the X sample and X key bits from the Z sample, each at (eps/2)^2 / 2."""
    options = KeyOptions(distill=False)
    result = run_bbm92(PAIRS, noise=NoiseConfig(depolarizing=0.06), seed=5, key_options=options)
    samples = [
        ErrorSample(round(result.qber_z * result.sample_z), result.sample_z),
        ErrorSample(round(result.qber_x * result.sample_x), result.sample_x),
    ]
    sizes = [result.sifted_z - result.sample_z, result.sifted_x - result.sample_x]
    failure = (options.eps_sec / 2) ** 2 / 2
    count = sum(
        hypergeometric_upper_errors(samples[1 - b].errors, samples[1 - b].size, sizes[b], failure)
        for b in (0, 1)
    )
    assert result.key.phase_error_upper == pytest.approx(count / sum(sizes))


def test_a_key_basis_without_the_other_basis_aborts():
    """Eve's fake source is perfect in Z; with (almost) no X round nothing bounds her knowledge."""
    result = run_bbm92(200_000, p_z=0.9999, attacks=(FakeSource(),), seed=4)
    assert result.aborted and result.sifted_x == 0
    assert "cannot be bounded" in result.key.abort_reason
    assert result.to_dict()["final_key_bits"] == 0


@pytest.mark.parametrize("p_z", [0.95, 0.05])
def test_fake_source_is_caught_by_the_minority_basis(p_z):
    result = run_bbm92(200_000, p_z=p_z, attacks=(FakeSource(0.0),), seed=4)
    assert result.aborted and result.to_dict()["final_key_bits"] == 0


def test_a_bias_towards_x_keys_from_x():
    result = run_bbm92(PAIRS, p_z=0.2, seed=6, key_options=ESTIMATE_ONLY)
    assert result.key_bases == "x"
    assert result.sample_z == result.sifted_z  # every Z bit disclosed: the phase error of X
    assert result.sample_x == result.key.sample_size < result.sifted_x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fraction", [0.6, 1.0])
def test_intercept_resend_on_both_arms(seed, fraction):
    """Each arm intercepted with probability f: QBER f(1-f)/2 + 3f^2/8 (3/8 at f = 1)."""
    attack = InterceptResend(fraction, "both")
    result = run_bbm92(PAIRS, attacks=(attack,), seed=seed, key_options=ESTIMATE_ONLY)
    expected = fraction * (1 - fraction) / 2 + 3 * fraction**2 / 8
    assert within(result.qber_z, expected, result.sample_z)
    assert within(result.qber_x, expected, result.sample_x)
    assert result.eve_information == pytest.approx(fraction - fraction**2 / 2)
    assert result.aborted


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arm", ["bob", "both"])
def test_intercept_resend_in_given_bases(seed, arm):
    attack = InterceptResend(1.0, arm, ("z",))
    z_only = run_bbm92(PAIRS, attacks=(attack,), seed=seed, key_options=ESTIMATE_ONLY)
    assert z_only.qber_z == 0.0 and within(z_only.qber_x, 0.5, z_only.sample_x)
    z_share = z_only.sifted_z / z_only.sifted_bits
    assert z_only.eve_information == pytest.approx(z_share)  # every Z bit, no X bit
    # Breidbart basis, halfway between Z and X: QBER sin^2(pi/4)/2 = 1/4 in both bases.
    breidbart = run_bbm92(
        PAIRS, attacks=(InterceptResend(1.0, arm, (math.pi / 4,)),), seed=seed, key_options=ESTIMATE_ONLY
    )
    assert within(breidbart.qber_z, 0.25, breidbart.sample_z)
    assert within(breidbart.qber_x, 0.25, breidbart.sample_x)
    known = 1 - binary_entropy((1 + math.cos(math.pi / 4)) / 2)
    assert breidbart.eve_information == pytest.approx(known)
