"""Satellite passes: counts follow the link model, presets reproduce the published figures."""

import math

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.protocols.satellite import run_pass
from qentangle.scenarios.compare import comparable_figures, compare

SEEDS = (1, 2, 3)
REQUIRED_KEYS = {
    "scenario",
    "duration_s",
    "loss_db_min",
    "loss_db_max",
    "coincidences",
    "coincidence_rate_hz",
    "accidental_rate_hz",
    "sifted_rate_hz",
    "qber",
    "asymptotic_key_rate_bps",
    "finite_key_rate_bps",
    "final_key_bits",
}


@pytest.fixture(scope="module")
def passes_2020():
    return [run_pass("micius-2020", seed=seed) for seed in (1, 2, 3, 4, 5)]


def test_pass_json_has_every_documented_key(passes_2020):
    data = passes_2020[0].to_dict()
    assert REQUIRED_KEYS <= set(data)
    assert data["duration_s"] == pytest.approx(3100.0)


def test_counts_are_poisson_around_the_link_model(passes_2020):
    for result in passes_2020:
        data = result.to_dict()
        expected = data["expected"]["coincidence_rate_hz"] * data["duration_s"]
        assert abs(data["coincidences"] - expected) <= 4 * math.sqrt(expected)
        expected_acc = data["expected"]["accidental_rate_hz"] * data["duration_s"]
        assert abs(data["accidental_coincidences"] - expected_acc) <= 4 * math.sqrt(expected_acc)


def test_measured_qber_matches_the_link_model(passes_2020):
    for result in passes_2020:
        data = result.to_dict()
        n = data["protocol_result"]["sifted_bits"]
        expected = data["expected"]["qber"]
        assert abs(data["qber"] - expected) <= 4 * math.sqrt(expected * (1 - expected) / n)


def test_micius_2020_reproduces_the_published_figures(passes_2020):
    """Every seed's rates are within their margins; key figures within them on average."""
    rows_per_seed = [
        compare("micius-2020", lambda _n, r=r: comparable_figures(r.to_dict())) for r in passes_2020
    ]
    for rows in rows_per_seed:
        rates = [row for row in rows if "key" not in row.quantity]
        assert all(row.within for row in rates), [row for row in rates if not row.within]
    for index, first in enumerate(rows_per_seed[0]):
        mean = float(np.mean([rows[index].model for rows in rows_per_seed]))
        tolerance = float(first.margin.strip("+-%")) / (100 if first.margin.endswith("%") else 1)
        limit = tolerance * first.published if first.margin.endswith("%") else tolerance
        assert abs(mean - first.published) <= limit, (first.quantity, mean)
    assert all(r.to_dict()["protocol_result"]["keys_match"] for r in passes_2020)


@pytest.mark.parametrize("seed", SEEDS)
def test_micius_2017_bell_test_matches_expected_s(seed):
    data = run_pass("micius-2017", seed=seed).to_dict()
    assert abs(data["S"] - data["expected"]["chsh"]) <= 4 * data["S_stderr"]
    assert abs(data["expected"]["chsh"] - 2.37) <= 0.09  # published S = 2.37 +- 0.09


def test_doubling_the_pair_rate_doubles_coincidences():
    base = run_pass("micius-2020", seed=7).to_dict()
    double = run_pass("micius-2020", seed=7, overrides=["source.pair_rate_hz=1.18e7"]).to_dict()
    ratio = double["true_coincidences"] / base["true_coincidences"]
    assert abs(ratio - 2.0) <= 4 * 2.0 * math.sqrt(
        1 / base["true_coincidences"] + 1 / double["true_coincidences"]
    )
    assert double["expected"]["true_coincidence_rate_hz"] == pytest.approx(
        2 * base["expected"]["true_coincidence_rate_hz"]
    )


def test_three_db_on_one_link_halves_coincidences():
    base = run_pass("micius-2020", seed=8).to_dict()
    lossy = run_pass("micius-2020", seed=8, overrides=["stations.alice.optics_efficiency=0.145"]).to_dict()
    assert lossy["expected"]["true_coincidence_rate_hz"] == pytest.approx(
        0.5 * base["expected"]["true_coincidence_rate_hz"]
    )
    ratio = lossy["true_coincidences"] / base["true_coincidences"]
    assert abs(ratio - 0.5) <= 4 * 0.5 * math.sqrt(
        1 / base["true_coincidences"] + 1 / lossy["true_coincidences"]
    )


def test_bad_override_names_the_field():
    with pytest.raises(ValidationError, match=r"source\.pair_rate_hz"):
        run_pass("micius-2020", overrides=["source.pair_rate_hz=-5"])


def test_accidentals_alone_give_random_bits_and_an_abort():
    data = run_pass("micius-2020", seed=1, overrides=["source.pair_rate_hz=0"]).to_dict()
    assert data["true_coincidences"] == 0 and data["accidental_coincidences"] > 0
    assert abs(data["qber"] - 0.5) < 0.25 and data["aborted"] and data["final_key_bits"] == 0


def test_a_pass_without_light_is_a_clear_error():
    dark = [
        "source.pair_rate_hz=0",
        "detectors.dark_count_hz=0",
        "stations.alice.background_night_hz=0",
        "stations.bob.background_night_hz=0",
    ]
    with pytest.raises(ValidationError, match="no coincidence"):
        run_pass("micius-2020", seed=1, overrides=dark)
