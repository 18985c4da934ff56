"""The one seed layout: named streams, fixed order, the same streams at every entry point."""

from __future__ import annotations

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.rng import STREAM_INDEX, PartyStreams, child_sequence, party_streams, seed_sequence


def _first(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**63))


@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_streams_are_the_spawned_children_in_the_documented_order(seed):
    children = np.random.SeedSequence(seed).spawn(5)
    streams = party_streams(seed)
    assert PartyStreams._fields == ("alice", "bob", "nature", "channel", "link")
    for name, stream in zip(PartyStreams._fields, streams, strict=True):
        assert _first(stream) == _first(np.random.default_rng(children[STREAM_INDEX[name]]))


def test_one_seed_sequence_gives_the_same_streams_twice():
    sequence = np.random.SeedSequence()  # OS entropy, shared by two calls
    first, second = party_streams(sequence), party_streams(sequence)
    assert [_first(g) for g in first] == [_first(g) for g in second]
    nested = child_sequence(sequence, 4)
    assert nested.spawn_key == (*sequence.spawn_key, 4)


def test_streams_differ_between_roles_and_between_seeds():
    values = [_first(g) for g in party_streams(3)]
    assert len(set(values)) == 5
    assert values != [_first(g) for g in party_streams(4)]
    assert [_first(g) for g in party_streams(None)] != [_first(g) for g in party_streams(None)]


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(ValidationError, match="seed"):
        seed_sequence(bad)


def test_entry_points_use_the_layout():
    from qentangle.protocols.chsh import run_chsh
    from qentangle.protocols.session import open_session

    session = open_session(pairs=10, angles_alice=(0.0,), angles_bob=(0.0,), seed=9)
    streams = party_streams(9)
    assert _first(session.alice.rng) == _first(streams.alice)
    assert _first(session.bob.rng) == _first(streams.bob)
    assert _first(session.nature) == _first(streams.nature)
    # run_chsh draws Alice's and Bob's setting bits from their streams: the per-pair counts follow.
    result = run_chsh(shots=1_000, seed=9)
    streams = party_streams(9)
    x, y = streams.alice.integers(0, 2, 1_000), streams.bob.integers(0, 2, 1_000)
    assert [c.n for c in result.correlators] == np.bincount(2 * x + y, minlength=4).tolist()
