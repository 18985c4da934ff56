"""Sifting: which rounds become key, one definition for every way of running a protocol.

Each endpoint holds its own settings and outcomes and learns the other's settings from the
public discussion. The functions here decide, from those two arrays alone, which of its rounds
give key and which test S; every path uses them:

* :func:`~qentangle.protocols.bbm92.run_bbm92` and :func:`~qentangle.protocols.e91.run_e91`
  (drawn rounds, settings announced chunk by chunk over the session's channel),
* :mod:`qentangle.protocols.clicks` (rounds from time-tag coincidences),
* the network stations (:mod:`qentangle.network.station`), which run
  :func:`bbm92_sift_party` over TCP, the same party program that the click path runs in
  lockstep in one process (:func:`qentangle.channel_transport.run_lockstep`).

**BBM92.** Rounds whose bases match are kept; the public label of a kept round is its basis
(0 = Z, 1 = X, :data:`qentangle.analysis.BASIS_NAMES`). Bob flips his bit in a basis where the
ideal state is anti-correlated (:func:`bob_flips`), so both sides hold the same bit when there
is no error.

**E91.** Alice measures at {0, pi/4, pi/2}, Bob at {pi/4, pi/2, 3pi/4} (indices 0, 1, 2). The
key comes from the equal-angle ``key_pairs`` (by default only Alice's pi/2, a CHSH input, see
:data:`qentangle.protocols.e91.KEY_ROUNDS`); the test rounds are those where neither chose
index 1. Bob flips his key bits when the state is anti-correlated (``orientation < 0``).

Pure numpy: importing this module (like the key stage) pulls in no Qiskit.

>>> alice_settings = np.array([0, 1, 1, 0], dtype=np.uint8)
>>> bob_settings = np.array([0, 1, 0, 1], dtype=np.uint8)
>>> bits = np.array([1, 0, 1, 1], dtype=np.uint8)
>>> key, labels = bbm92_sift("bob", bob_settings, alice_settings, bits, bob_flips("psi-"))
>>> key.tolist(), labels.tolist()  # psi-: anti-correlated in Z and X, so Bob flips both
([0, 1], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qentangle.analysis import BELL_ZZ_XX
from qentangle.channel_transport import PartyEnd, PartyProgram, Recv
from qentangle.errors import check_choice

#: E91's equal-angle setting pairs (Alice index, Bob index) and the CHSH test pairs.
E91_KEY_PAIRS: tuple[tuple[int, int], ...] = ((1, 0), (2, 1))
E91_TEST_SETTING = 1  # the setting index that is never a test input, at either side


def bob_flips(state: str) -> np.ndarray:
    """Bob's flip per basis (Z, X): 1 where ``state`` is anti-correlated at equal angles.

    >>> bob_flips("phi+").tolist(), bob_flips("psi+").tolist()
    ([0, 0], [1, 0])
    """
    zz, xx = BELL_ZZ_XX[check_choice("state", state, tuple(BELL_ZZ_XX))]
    return np.array([zz < 0, xx < 0], dtype=np.uint8)


def flip_by_basis(bits: np.ndarray, bases: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """``bits`` with the flip of each bit's basis applied (no table look-up per bit)."""
    if flips[0] == flips[1]:
        return bits ^ flips[0] if flips[0] else bits
    return bits ^ (bases if flips[1] else bases ^ 1)


def bbm92_sift(
    role: str, settings: np.ndarray, other_settings: np.ndarray, bits: np.ndarray, flips: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One endpoint's BBM92 sifting: its key bits and their public bases, in round order.

    ``settings`` and ``bits`` are this endpoint's own; ``other_settings`` what the other
    announced. Bob (``role="bob"``) applies ``flips`` (see :func:`bob_flips`).
    """
    kept = settings == other_settings  # (ndarray.compress: as boolean indexing, several times faster)
    labels = settings.compress(kept)
    key = bits.compress(kept)
    if role == "bob":
        key = flip_by_basis(key, labels, flips)
    return key, labels


def bbm92_sift_party(
    end: PartyEnd, settings: np.ndarray, bits: np.ndarray, state: str = "phi+"
) -> PartyProgram[tuple[np.ndarray, np.ndarray]]:
    """One endpoint's half of BBM92 sifting as a party program: Alice announces her bases,
    Bob his, each keeps the matching rounds (:func:`bbm92_sift`).

    Run in lockstep in one process (the click path) or over TCP (the network stations).

    >>> from qentangle.channel import ClassicalChannel
    >>> from qentangle.channel_transport import run_lockstep
    >>> channel = ClassicalChannel.with_random_key(np.random.default_rng(1))
    >>> a, b = np.array([0, 1, 1], np.uint8), np.array([0, 0, 1], np.uint8)
    >>> (ka, la), (kb, lb) = run_lockstep(
    ...     channel, lambda e: bbm92_sift_party(e, a, a), lambda e: bbm92_sift_party(e, b, b)
    ... )
    >>> la.tolist() == lb.tolist() == [0, 1], ka.tolist() == kb.tolist()
    (True, True)
    """
    flips = bob_flips(state)
    packed = np.packbits(settings & 1)
    count = settings.size
    if end.role == "alice":
        end.send("alice", "sift/settings", packed)
        other = np.unpackbits((yield Recv("sift/settings")), count=count)
    else:
        other = np.unpackbits((yield Recv("sift/settings")), count=count)
        end.send("bob", "sift/settings", packed)
    return bbm92_sift(end.role, settings, other, bits, flips)


def e91_masks(
    settings_a: np.ndarray, settings_b: np.ndarray, key_pairs: tuple[tuple[int, int], ...] = E91_KEY_PAIRS
) -> tuple[np.ndarray, np.ndarray]:
    """E91's key and test masks from Alice's and Bob's settings (each side computes the same).

    >>> key, test = e91_masks(np.array([2, 1, 0]), np.array([1, 0, 2]), ((2, 1),))
    >>> key.tolist(), test.tolist()
    ([True, False, False], [False, False, True])
    """
    key = np.zeros(settings_a.size, dtype=bool)
    for i, j in key_pairs:
        key |= (settings_a == i) & (settings_b == j)
    test = (settings_a != E91_TEST_SETTING) & (settings_b != E91_TEST_SETTING)
    return key, test


def e91_test_index(settings_a: np.ndarray, settings_b: np.ndarray) -> np.ndarray:
    """CHSH pair index ``2 a + b`` of test rounds (Alice's and Bob's index 0 or 2 -> 0 or 1)."""
    return (settings_a >> 1).astype(np.intp) * 2 + (settings_b >> 1)


def e91_sift(
    role: str,
    settings_a: np.ndarray,
    settings_b: np.ndarray,
    bits: np.ndarray,
    key_pairs: tuple[tuple[int, int], ...],
    orientation: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One endpoint's E91 sifting: its key bits, the key mask and the test mask.

    ``settings_a``/``settings_b`` are Alice's and Bob's settings as this endpoint knows them
    (its own and the other's announcement); ``bits`` its own outcomes. Bob flips his key bits
    when ``orientation < 0`` (anti-correlated state).
    """
    key_mask, test_mask = e91_masks(settings_a, settings_b, key_pairs)
    key = bits.compress(key_mask)
    if role == "bob" and orientation < 0:
        key = key ^ 1
    return key, key_mask, test_mask


__all__ = [
    "E91_KEY_PAIRS",
    "bbm92_sift",
    "bbm92_sift_party",
    "bob_flips",
    "e91_masks",
    "e91_sift",
    "e91_test_index",
    "flip_by_basis",
]


@dataclass(frozen=True)
class SiftedBits:
    """Both endpoints' sifted bits, in round order, with the public basis of each (0 = Z, 1 = X).

    A simulation export (``run_bbm92(..., keep_sifted=True)``, ``qentangle bbm92
    --export-sifted DIR``): the raw material that ``qentangle distill`` turns into keys. It is
    key material: it never appears in a repr, a ``to_dict()`` or a log.

    >>> bits = SiftedBits(np.zeros(3, np.uint8), np.zeros(3, np.uint8), np.array([0, 1, 0], np.uint8))
    >>> bits, len(bits)
    (SiftedBits(3 bits), 3)
    """

    alice: np.ndarray = field(repr=False)
    bob: np.ndarray = field(repr=False)
    bases: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.alice.size)

    def __repr__(self) -> str:
        return f"SiftedBits({len(self)} bits)"
