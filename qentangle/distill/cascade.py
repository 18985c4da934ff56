"""Cascade information reconciliation, vectorised over blocks and passes.

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

Speed (about 2-3 x 10^6 corrected bits/s on 10^6-bit keys, ``benchmarks/distill.py``):

* each pass permutation is a public function of the public seed, so it is expanded once
  (:class:`_PublicPermutations`) and read by both endpoints, as an eavesdropper could; it
  holds no secret. The expansion is one Fisher-Yates shuffle with the fast ``SFC64`` bit
  generator (statistical quality is all Cascade needs of a public permutation);
* each endpoint keeps, per pass, the prefix parities of its own permuted key, so the parity of
  any range (block or bisection half) costs two look-ups. Bob's key changes as he corrects
  it, so he also keeps the sorted list of his corrections, in the coordinates of every pass,
  made after the prefix was taken; their count in a range fixes his parity;
* all bookkeeping (block states, tree nodes, bisections) is in flat arrays over all passes:
  a round is a fixed number of numpy calls whatever the number of passes and blocks.

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

import sys
from dataclasses import dataclass, field

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.errors import QentangleError, ValidationError, check_positive_int, check_range

DEFAULT_PASSES = 8
_LITTLE_ENDIAN = sys.byteorder == "little"


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


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray, seed: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """Output ``x`` of the SplitMix64 stream of ``seed`` (``uint64``; ``seed`` broadcasts)."""
    z = np.multiply(x, _GOLDEN, out=out)
    z += seed
    z ^= np.right_shift(z, np.uint64(30), out=tmp)
    z *= _MIX1
    z ^= np.right_shift(z, np.uint64(27), out=tmp)
    z *= _MIX2
    z ^= np.right_shift(z, np.uint64(31), out=tmp)
    return z


class _PublicPermutations:
    """The pass permutations: a deterministic function of seeds sent in the clear.

    A permutation is public information (anyone who reads the seed on the channel can expand
    it), so instead of each endpoint spending the time to expand the same seed, both read
    this table, which expands each seed once. It holds nothing secret and never sees a key.

    Pass ``p`` (seed ``s``) orders the key positions ``x`` by the 63-bit sort key
    ``p | random(s, x) | x`` (bit fields from the top): the pass number, the top bits of
    output ``x`` of the SplitMix64 stream of ``s`` (a random permutation; ties, of
    probability ~ n^2 / 2^(64 - bits(p) - bits(n)), keep index order), then ``x`` itself, so
    the sorted keys of a pass (row ``p`` of :attr:`keys`) give the permutation (low bits)
    and the rows of all passes together form one sorted array. The inverse permutation of
    any few positions is then a binary search (:meth:`coordinates`) without any per-pass
    inverse array. Statistical quality is all Cascade needs of a public permutation.
    """

    def __init__(self, n: int, passes: int) -> None:
        self.n = n
        index_bits = max(1, (n - 1).bit_length())
        pass_bits = max(1, (passes - 1).bit_length())
        if 63 - pass_bits - index_bits < 16:
            raise ValidationError(f"{passes} passes on {n} bits: too many for Cascade")
        self._index_mask = np.uint64((1 << index_bits) - 1)
        self._pass_shift = np.uint64(63 - pass_bits)
        self._random_shift = np.uint64(1 + pass_bits)
        self.keys = np.empty((passes, n), dtype=np.int64)
        self.keys_flat = self.keys.reshape(-1)
        self.seeds = np.zeros(passes, dtype=np.uint64)
        self._expanded: list[int | None] = [None] * passes
        self._index = np.arange(n, dtype=np.uint64)
        self._tmp = np.empty(n, dtype=np.uint64)
        self._perm_of = -1  # pass whose permutation is in self._tmp
        self._last_coordinates: tuple[int, np.ndarray, np.ndarray] | None = None

    def _keys(
        self, x: np.ndarray, passes: np.ndarray, seeds: np.ndarray, out: np.ndarray, tmp: np.ndarray
    ) -> np.ndarray:
        z = _splitmix64(x, seeds, out, tmp)
        z >>= self._random_shift
        z &= ~self._index_mask
        z |= x
        z |= passes << self._pass_shift
        return z

    def expand(self, p: int, seed: int) -> None:
        """Make row ``p`` the (sorted keys of the) permutation of ``seed``, once per seed."""
        if self._expanded[p] == seed:
            return
        self.seeds[p] = seed
        row = self.keys[p]
        self._keys(self._index, np.uint64(p), self.seeds[p], row.view(np.uint64), self._tmp)
        row.sort()
        self._expanded[p] = seed
        self._perm_of = -1

    def permutation(self, p: int) -> np.ndarray:
        """Key position at each permuted position of pass ``p`` (a scratch array, reused)."""
        perm = self._tmp.view(np.int64)
        if self._perm_of != p:
            np.bitwise_and(self.keys[p], np.int64(self._index_mask), out=perm)
            self._perm_of = p
        return perm

    def originals(self, flat: np.ndarray) -> np.ndarray:
        """Key positions at global permuted coordinates ``p * n + position``."""
        return self.keys_flat[flat] & np.int64(self._index_mask)

    def coordinates(self, positions: np.ndarray, passes: int) -> np.ndarray:
        """Sorted global permuted coordinates ``p * n + inv_p(x)`` of ``positions`` in each
        of the first ``passes`` passes, by binary search in the sorted keys.

        Both endpoints ask for the same (public) positions in turn, so the last answer is
        kept and given again.
        """
        last = self._last_coordinates
        if last is not None and last[0] == passes and np.array_equal(last[1], positions):
            return last[2]
        x = positions.astype(np.uint64)[None, :]
        pss = np.arange(passes, dtype=np.uint64)[:, None]
        shape = (passes, positions.size)
        z = self._keys(
            x, pss, self.seeds[:passes, None], np.empty(shape, np.uint64),
            np.empty(shape, np.uint64),
        ).view(np.int64).reshape(-1)
        z.sort()  # sorted needles: a faster search, and sorted coordinates
        coords = np.searchsorted(self.keys_flat[: passes * self.n], z)
        coords.flags.writeable = False
        self._last_coordinates = (passes, positions.copy(), coords)
        return coords


class _PublicState:
    """The public bookkeeping both endpoints keep identically from the messages.

    Flat over all passes of the schedule: the error parity and busy flag of every block
    (pass ``p``'s blocks start at ``block_offsets[p]``), and which nodes of the blocks'
    bisection trees have a disclosed (or derivable) parity of Alice's key. A node is a
    permuted range ``[a, b)`` (the left child of ``[a, b)`` is ``[a, m)``, ``m = a + (b -
    a) // 2``); its id in pass ``p`` is ``p * 2n + 2m`` (internal nodes: split points are
    distinct) or ``p * 2n + 2a + 1`` (single bits).
    """

    def __init__(
        self, n: int, schedule: list[int], table: _PublicPermutations, *, keep_values: bool
    ) -> None:
        self.n = n
        self.table = table
        sizes = np.minimum(np.asarray(schedule, dtype=np.int64), n)  # a block never exceeds n
        nblocks = -(-n // sizes)
        self.sizes, self.nblocks = sizes, nblocks
        self.block_offsets = np.concatenate([[0], np.cumsum(nblocks)]).astype(np.int64)
        self.block_pass = np.repeat(np.arange(sizes.size, dtype=np.int64), nblocks)
        self.states = np.zeros(int(self.block_offsets[-1]), dtype=np.uint8)
        self.busy = np.zeros(self.states.size, dtype=bool)
        self.known = np.zeros(sizes.size * 2 * n, dtype=bool)
        # Bob keeps the values of Alice's known parities; Alice recomputes her own.
        self.values = np.zeros(self.known.size, dtype=np.uint8) if keep_values else None
        self.passes = 0

    def node(self, pss: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flat ids of the tree nodes ``[a, b)`` of passes ``pss``."""
        ids = np.where(b - a == 1, 2 * a + 1, 2 * a + ((b - a) & ~1))  # 2 * (a + (b - a) // 2)
        return ids + pss * (2 * self.n)

    def add_pass(self, seed: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Start the next pass; return its number and its blocks' [start, end)."""
        p = self.passes
        self.table.expand(p, seed)
        self.passes += 1
        k = int(self.sizes[p])
        starts = np.arange(int(self.nblocks[p]), dtype=np.int64) * k
        return p, starts, np.minimum(starts + k, self.n)

    def set_blocks(
        self, p: int, states: np.ndarray, alice_parities: np.ndarray | None
    ) -> None:
        """Record pass ``p``'s block error parities; its block roots are now known."""
        lo, hi = self.block_offsets[p], self.block_offsets[p + 1]
        self.states[lo:hi] = states
        k = int(self.sizes[p])
        starts = np.arange(hi - lo, dtype=np.int64) * k
        roots = self.node(np.int64(p), starts, np.minimum(starts + k, self.n))
        self.known[roots] = True
        if self.values is not None and alice_parities is not None:
            self.values[roots] = alice_parities

    def toggle(self, found: np.ndarray) -> np.ndarray:
        """Flip the error parity of the blocks containing each corrected key position.

        Returns the sorted global permuted coordinates ``p * n + inv_p(x)`` of the
        corrected positions ``x`` in every pass ``p`` started so far.
        """
        coords = self.table.coordinates(found, self.passes)
        pss = coords // self.n
        blocks = self.block_offsets[pss] + (coords - pss * self.n) // self.sizes[pss]
        flips = np.bincount(blocks, minlength=self.states.size)
        self.states ^= (flips & 1).astype(np.uint8)
        return coords


class _Bisections:
    """Running bisections: pass, current range [s, e) of odd error parity, flat block."""

    def __init__(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self.pss, self.s, self.e, self.block = empty, empty, empty, empty

    def __len__(self) -> int:
        return int(self.s.size)

    def start(self, public: _PublicState) -> None:
        """Bisect every odd, idle block."""
        blocks = np.flatnonzero(public.states.astype(bool) & ~public.busy)
        if blocks.size == 0:
            return
        public.busy[blocks] = True
        pss = public.block_pass[blocks]
        sizes = public.sizes[pss]
        s = (blocks - public.block_offsets[pss]) * sizes
        e = np.minimum(s + sizes, public.n)
        self.pss = np.concatenate([self.pss, pss])
        self.s = np.concatenate([self.s, s])
        self.e = np.concatenate([self.e, e])
        self.block = np.concatenate([self.block, blocks])

    def splitting(
        self, public: _PublicState
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For ranges longer than one bit: (selection, mid, parent, left and right child ids)."""
        sel = np.flatnonzero(self.e - self.s > 1)
        pss, s, e = self.pss[sel], self.s[sel], self.e[sel]
        mid = s + (e - s) // 2
        base = pss * (2 * public.n)
        parent = base + 2 * mid
        return sel, mid, parent, public.node(pss, s, mid), public.node(pss, mid, e)

    def advance(self, sel: np.ndarray, mid: np.ndarray, left_odd: np.ndarray) -> None:
        self.e[sel] = np.where(left_odd, mid, self.e[sel])
        self.s[sel] = np.where(left_odd, self.s[sel], mid)

    def _drop(self, drop: np.ndarray, public: _PublicState) -> None:
        public.busy[self.block[drop]] = False
        keep = ~drop
        self.pss, self.s, self.e, self.block = (
            self.pss[keep], self.s[keep], self.e[keep], self.block[keep]
        )

    def pop_found(self, public: _PublicState) -> np.ndarray:
        """Remove finished bisections; return the (unique) original positions found."""
        done = self.e - self.s == 1
        if not done.any():
            return np.zeros(0, dtype=np.int64)
        found = np.unique(public.table.originals(self.pss[done] * public.n + self.s[done]))
        self._drop(done, public)
        return found

    def cancel_hit(self, public: _PublicState, coords: np.ndarray) -> None:
        """Drop bisections whose current range contains a flipped bit (parity now even).

        ``coords`` are the sorted global permuted coordinates of the flipped bits.
        """
        if coords.size == 0 or self.s.size == 0:
            return
        base = self.pss * public.n
        hits = np.searchsorted(coords, base + self.e) - np.searchsorted(coords, base + self.s)
        if hits.any():
            self._drop(hits > 0, public)


_BYTE_ONES = np.uint64(0x0101010101010101)


def _prefix_parities(key: np.ndarray, perm: np.ndarray, row: np.ndarray) -> None:
    """Prefix parities of ``key`` permuted by ``perm`` into ``row`` (``uint8``, 8-aligned).

    ``row[7 + j]`` is the parity of the first ``j`` permuted bits (``row[:8]`` stays 0), so
    the parity of the permuted range ``[s, e)`` is ``row[7 + e] ^ row[7 + s]``. The scan runs
    on 64-bit words: a shift-XOR ladder gives the prefix within each word of 8 bytes, then
    the words' parities are accumulated (about 10 x faster than a byte-wise accumulate).
    """
    n = perm.size
    bits = row[8:]
    if key.dtype == np.uint8 or key.dtype == np.bool_:
        np.take(key.view(np.uint8), perm, out=bits[:n])
    else:  # other integer dtypes of 0/1 bits
        bits[:n] = np.take(key, perm) & 1
    bits[n:] = 0
    if _LITTLE_ENDIAN:
        words = bits.view(np.uint64)
        words ^= words << np.uint64(8)
        words ^= words << np.uint64(16)
        words ^= words << np.uint64(32)
        carry = np.bitwise_xor.accumulate((words >> np.uint64(56)).astype(np.uint8))
        words[1:] ^= carry[:-1].astype(np.uint64) * _BYTE_ONES
    else:  # pragma: no cover - big-endian hosts
        np.bitwise_xor.accumulate(bits, out=bits)


class _Endpoint:
    """What both endpoints do alike: public bookkeeping and range parities of their own key."""

    def __init__(
        self, key: np.ndarray, schedule: list[int], table: _PublicPermutations, *, bob: bool
    ) -> None:
        n = key.size
        self.public = _PublicState(n, schedule, table, keep_values=bob)
        self.bisections = _Bisections()
        # prefix parities of this endpoint's own permuted key, one row per pass (rows of
        # 8 + n rounded up to 8 bytes, so that each row is 64-bit aligned)
        width = 8 + -(-n // 8) * 8
        self._prefix = np.zeros((len(schedule), width), dtype=np.uint8)
        self._prefix_flat = self._prefix.reshape(-1)

    def _start_pass(self, key: np.ndarray, seed: int) -> tuple[int, np.ndarray]:
        p, starts, ends = self.public.add_pass(seed)
        row = self._prefix[p]
        _prefix_parities(key, self.public.table.permutation(p), row)
        return p, row[7 + ends] ^ row[7 + starts]

    def _prefix_parity(self, pss: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        base = pss * self._prefix.shape[1] + 7
        return self._prefix_flat[base + e] ^ self._prefix_flat[base + s]


class CascadeAlice(_Endpoint):
    """Alice's endpoint: holds her key and RNG, answers parity queries."""

    def __init__(
        self,
        key: np.ndarray,
        rng: np.random.Generator,
        schedule: list[int],
        table: _PublicPermutations,
    ) -> None:
        super().__init__(key, schedule, table, bob=False)
        self._key = key
        self._rng = rng
        self._split: tuple[np.ndarray, ...] | None = None

    def new_pass(self, channel: ClassicalChannel) -> tuple[int, np.ndarray]:
        """Choose the pass permutation, send its seed and the block parities."""
        seed = int(self._rng.integers(0, 2**63 - 1))
        seed_received = channel.send("alice", "cascade/pass-seed", seed)
        self._pass, parities = self._start_pass(self._key, seed)
        received = channel.send(
            "alice", "cascade/block-parities", np.packbits(parities), disclosed_bits=parities.size
        )
        return seed_received, received

    def set_odd_blocks(self, packed: np.ndarray) -> None:
        p = self._pass
        states = np.unpackbits(packed, count=int(self.public.nblocks[p]))
        self.public.set_blocks(p, states, None)

    def answer(self, channel: ClassicalChannel) -> np.ndarray | None:
        """Send the parities of the left halves whose parity is not yet public."""
        bis = self.bisections
        self._split = bis.splitting(self.public)
        sel, mid, _parent, left, _right = self._split
        if sel.size == 0:
            return None
        ask = ~self.public.known[left]
        q = sel[ask]
        parities = self._prefix_parity(bis.pss[q], bis.s[q], mid[ask])
        return channel.send(
            "alice", "cascade/parities", np.packbits(parities), disclosed_bits=parities.size
        )

    def follow(self, odd_packed: np.ndarray) -> None:
        """Apply Bob's announced choice of halves (mirrors :meth:`CascadeBob.compare`)."""
        assert self._split is not None
        sel, mid, _parent, left, right = self._split
        self._split = None
        left_odd = np.unpackbits(odd_packed, count=sel.size).astype(bool)
        self.public.known[left] = True
        self.public.known[right] = True
        self.bisections.advance(sel, mid, left_odd)

    def settle_round(self) -> np.ndarray:
        found = self.bisections.pop_found(self.public)
        if found.size:
            coords = self.public.toggle(found)
            self.bisections.cancel_hit(self.public, coords)
        self.bisections.start(self.public)
        return found


class CascadeBob(_Endpoint):
    """Bob's endpoint: holds his key, compares parities, corrects errors."""

    def __init__(self, key: np.ndarray, schedule: list[int], table: _PublicPermutations) -> None:
        super().__init__(key, schedule, table, bob=True)
        self.key = key.copy()
        # sorted global permuted coordinates (p * n + position in pass p) of the bits Bob
        # corrected after the prefix parities of pass p were taken
        self._corrections = np.zeros(0, dtype=np.int64)

    def new_pass(
        self, channel: ClassicalChannel, seed: int, alice_packed: np.ndarray
    ) -> np.ndarray:
        """Compare block parities of the new pass; announce the odd blocks."""
        p, mine = self._start_pass(self.key, seed)
        alice = np.unpackbits(alice_packed, count=mine.size)
        state = mine ^ alice
        self.public.set_blocks(p, state, alice)
        return channel.send("bob", "cascade/odd-blocks", np.packbits(state))

    def _parity(self, pss: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Parity of Bob's current key over permuted ranges [s, e) of passes ``pss``."""
        base = pss * self.public.n
        flips = np.searchsorted(self._corrections, base + e) - np.searchsorted(
            self._corrections, base + s
        )
        return self._prefix_parity(pss, s, e) ^ (flips & 1).astype(np.uint8)

    def compare(self, channel: ClassicalChannel, alice_packed: np.ndarray | None) -> np.ndarray:
        """Announce, for every splitting bisection, whether its left half has odd error parity."""
        bis, public = self.bisections, self.public
        values = public.values
        assert values is not None
        sel, mid, parent, left, right = bis.splitting(public)
        ask = ~public.known[left]
        if ask.any():
            values[left[ask]] = np.unpackbits(alice_packed, count=int(ask.sum()))
        left_values = values[left]
        values[right] = values[parent] ^ left_values
        public.known[left] = True
        public.known[right] = True
        mine = self._parity(bis.pss[sel], bis.s[sel], mid)
        left_odd = (mine ^ left_values).astype(bool)
        sent = channel.send("bob", "cascade/odd-halves", np.packbits(left_odd))
        bis.advance(sel, mid, left_odd)
        return sent

    def settle_round(self) -> np.ndarray:
        found = self.bisections.pop_found(self.public)
        if found.size:
            self.key[found] ^= self.key.dtype.type(1)
            coords = self.public.toggle(found)
            at = np.searchsorted(self._corrections, coords)
            self._corrections = np.insert(self._corrections, at, coords)
            self.bisections.cancel_hit(self.public, coords)
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
    n = alice.public.n
    while len(bob.bisections):
        rounds += 1
        if rounds > 64 * (n.bit_length() + 4) + 4 * n:
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
    table = _PublicPermutations(n, len(schedule))  # public: expanded from public seeds
    alice = CascadeAlice(alice_key, rng_alice, schedule, table)
    bob = CascadeBob(bob_key, schedule, table)
    corrected = 0
    for _ in schedule:
        seed, parities = alice.new_pass(channel)
        odd = bob.new_pass(channel, seed, parities)
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
