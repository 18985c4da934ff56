"""One sifting definition: the party program, the in-process protocols, the click path and the stations."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from qentangle.channel import ClassicalChannel
from qentangle.channel_transport import run_lockstep
from qentangle.protocols import clicks
from qentangle.protocols.e91 import ALICE_ANGLES, BOB_ANGLES, BOB_FRAME
from qentangle.protocols.sifting import (
    bbm92_sift,
    bbm92_sift_party,
    bob_flips,
    e91_masks,
    e91_sift,
)
from qentangle.states import BASIS_ANGLES, BELL_STATES, ideal_correlator

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("state", BELL_STATES)
def test_bob_flips_are_the_anti_correlated_bases_of_each_state(state):
    expected = [int(ideal_correlator(state, b, b) < 0) for b in BASIS_ANGLES]
    assert bob_flips(state).tolist() == expected


def _ideal_rounds(rng, n, state, angles_a, angles_b):
    """Settings uniform at each side, outcomes of the noiseless ``state`` (E = ideal correlator)."""
    sa = rng.integers(0, len(angles_a), n).astype(np.uint8)
    sb = rng.integers(0, len(angles_b), n).astype(np.uint8)
    e = np.array([[ideal_correlator(state, a, b) for b in angles_b] for a in angles_a])[sa, sb]
    bits_a = rng.integers(0, 2, n).astype(np.uint8)
    differ = rng.random(n) > (1 + e) / 2
    return sa, bits_a, sb, (bits_a ^ differ).astype(np.uint8)


@pytest.mark.parametrize("state", BELL_STATES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_party_program_in_lockstep_gives_what_each_side_sifts_alone(state, seed):
    rng = np.random.default_rng(seed)
    sa, bits_a, sb, bits_b = _ideal_rounds(rng, 5000, state, BASIS_ANGLES, BASIS_ANGLES)
    channel = ClassicalChannel.with_random_key(np.random.default_rng(seed))
    (key_a, labels_a), (key_b, labels_b) = run_lockstep(
        channel,
        lambda end: bbm92_sift_party(end, sa, bits_a, state),
        lambda end: bbm92_sift_party(end, sb, bits_b, state),
    )
    alone_a = bbm92_sift("alice", sa, sb, bits_a, bob_flips(state))
    alone_b = bbm92_sift("bob", sb, sa, bits_b, bob_flips(state))
    assert np.array_equal(key_a, alone_a[0]) and np.array_equal(labels_a, alone_a[1])
    assert np.array_equal(key_b, alone_b[0]) and np.array_equal(labels_b, alone_b[1])
    assert np.array_equal(labels_a, labels_b)
    assert np.array_equal(key_a, key_b)  # noiseless: Bob's flips make the keys equal
    assert [m.kind for m in channel.transcript] == ["sift/settings", "sift/settings"]
    kept = int(np.count_nonzero(sa == sb))  # binomial(n, 1/2)
    assert labels_a.size == kept and abs(kept - 2500) <= 5 * math.sqrt(5000 / 4)


def test_the_stations_run_the_shared_party_program():
    from qentangle.network import station

    assert station.sift_party is bbm92_sift_party
    source = open(station.__file__, encoding="utf-8").read()
    assert "bbm92_sift_party(end, settings, bits)" in source


@pytest.mark.parametrize("state", BELL_STATES)
def test_e91_sift_keys_only_on_its_key_pairs_and_bob_flips_anti_correlated_states(state):
    rng = np.random.default_rng(4)
    sign, orientation = BOB_FRAME[state]
    bob_angles = tuple(sign * b for b in BOB_ANGLES)
    sa, bits_a, sb, bits_b = _ideal_rounds(rng, 9000, state, ALICE_ANGLES, bob_angles)
    for pairs in (((2, 1),), ((1, 0), (2, 1))):
        key_a, mask_a, test_a = e91_sift("alice", sa, sb, bits_a, pairs, orientation)
        key_b, mask_b, test_b = e91_sift("bob", sa, sb, bits_b, pairs, orientation)
        assert np.array_equal(mask_a, mask_b) and np.array_equal(test_a, test_b)
        assert np.array_equal(key_a, key_b)
        assert set(zip(sa[mask_a].tolist(), sb[mask_a].tolist(), strict=True)) == set(pairs)
        assert not np.any(sa[test_a] == 1) and not np.any(sb[test_a] == 1)
    assert np.array_equal(e91_masks(sa, sb)[0], e91_sift("alice", sa, sb, bits_a, ((1, 0), (2, 1)), 1.0)[1])


def _click_e91(seed, state="phi+", **kwargs):
    rng = np.random.default_rng(100 + seed)
    sign, _ = BOB_FRAME[state]
    bob_angles = tuple(sign * b for b in BOB_ANGLES)
    n = 40_000
    sa, bits_a, sb, bits_b = _ideal_rounds(rng, n, state, ALICE_ANGLES, bob_angles)
    parties = clicks.open_parties(seed)
    return n, clicks._e91(parties, state, sa, bits_a, sb, bits_b, None, 3.0, False, **kwargs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clicks_e91_keys_on_chsh_inputs_by_default_and_splits_the_phase_budget(seed, monkeypatch):
    seen = []
    real = clicks.phase_error_failure

    def recording(eps, **kwargs):
        seen.append(kwargs)
        return real(eps, **kwargs)

    monkeypatch.setattr(clicks, "phase_error_failure", recording)
    n, result = _click_e91(seed)
    assert seen == [{"estimates": 2}]  # as run_e91: S's bound and the key sample share the budget
    data = result.to_dict()
    assert data["key_rounds"] == "chsh-inputs"
    assert data["key_bits_covered_by_chsh_bound"] == result.sifted_bits
    assert data["key_bits_basis_symmetry_only"] == 0
    # one setting pair of nine gives key: binomial(n, 1/9), within 5 standard errors
    assert abs(result.sifted_bits - n / 9) <= 5 * math.sqrt(n * (1 / 9) * (8 / 9))
    assert abs(result.S - 2 * math.sqrt(2)) <= 4 * result.S_stderr
    assert not result.aborted and data["keys_match"]

    _, every = _click_e91(seed, key_rounds="all")
    assert abs(every.sifted_bits - 2 * n / 9) <= 5 * math.sqrt(n * (2 / 9) * (7 / 9))
    assert every.key_bits_covered == result.sifted_bits  # the same data: Alice's pi/2 rounds


def test_the_key_stage_and_the_stations_import_no_qiskit():
    code = (
        "import sys, qentangle.protocols.keying, qentangle.protocols.sifting, qentangle.network.station; "
        "print(sorted(m for m in sys.modules if m.startswith('qiskit'))[:3])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
    from qentangle import analysis, states

    assert states.BASIS_NAMES is analysis.BASIS_NAMES and states.BASIS_ANGLES is analysis.BASIS_ANGLES
