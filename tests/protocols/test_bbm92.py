"""BBM92 against closed forms: QBER under noise and attacks, sifting, aborts."""

import math

import numpy as np
import pytest
from protocol_stats import within

from qentangle.distill.estimate import binary_entropy
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
    n_sample = result.key.sample_size
    assert within(result.qber_z, p / 2, n_sample)
    assert within(result.qber_x, p / 2, n_sample)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("fraction", "arm"), [(0.2, "bob"), (0.6, "alice"), (1.0, "bob")])
def test_intercept_resend_fraction_f_gives_qber_f_over_4(seed, fraction, arm):
    attack = InterceptResend(fraction, arm)
    result = run_bbm92(PAIRS, attacks=(attack,), seed=seed, key_options=ESTIMATE_ONLY)
    assert within(result.qber_z, fraction / 4, result.key.sample_size)
    assert within(result.qber_x, fraction / 4, result.key.sample_size)
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
    assert within(result.qber_z, expected, result.key.sample_size)
    assert within(result.qber_x, expected, result.key.sample_size)


@pytest.mark.parametrize("seed", SEEDS)
def test_fake_source_is_perfect_in_z_and_random_in_x(seed):
    result = run_bbm92(PAIRS, attacks=(FakeSource(),), seed=seed, key_options=ESTIMATE_ONLY)
    assert result.qber_z == 0.0
    assert within(result.qber_x, 0.5, result.key.sample_size)
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
    assert within(result.qber_x, (1 - overlap) / 2, result.key.sample_size)
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
    assert within(shots.qber_z, 0.06, shots.key.sample_size)
    assert np.isfinite(shots.qber_x)
