"""The backend engine on fake devices: S inside the predicted band, mitigation, shots, info."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup

SIGMAS = 4.0  # see conftest.py: band checks on unseeded fake-device outcomes


def test_raw_S_lies_inside_the_predicted_band(chsh_on_fake):
    prediction = chsh_on_fake["engine"].prediction()
    S_raw, stderr = chsh_on_fake["S_raw"], chsh_on_fake["stderr"]
    assert prediction.contains(S_raw, stderr, sigmas=SIGMAS), (S_raw, stderr, prediction.interval(stderr))
    assert S_raw > 2.0  # S_raw ~ 2.71-2.74 here; an upper bound at Tsirelson would test sampling noise


def test_mitigation_raises_S_into_its_band(chsh_on_fake):
    # Readout flips only shrink the correlators, so undoing them raises S (by ~0.07-0.1 here,
    # > 3 standard errors; never below +0.04 in 2e5 simulated runs). Whether the mitigated value
    # lands nearer to Tsirelson than the raw one is left to sampling noise: not asserted.
    prediction = chsh_on_fake["engine"].prediction()
    S, S_raw, S_stderr = chsh_on_fake["S"], chsh_on_fake["S_raw"], chsh_on_fake["S_stderr"]
    assert S > S_raw
    assert prediction.contains(S, S_stderr, sigmas=SIGMAS, mitigated=True), (
        S,
        prediction.interval(S_stderr, sigmas=SIGMAS, mitigated=True),
    )


def test_confusion_matrices_match_the_pair_readout_errors(chsh_on_fake):
    engine = chsh_on_fake["engine"]
    m_a, m_b = engine.readout_confusion()
    for m, (p01, p10) in zip((m_a, m_b), engine.figures.readout, strict=True):
        assert m.sum(axis=0) == pytest.approx([1, 1])
        assert m[1, 0] == pytest.approx(p01, abs=5 * math.sqrt(p01 / 8000) + 1e-3)
        assert m[0, 1] == pytest.approx(p10, abs=5 * math.sqrt(p10 / 8000) + 1e-3)


def test_info_is_json_safe_and_complete(chsh_on_fake):
    info = chsh_on_fake["engine"].info()
    json.dumps(info, allow_nan=False)
    for key in (
        "backend",
        "qubits",
        "pair_errors",
        "predicted_S",
        "predicted_S_band",
        "job_ids",
        "predicted_S_mitigated",
        "execution",
    ):
        assert key in info
    assert info["engine"] == "backend" and len(info["job_ids"]) == 1
    assert info["shots_per_circuit"] == [4000]
    assert "executor_sampler" in info["execution"]


def test_unequal_shots_share_one_job_and_are_subsampled(manila_engine):
    before = len(manila_engine.job_ids)
    shots = [0, 5, 1200, 37]
    pairs = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (2.0, 2.0)]
    drawn = manila_engine.sample(PairSetup("psi-"), pairs, shots, np.random.default_rng(3))
    assert [d.size for d in drawn] == shots
    assert all(d.dtype == np.uint8 and (d < 4).all() for d in drawn)
    assert len(manila_engine.job_ids) == before + 1
    assert manila_engine.info()["shots_per_circuit"][-1] == 1200  # max(requests, calibration 1000)
    # psi- anticorrelates in Z: (0, 0) -> mostly codes 1 and 2
    z = drawn[2]  # (1.0, 0.0): not informative; check the generic outcomes API instead
    assert z.size == 1200


def test_outcomes_api_groups_rounds(manila_engine):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, 600)
    y = rng.integers(0, 2, 600)
    codes = manila_engine.outcomes(PairSetup("psi-"), (0.0, math.pi / 2), (0.0, math.pi / 2), x, y, rng)
    same = (x == 0) & (y == 0)
    anti = np.isin(codes[same], (1, 2)).mean()
    assert codes.shape == (600,) and anti > 0.85


def test_run_chsh_integration(manila_engine):
    chsh = pytest.importorskip("qentangle.protocols.chsh")
    result = chsh.run_chsh("phi+", shots=4000, engine=manila_engine, seed=2, settings="balanced")
    info = result.engine_info
    prediction = manila_engine.prediction("phi+")
    assert prediction.contains(result.S_raw, result.S_raw_stderr, sigmas=SIGMAS)
    assert result.S > result.S_raw
    assert prediction.contains(result.S, result.S_stderr, sigmas=SIGMAS, mitigated=True)
    assert result.S_stderr > result.S_raw_stderr  # mitigation amplifies, calibration adds error
    assert info["backend"] == "fake_manila" and info["job_ids"]
    # predicted_S is the raw prediction everywhere; the mitigated one has its own keys
    data = result.to_dict()
    assert result.predicted_S == data["predicted_S"] == info["predicted_S"] == prediction.S
    assert data["predicted_S_band"] == [prediction.S_low, prediction.S_high]
    assert data["predicted_S_mitigated"] == prediction.S_mitigated
    assert data["predicted_S_mitigated_band"] == [prediction.S_mitigated_low, prediction.S_mitigated_high]
    low, high = data["predicted_S_band"]
    assert low <= data["predicted_S"] <= high


def test_custom_angles_are_predicted_from_the_device_noise(manila_engine):
    from qentangle.ibm.prediction import noise_from_errors
    from qentangle.protocols.chsh import run_chsh
    from qentangle.theory import predicted_S

    angles = (0.0, math.pi / 2, 0.5, 2.0)
    result = run_chsh("phi+", angles=angles, shots=400, engine=manila_engine, seed=1, settings="balanced")
    at_angles = manila_engine.prediction("phi+", angles)
    closed = predicted_S("phi+", angles, noise_from_errors(manila_engine.figures, at_angles.n1))
    assert result.predicted_S == pytest.approx(closed, abs=1e-9)  # the closed form of its noise
    assert result.predicted_S < manila_engine.prediction("phi+").S  # not the optimal-angle value
    assert result.predicted_S < predicted_S("phi+", angles)  # and not noiseless theory
    data = result.to_dict()
    assert data["predicted_S_band"] == [at_angles.S_low, at_angles.S_high]
    assert data["predicted_S_band"][0] < data["predicted_S"] < data["predicted_S_band"][1]
    low, high = data["predicted_S_mitigated_band"]
    assert low < data["predicted_S_mitigated"] < high


def test_whole_device_simulation_agrees(manila_engine, measure_chsh):
    from qentangle.ibm import BackendEngine

    engine = BackendEngine(
        "fake_manila", qubits=manila_engine.qubits, simulation="device", record=False, calibration_shots=2000
    )
    measured = measure_chsh(engine, shots=2000)
    assert engine.prediction().contains(measured["S_raw"], measured["stderr"], sigmas=SIGMAS)
    assert "whole fake device" in engine.info()["execution"]


@pytest.mark.parametrize(
    ("setup", "match"),
    [(PairSetup("phi+", NoiseConfig(depolarizing=0.1)), "device is the noise")],
)
def test_simulated_noise_is_refused(manila_engine, setup, match):
    with pytest.raises(ValidationError, match=match):
        manila_engine.sample(setup, [(0.0, 0.0)], [10], np.random.default_rng(0))


def test_stages_are_refused(manila_engine):
    from qentangle.pairs import CircuitStage

    class Stage:
        num_ancillas = 0
        replaces_source = False

        def apply(self, qc, alice, bob, ancillas):
            qc.x(bob)

        def __hash__(self):
            return 1

    assert isinstance(Stage(), CircuitStage)
    with pytest.raises(ValidationError, match="stages"):
        manila_engine.sample(
            PairSetup("phi+", stages=(Stage(),)), [(0.0, 0.0)], [10], np.random.default_rng(0)
        )


def test_large_requests_run_in_copies_within_one_job_and_rebuild():
    from qentangle.ibm import BackendEngine, jobs

    engine = BackendEngine("fake_manila", max_shots=500, calibration_shots=100)
    pairs = [(0.0, 0.0), (1.0, 1.0)]
    drawn = engine.sample(PairSetup("phi+"), pairs, [1201, 30], np.random.default_rng(0))
    assert [d.size for d in drawn] == [1201, 30] and len(engine.job_ids) == 1
    assert engine.info()["shots_per_circuit"] == [401]
    entries = jobs.read_entries()
    assert entries[0]["repeats"] == [3, 1] and len(entries[1]["counts"]) == 3 + 1 + 4
    rebuilt = jobs.fetch(engine.job_ids[0])
    assert [sum(c) for c in rebuilt.counts] == [1201, 30]
    assert rebuilt.counts[0] == tuple(np.bincount(drawn[0], minlength=4))


def test_too_many_circuits_is_a_clear_error():
    from qentangle.ibm import BackendEngine

    engine = BackendEngine("fake_manila", record=False, max_shots=10, max_circuits=20, calibration_shots=10)
    with pytest.raises(ValidationError, match="max_circuits=20"):
        engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [501], np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"calibration_shots": 0}, "calibration_shots"),
        ({"optimization_level": 4}, "optimization_level"),
        ({"simulation": "magic"}, "simulation"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_constructor_validation(kwargs, match):
    from qentangle.ibm import BackendEngine

    with pytest.raises(ValidationError, match=match):
        BackendEngine("fake_manila", record=False, **kwargs)


def test_our_calls_raise_no_deprecation_warnings():
    from qentangle.ibm import BackendEngine

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", PendingDeprecationWarning)
        engine = BackendEngine("fake_manila", record=True, calibration_shots=50)
        engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [50], np.random.default_rng(0))
        engine.info()
