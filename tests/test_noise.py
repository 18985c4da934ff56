"""NoiseConfig validation, serialisation, channel instructions and the density matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import transpile
from qiskit_aer import AerSimulator

from qentangle.errors import ValidationError
from qentangle.noise import NoiseConfig
from qentangle.pairs import PairSetup, pair_circuit
from qentangle.states import BELL_STATES
from qentangle.theory import predicted_density_matrix

PROBABILITY_FIELDS = (
    "depolarizing", "accidental", "dephasing_a", "dephasing_b",
    "amplitude_damping_a", "amplitude_damping_b",
)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
readout = st.tuples(unit, unit)
angle_deg = st.floats(min_value=-360.0, max_value=360.0, allow_nan=False)

noise_configs = st.builds(
    NoiseConfig,
    depolarizing=unit, accidental=unit,
    depolarizing_a=st.floats(0, 4 / 3), depolarizing_b=st.floats(0, 4 / 3),
    dephasing_a=unit, dephasing_b=unit,
    amplitude_damping_a=unit, amplitude_damping_b=unit,
    misalignment_a_deg=angle_deg, misalignment_b_deg=angle_deg,
    readout_a=readout, readout_b=readout,
)


@given(noise=noise_configs)
def test_dict_and_toml_round_trip(noise):
    assert NoiseConfig.from_dict(noise.to_dict()) == noise
    assert NoiseConfig.from_toml(noise.to_toml()) == noise


@given(noise=noise_configs)
def test_to_dict_is_json_safe(noise):
    import json

    assert NoiseConfig.from_dict(json.loads(json.dumps(noise.to_dict()))) == noise


@pytest.mark.parametrize("name", PROBABILITY_FIELDS)
@given(value=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1 + 1e-9), st.just(math.nan)))
def test_probabilities_outside_unit_interval_are_rejected(name, value):
    with pytest.raises(ValidationError, match=name):
        NoiseConfig(**{name: value})


@pytest.mark.parametrize("name", PROBABILITY_FIELDS)
@given(value=unit)
def test_probabilities_inside_unit_interval_are_accepted(name, value):
    assert getattr(NoiseConfig(**{name: value}), name) == value


@pytest.mark.parametrize("arm", "ab")
@given(value=st.one_of(st.floats(min_value=360.001), st.floats(max_value=-360.001),
                       st.sampled_from([math.inf, math.nan])))
def test_misalignment_out_of_range_is_rejected(arm, value):
    with pytest.raises(ValidationError, match=f"misalignment_{arm}_deg"):
        NoiseConfig(**{f"misalignment_{arm}_deg": value})


@pytest.mark.parametrize("arm", "ab")
@given(pair=st.tuples(st.floats(min_value=1.0001, max_value=1e6), unit))
def test_readout_out_of_range_is_rejected(arm, pair):
    with pytest.raises(ValidationError, match=f"readout_{arm}"):
        NoiseConfig(**{f"readout_{arm}": pair})
    with pytest.raises(ValidationError, match=f"readout_{arm}"):
        NoiseConfig(**{f"readout_{arm}": pair[::-1]})


def test_readout_shape_and_kind_errors():
    with pytest.raises(ValidationError, match="readout_a"):
        NoiseConfig(readout_a=(0.1, 0.2, 0.3))
    with pytest.raises(ValidationError, match="not a number"):
        NoiseConfig(depolarizing="lots")
    with pytest.raises(ValidationError, match="not a number"):
        NoiseConfig(depolarizing=True)


def test_unknown_keys_and_bad_toml_are_rejected():
    with pytest.raises(ValidationError, match=r"noise\.colour"):
        NoiseConfig.from_dict({"colour": 1})
    with pytest.raises(ValidationError, match="TOML"):
        NoiseConfig.from_toml("depolarizing = = 1")
    with pytest.raises(ValidationError, match="depolarizing"):
        NoiseConfig.from_toml("[noise]\ndepolarizing = 3.0\n")


@given(p01=unit, p10=unit)
def test_confusion_matrix_is_stochastic(p01, p10):
    noise = NoiseConfig(readout_a=(p01, p10))
    m = noise.confusion_matrix("a")
    assert np.allclose(m.sum(axis=0), 1)
    assert m[1, 0] == p01 and m[0, 1] == p10  # M[read, true]


def test_properties():
    assert NoiseConfig().is_ideal and not NoiseConfig().has_quantum_noise
    ro = NoiseConfig.symmetric_readout(0.1)
    assert ro.has_readout_error and not ro.has_quantum_noise
    assert NoiseConfig(dephasing_b=0.1).has_quantum_noise
    assert NoiseConfig().describe() == "noiseless"
    assert "dephasing_b=0.1" in NoiseConfig(dephasing_b=0.1).describe()


def test_every_channel_becomes_an_instruction_that_survives_transpilation():
    noise = NoiseConfig(depolarizing=0.1, accidental=0.05, depolarizing_a=0.1, dephasing_b=0.2,
                        amplitude_damping_a=0.3, misalignment_b_deg=5)
    assert len(noise.instructions()) == 6
    qc = pair_circuit(PairSetup("phi+", noise), 0.1, 0.2, measure=True)
    compiled = transpile(qc, AerSimulator(method="density_matrix"), optimization_level=3)
    assert sum(inst.operation.name == "quantum_channel" for inst in compiled.data) == 5


def _qiskit_to_alice_first(rho: np.ndarray) -> np.ndarray:
    """Qiskit index 2*bob + alice -> index 2*alice + bob."""
    order = [0, 2, 1, 3]
    return rho[np.ix_(order, order)]


@settings(max_examples=15, deadline=None)
@given(noise=noise_configs, state=st.sampled_from(BELL_STATES))
def test_closed_form_density_matrix_equals_aer(exact_engine, noise, state):
    aer = _qiskit_to_alice_first(exact_engine.density_matrix(PairSetup(state, noise)))
    assert np.allclose(predicted_density_matrix(state, noise), aer, atol=1e-9)


@pytest.mark.parametrize("state", BELL_STATES)
def test_depolarizing_gives_a_werner_state(state, exact_engine):
    p = 0.3
    rho = _qiskit_to_alice_first(exact_engine.density_matrix(PairSetup(state, NoiseConfig(depolarizing=p))))
    pure = predicted_density_matrix(state)
    assert np.allclose(rho, (1 - p) * pure + p * np.eye(4) / 4, atol=1e-12)
    fidelity = float(np.real(np.trace(pure @ rho)))
    assert fidelity == pytest.approx(1 - 3 * p / 4)


def test_noise_imports_no_qiskit_until_an_instruction_is_built():
    """NoiseConfig is a front-door name: importing it stays fast (the Kraus operators are numpy)."""
    import subprocess
    import sys

    code = ("import sys, qentangle.noise as n; n.NoiseConfig(depolarizing=0.1).channels(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'qiskit', 'qiskit_aer'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip() == "[]"
