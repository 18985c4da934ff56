"""Explicit randomness: one seed becomes independent generators for every party, in one layout.

**The seed layout.** A ``seed`` (int, :class:`numpy.random.SeedSequence`, or None for OS
entropy) becomes a SeedSequence; its children, by fixed index, are the named streams of
:class:`PartyStreams`:

====  ===========  =====================================================================
 #    stream       draws
====  ===========  =====================================================================
 0    ``alice``    Alice's setting choices (and her side of any random protocol step)
 1    ``bob``      Bob's setting choices
 2    ``nature``   the outcomes: the engine's draws (exact engine thresholds, shot seeds)
 3    ``channel``  the authenticated channel's pre-shared key and the chain's public hashes
 4    ``link``     scenario-level draws before the protocol, e.g. a pass's Poisson counts
====  ===========  =====================================================================

Every entry point uses this layout (``run_chsh``, ``chsh_sweep``, the protocol sessions,
``run_pass``, ``qentangle distill``), so the same ``--seed`` gives Alice the same stream
everywhere. Child ``i`` is ``SeedSequence(entropy, spawn_key=parent.spawn_key + (i,))``, the
child that ``parent.spawn`` would give a fresh sequence; :func:`party_streams` computes it
without spawning, so calling it twice on one SeedSequence gives the same streams (a pass draws
its counts from ``link`` and hands the same sequence to the protocol, which uses 0..3).

>>> streams = party_streams(7)
>>> streams.alice.random() == party_streams(7).alice.random()
True
>>> streams.bob.random() != party_streams(7).alice.random()
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qentangle.errors import ValidationError

SeedLike = int | np.random.SeedSequence | None
#: Child index of each named stream (the documented layout; never reorder).
STREAM_INDEX: dict[str, int] = {"alice": 0, "bob": 1, "nature": 2, "channel": 3, "link": 4}


class PartyStreams(NamedTuple):
    """Independent generators of one run, by role (see the module's table)."""

    alice: np.random.Generator
    bob: np.random.Generator
    nature: np.random.Generator
    channel: np.random.Generator
    link: np.random.Generator


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn ``seed`` (int, SeedSequence or None for OS entropy) into a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValidationError(f"seed={seed!r} is not valid: expected a non-negative integer or None")
    return np.random.SeedSequence(int(seed))


def child_sequence(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``parent``, computed (not spawned): the same on every call.

    >>> parent = np.random.SeedSequence(3)
    >>> child_sequence(parent, 1).generate_state(1) == parent.spawn(2)[1].generate_state(1)
    array([ True])
    """
    return np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, index), pool_size=parent.pool_size
    )


def party_streams(seed: SeedLike) -> PartyStreams:
    """The named generators of one run from one seed, in the documented layout.

    ``seed=None`` draws fresh OS entropy (a new layout per call); to share one unseeded
    layout between two calls, pass the same SeedSequence to both.
    """
    parent = seed_sequence(seed)
    return PartyStreams(
        *(np.random.default_rng(child_sequence(parent, STREAM_INDEX[name])) for name in PartyStreams._fields)
    )


def spawn_generators(seed: SeedLike, count: int) -> list[np.random.Generator]:
    """Return ``count`` independent generators spawned from one seed (for ad-hoc uses).

    Protocols and entry points use :func:`party_streams` instead, so streams have names.

    >>> alice, bob = spawn_generators(7, 2)
    >>> alice.integers(0, 2, 4).tolist() != bob.integers(0, 2, 4).tolist()
    True
    """
    return [np.random.default_rng(child) for child in seed_sequence(seed).spawn(count)]


def child_seed(rng: np.random.Generator) -> int:
    """Draw a fresh 63-bit seed for a simulator run from ``rng`` (never reuse a fixed one)."""
    return int(rng.integers(0, 2**63 - 1))
