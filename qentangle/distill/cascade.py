"""Cascade information reconciliation, vectorised over blocks.

Alice's key never changes; Bob corrects his. Every pass shuffles the key with a public
permutation (Alice sends its seed), splits it into blocks and exchanges block parities; then
all odd blocks of *all* passes are bisected in lock-step (one pair of messages per bisection
level, whatever the number of blocks). A corrected bit flips the parity of the block that
contains it in every other pass, which starts new bisections there (the cascade effect), until
every block of every pass has even error parity.

Leakage: every parity of Alice's key that crosses the channel (block parities and bisection
parities) counts one disclosed bit. Bob's replies say which blocks / halves have odd *error*
parity (Alice's parity XOR Bob's); as is standard for Cascade they carry no further
information about Alice's key beyond the parities already counted and are sent with
``disclosed_bits=0``.

Optimisations (in the spirit of Martinez-Mateo, Pacher, Peev, Ciurana & Pedersen, QIC 15,
453, 2015, "Demystifying the information reconciliation protocol Cascade"): two passes of
small blocks sized from the QBER followed by passes of two blocks of ``n/2`` (see
:func:`block_sizes`); the cascade effect back into every earlier pass; and reuse of every
parity already public: each block's bisection tree is fixed, so a node whose parity of Alice's
key was disclosed (or follows from its parent and sibling) is never asked for again when the
block is bisected anew. All odd blocks of all passes bisect together, one round trip per
tree level, so the number of messages grows with the depth, not with the number of blocks.

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> rng = np.random.default_rng(5)
>>> alice = rng.integers(0, 2, 20000, dtype=np.uint8)
>>> bob = alice ^ (rng.random(20000) < 0.03).astype(np.uint8)
>>> ch = ClassicalChannel.with_random_key(rng)
>>> out = cascade_reconcile(alice, bob, ch, qber=0.03, rng_alice=rng)
>>> bool(np.array_equal(out.bob_key, alice)), out.leaked_bits == ch.disclosed_bits
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.errors import QentangleError, ValidationError, check_positive_int, check_range

DEFAULT_PASSES = 8


def block_sizes(qber: float, n: int, passes: int = DEFAULT_PASSES) -> list[int]:
    """Block size of each pass for an estimated ``qber`` and key length ``n``.

    ``k1 = round(1 / Q)`` (at least 4), ``k2 = 3 k1``, then ``n / 2`` for the other passes:
    the small first blocks correct most errors cheaply, the two-block passes find the rare
    pairs of errors left hidden in even blocks (each hit cascades back into the small
    blocks). Tuned with ``benchmarks/distill.py`` (f ~ 1.04-1.07 at Q = 1-5 %, n = 1e5).

    >>> block_sizes(0.02, 10**5, 4)
    [50, 150, 50000, 50000]
    """
    qber = check_range("qber", qber, 0.0, 0.5)
    n = check_positive_int("n", n, minimum=2)
    passes = check_positive_int("passes", passes)
    q = max(qber, 1e-4)
    half = max(1, n // 2)
    k1 = min(half, max(4, round(1.0 / q)))
    sizes = [k1, min(half, 3 * k1)] + [half] * max(0, passes - 2)
    return sizes[:passes]


class _PublicState:
    """The public bookkeeping both endpoints keep identically from the messages.

    Per pass: the permutation, the block size, the current error parity of every block, and
    which nodes of each block's bisection tree have a disclosed (or derivable) parity of
    Alice's key. Node ids are heap-style per block (root 1, children 2i and 2i+1; the left
    child covers ``[s, s + (e - s) // 2)``), flattened as ``offset[p] + block * stride[p] + node``.
    """

    def __init__(self, n: int, *, keep_values: bool) -> None:
        self.n = n
        self.perms: list[np.ndarray] = []
        self.invs: list[np.ndarray] = []
        self.sizes: list[int] = []
        self.strides: list[int] = []
        self.states: list[np.ndarray] = []
        self.busy: list[np.ndarray] = []
        self.known: list[np.ndarray] = []
        # Bob keeps the values of Alice's known parities; Alice recomputes her own.
        self.keep_values = keep_values
        self.values: list[np.ndarray] = []

    def add_pass(self, seed: int, size: int) -> None:
        perm = np.arange(self.n, dtype=np.int32)
        np.random.default_rng(seed).shuffle(perm)
        inv = np.empty_like(perm)
        inv[perm] = np.arange(self.n, dtype=np.int32)
        nblocks = -(-self.n // size)
        stride = 2 << max(0, (size - 1).bit_length())  # heap ids of a tree of depth ceil(log2 k)
        self.perms.append(perm)
        self.invs.append(inv)
        self.sizes.append(size)
        self.strides.append(stride)
        self.states.append(np.zeros(nblocks, dtype=np.uint8))
        self.busy.append(np.zeros(nblocks, dtype=bool))
        self.known.append(np.zeros(nblocks * stride, dtype=bool))
        if self.keep_values:
            self.values.append(np.zeros(nblocks * stride, dtype=np.uint8))

    def node_index(self, pss: np.ndarray, s: np.ndarray, node: np.ndarray) -> np.ndarray:
        """Index of tree ``node`` of the block starting at ``s`` within its pass's arrays."""
        sizes = np.asarray(self.sizes, dtype=np.int64)[pss]
        strides = np.asarray(self.strides, dtype=np.int64)[pss]
        return (s // sizes) * strides + node

    def get(self, arrays: list[np.ndarray], pss: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Gather ``arrays[pss[i]][index[i]]``."""
        out = np.empty(index.size, dtype=arrays[0].dtype if arrays else np.uint8)
        for p in _passes_in(pss):
            sel = pss == p
            out[sel] = arrays[p][index[sel]]
        return out

    def put(
        self, arrays: list[np.ndarray], pss: np.ndarray, index: np.ndarray, values: object
    ) -> None:
        """Scatter ``arrays[pss[i]][index[i]] = values[i]`` (or a scalar)."""
        vals = np.broadcast_to(np.asarray(values), index.shape)
        for p in _passes_in(pss):
            sel = pss == p
            arrays[p][index[sel]] = vals[sel]

    def set_roots(self, parities: np.ndarray | None) -> None:
        """Mark the block roots of the newest pass known (Bob stores Alice's parities)."""
        roots = np.arange(self.states[-1].size, dtype=np.int64) * self.strides[-1] + 1
        self.known[-1][roots] = True
        if self.keep_values and parities is not None:
            self.values[-1][roots] = parities

    def start_odd(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mark every odd, idle block busy; return its (pass, start, end)."""
        pss, starts, ends = [], [], []
        for p, state in enumerate(self.states):
            blocks = np.flatnonzero(state.astype(bool) & ~self.busy[p])
            if blocks.size:
                self.busy[p][blocks] = True
                k = self.sizes[p]
                pss.append(np.full(blocks.size, p, dtype=np.int32))
                starts.append(blocks.astype(np.int64) * k)
                ends.append(np.minimum((blocks.astype(np.int64) + 1) * k, self.n))
        if not pss:
            empty = np.zeros(0, dtype=np.int64)
            return empty.astype(np.int32), empty, empty
        return np.concatenate(pss), np.concatenate(starts), np.concatenate(ends)

    def release(self, pss: np.ndarray, s: np.ndarray) -> None:
        for p in _passes_in(pss):
            sel = pss == p
            self.busy[p][s[sel] // self.sizes[p]] = False

    def toggle(self, positions: np.ndarray) -> None:
        """Flip the error parity of the blocks containing each corrected ``position``."""
        if positions.size == 0:
            return
        for p, state in enumerate(self.states):
            blocks = self.invs[p][positions] // self.sizes[p]
            counts = np.bincount(blocks, minlength=state.size)
            state ^= (counts & 1).astype(np.uint8)

    def originals(self, pss: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Original key positions of permuted ``positions`` in passes ``pss``."""
        out = np.empty(positions.size, dtype=np.int64)
        for p in _passes_in(pss):
            sel = pss == p
            out[sel] = self.perms[p][positions[sel]]
        return out


def _passes_in(pss: np.ndarray) -> np.ndarray:
    """The distinct pass numbers in ``pss`` (cheaper than ``np.unique`` for a few passes)."""
    return np.flatnonzero(np.bincount(pss)) if pss.size else pss


def _block_parities(bits: np.ndarray, perm: np.ndarray, size: int) -> np.ndarray:
    shuffled = bits[perm]
    pad = (-shuffled.size) % size
    if pad:
        shuffled = np.concatenate([shuffled, np.zeros(pad, dtype=np.uint8)])
    return np.bitwise_xor.reduce(shuffled.reshape(-1, size), axis=1)


def _range_parities(
    bits: np.ndarray, public: _PublicState, pss: np.ndarray, s: np.ndarray, e: np.ndarray
) -> np.ndarray:
    if s.size == 0:
        return np.zeros(0, dtype=np.uint8)
    lengths = e - s
    offsets = np.cumsum(lengths) - lengths
    local = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(offsets, lengths)
    permuted = np.repeat(s, lengths) + local
    values = bits[public.originals(np.repeat(pss, lengths), permuted)]
    return np.bitwise_xor.reduceat(values, offsets)


class _Bisections:
    """Running bisections: pass, current range [s, e) of odd error parity, tree node."""

    def __init__(self) -> None:
        self.pss = np.zeros(0, dtype=np.int32)
        self.s = np.zeros(0, dtype=np.int64)
        self.e = np.zeros(0, dtype=np.int64)
        self.node = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.s.size)

    def start(self, public: _PublicState) -> None:
        pss, s, e = public.start_odd()
        if s.size:
            self.pss = np.concatenate([self.pss, pss])
            self.s = np.concatenate([self.s, s])
            self.e = np.concatenate([self.e, e])
            self.node = np.concatenate([self.node, np.ones(s.size, dtype=np.int64)])

    def splitting(
        self, public: _PublicState
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(selection, mid, left-node flat index, mask of left halves to query)."""
        sel = np.flatnonzero(self.e - self.s > 1)
        mid = self.s[sel] + (self.e[sel] - self.s[sel]) // 2
        left = public.node_index(self.pss[sel], self.s[sel], 2 * self.node[sel])
        return sel, mid, left, ~public.get(public.known, self.pss[sel], left)

    def advance(self, sel: np.ndarray, mid: np.ndarray, left_odd: np.ndarray) -> None:
        self.e[sel] = np.where(left_odd, mid, self.e[sel])
        self.s[sel] = np.where(left_odd, self.s[sel], mid)
        self.node[sel] = 2 * self.node[sel] + (~left_odd)

    def _drop(self, keep: np.ndarray) -> None:
        self.pss, self.s, self.e, self.node = (
            self.pss[keep], self.s[keep], self.e[keep], self.node[keep]
        )

    def pop_found(self, public: _PublicState) -> np.ndarray:
        """Remove finished bisections; return the (unique) original positions found."""
        done = self.e - self.s == 1
        found = np.unique(public.originals(self.pss[done], self.s[done]))
        public.release(self.pss[done], self.s[done])
        self._drop(~done)
        return found

    def cancel_hit(self, public: _PublicState, flipped: np.ndarray) -> None:
        """Drop bisections whose current range contains a flipped bit (parity now even)."""
        if flipped.size == 0 or self.s.size == 0:
            return
        keep = np.ones(self.s.size, dtype=bool)
        for p in np.unique(self.pss):
            sel = np.flatnonzero(self.pss == p)
            coords = np.sort(public.invs[p][flipped])
            hits = np.searchsorted(coords, self.e[sel]) - np.searchsorted(coords, self.s[sel])
            keep[sel[hits > 0]] = False
        public.release(self.pss[~keep], self.s[~keep])
        self._drop(keep)


class CascadeAlice:
    """Alice's endpoint: holds her key and RNG, answers parity queries."""

    def __init__(self, key: np.ndarray, rng: np.random.Generator) -> None:
        self._key = key
        self._rng = rng
        self.public = _PublicState(key.size, keep_values=False)
        self.bisections = _Bisections()

    def new_pass(self, channel: ClassicalChannel, size: int) -> tuple[int, np.ndarray]:
        """Choose the pass permutation, send its seed and the block parities."""
        seed = int(self._rng.integers(0, 2**63 - 1))
        seed_received = channel.send("alice", "cascade/pass-seed", seed)
        self.public.add_pass(seed, size)
        self.public.set_roots(None)
        parities = _block_parities(self._key, self.public.perms[-1], size)
        received = channel.send(
            "alice", "cascade/block-parities", np.packbits(parities), disclosed_bits=parities.size
        )
        return seed_received, received

    def set_odd_blocks(self, packed: np.ndarray) -> None:
        self.public.states[-1] = np.unpackbits(packed, count=self.public.states[-1].size)

    def answer(self, channel: ClassicalChannel) -> np.ndarray | None:
        """Send the parities of the left halves whose parity is not yet public."""
        bis = self.bisections
        sel, mid, _left, ask = bis.splitting(self.public)
        if sel.size == 0:
            return None
        q = sel[ask]
        parities = _range_parities(self._key, self.public, bis.pss[q], bis.s[q], mid[ask])
        return channel.send(
            "alice", "cascade/parities", np.packbits(parities), disclosed_bits=parities.size
        )

    def follow(self, odd_packed: np.ndarray) -> None:
        """Apply Bob's announced choice of halves (mirrors :meth:`CascadeBob.compare`)."""
        bis = self.bisections
        sel, mid, left, _ = bis.splitting(self.public)
        left_odd = np.unpackbits(odd_packed, count=sel.size).astype(bool)
        self.public.put(self.public.known, bis.pss[sel], left, True)
        self.public.put(self.public.known, bis.pss[sel], left + 1, True)
        bis.advance(sel, mid, left_odd)

    def settle_round(self) -> np.ndarray:
        found = self.bisections.pop_found(self.public)
        self.public.toggle(found)
        self.bisections.cancel_hit(self.public, found)
        self.bisections.start(self.public)
        return found


class CascadeBob:
    """Bob's endpoint: holds his key, compares parities, corrects errors."""

    def __init__(self, key: np.ndarray) -> None:
        self.key = key.copy()
        self.public = _PublicState(key.size, keep_values=True)
        self.bisections = _Bisections()

    def new_pass(
        self, channel: ClassicalChannel, seed: int, size: int, alice_packed: np.ndarray
    ) -> np.ndarray:
        """Compare block parities of the new pass; announce the odd blocks."""
        self.public.add_pass(seed, size)
        alice = np.unpackbits(alice_packed, count=self.public.states[-1].size)
        self.public.set_roots(alice)
        state = _block_parities(self.key, self.public.perms[-1], size) ^ alice
        self.public.states[-1] = state
        return channel.send("bob", "cascade/odd-blocks", np.packbits(state))

    def compare(self, channel: ClassicalChannel, alice_packed: np.ndarray | None) -> np.ndarray:
        """Announce, for every splitting bisection, whether its left half has odd error parity."""
        bis, public = self.bisections, self.public
        sel, mid, left, ask = bis.splitting(public)
        pss = bis.pss[sel]
        if ask.any():
            asked = np.unpackbits(alice_packed, count=int(ask.sum()))
            public.put(public.values, pss[ask], left[ask], asked)
        parent = public.node_index(pss, bis.s[sel], bis.node[sel])
        left_values = public.get(public.values, pss, left)
        right_values = public.get(public.values, pss, parent) ^ left_values
        public.put(public.values, pss, left + 1, right_values)
        public.put(public.known, pss, left, True)
        public.put(public.known, pss, left + 1, True)
        mine = _range_parities(self.key, public, pss, bis.s[sel], mid)
        left_odd = (mine ^ left_values).astype(bool)
        sent = channel.send("bob", "cascade/odd-halves", np.packbits(left_odd))
        bis.advance(sel, mid, left_odd)
        return sent

    def settle_round(self) -> np.ndarray:
        found = self.bisections.pop_found(self.public)
        self.key[found] ^= 1
        self.public.toggle(found)
        self.bisections.cancel_hit(self.public, found)
        self.bisections.start(self.public)
        return found


def _settle(alice: CascadeAlice, bob: CascadeBob, channel: ClassicalChannel) -> int:
    """Bisect until every block of every pass has even error parity; return bits corrected.

    Bisections advance one tree level per round in lock-step (one message each way per
    round). A finished bisection corrects its bit at the end of the round; bisections whose
    current range contains that bit are dropped, and blocks that became odd (the cascade
    effect) start bisecting in the next round. Parities already public (tree nodes queried
    or derived earlier) are not asked again.
    """
    corrected = 0
    alice.bisections.start(alice.public)
    bob.bisections.start(bob.public)
    rounds = 0
    while len(bob.bisections):
        rounds += 1
        if rounds > 64 * (alice.public.n.bit_length() + 4) + 4 * alice.public.n:
            raise QentangleError("Cascade did not converge (internal error)")  # pragma: no cover
        if np.any(bob.bisections.e - bob.bisections.s > 1):
            received = alice.answer(channel)
            odd = bob.compare(channel, received)
            alice.follow(odd)
        corrected += bob.settle_round().size
        alice.settle_round()
    return corrected


@dataclass(frozen=True)
class CascadeOutcome:
    """Result of :func:`cascade_reconcile`. ``bob_key`` holds key bits (hidden from repr)."""

    leaked_bits: int
    corrected_bits: int
    passes: int
    messages: int
    block_sizes: tuple[int, ...]
    bob_key: np.ndarray = field(repr=False)


def cascade_reconcile(
    alice_key: np.ndarray,
    bob_key: np.ndarray,
    channel: ClassicalChannel,
    *,
    qber: float,
    rng_alice: np.random.Generator,
    passes: int = DEFAULT_PASSES,
    sizes: list[int] | None = None,
) -> CascadeOutcome:
    """Run Cascade between Alice's and Bob's endpoints over ``channel``.

    ``qber`` is the estimated error rate (it sets the block sizes); ``sizes`` overrides the
    schedule. Returns Bob's corrected key and the exact number of disclosed bits.
    """
    rng_alice = check_rng("rng_alice", rng_alice)
    qber = check_range("qber", qber, 0.0, 0.5)
    n = alice_key.size
    if n < 2:
        raise ValidationError(f"alice_key has {n} bits: expected at least 2 bits for Cascade")
    schedule = block_sizes(qber, n, passes) if sizes is None else [int(k) for k in sizes]
    for k in schedule:
        check_positive_int("block size", k)
    disclosed_before = channel.disclosed_bits
    messages_before = len(channel.transcript)
    alice = CascadeAlice(alice_key, rng_alice)
    bob = CascadeBob(bob_key)
    corrected = 0
    for size in schedule:
        seed, parities = alice.new_pass(channel, size)
        odd = bob.new_pass(channel, seed, size, parities)
        alice.set_odd_blocks(odd)
        corrected += _settle(alice, bob, channel)
    return CascadeOutcome(
        leaked_bits=channel.disclosed_bits - disclosed_before,
        corrected_bits=corrected,
        passes=len(schedule),
        messages=len(channel.transcript) - messages_before,
        block_sizes=tuple(schedule),
        bob_key=bob.key,
    )
