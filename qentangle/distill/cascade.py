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

Schedule (in the spirit of Martinez-Mateo, Pacher, Peev, Ciurana & Pedersen, QIC 15, 453,
2015, "Demystifying the information reconciliation protocol Cascade"): two passes of small
blocks sized from the QBER, then passes that split the key at random into
:data:`LATE_BLOCKS` = 4 blocks of about ``n/4`` bits (see :func:`block_sizes`). The small
blocks correct nearly all errors; what they leave are sets of errors that are even in every
block of both passes (a pair sharing a block in pass 1 and in pass 2, ...): one key in two
has some, whatever ``n`` and the QBER. A later pass finds a pair unless both fall in the
same block: probability 1/4 with four blocks (1/2 with the two blocks of ``n/2`` used
before), so six later passes leave a pair with probability 4^-6 instead of 2^-6 for 2 more
parities per pass; each hit cascades back into the small blocks. Measured on 10^5-bit keys
at QBER 1-5 %: 1 key in 3000 left with errors (6 in 1000 with blocks of ``n/2``), same f.

The protocol reuses every parity already public: each block's bisection tree is fixed, so a
node whose parity of Alice's key was disclosed (or follows from its parent and sibling) is
never asked for again when the block is bisected anew. All odd blocks of all passes bisect
together, one round trip per tree level, so the number of messages grows with the depth,
not with the number of blocks.

Speed (3-5 x 10^6 corrected bits/s on 10^6-bit keys on 2 cores, ``benchmarks/distill.py``):

* a pass's permutation and block layout are a public function of its public seed, so they
  are computed once (:class:`_PublicTable`) and read by both endpoints, as an eavesdropper
  could; the table holds nothing secret and never sees a key. A permutation is the sorted
  order of SplitMix64 hashes of the positions (one vectorised sort, no inverse array:
  the position of a few bits in a pass is a binary search);
* a later pass first only draws, per key bit, two random bits naming its block (bit planes
  of the seed's ``SFC64`` stream), and both endpoints take block parities from bit-packed
  keys. Its order within the blocks is built only if one of its blocks turns odd, which
  after the first passes is rare, so most later passes cost about a millisecond;
* each endpoint keeps, per pass in use, the prefix parities of its own permuted key, so the
  parity of any range (block or bisection half) costs two look-ups. Bob's key changes as he
  corrects it, so he also keeps the sorted list of the coordinates of his corrections made
  after each prefix was taken; their count in a range fixes his parity;
* all bookkeeping (block states, tree nodes, bisections) is in flat arrays over all passes:
  a round is a fixed number of numpy calls whatever the number of passes and blocks.
* when the endpoints run as two party programs, each with its own table, the expensive
  expansions of a public seed (a pass's sorted keys, a bucketed pass's bit planes) are made
  once and shared read-only between the tables (:class:`_SharedExpansions`); from 2^16 bits
  a pass's keys are filled by one compiled loop and sorted by an LSD radix sort on their
  random bits (:mod:`qentangle.distill._kernels`), the same order as ``np.sort``, 3 to 4
  times faster.

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
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.distill._bits import check_rng
from qentangle.errors import QentangleError, ValidationError, check_positive_int, check_range

DEFAULT_PASSES = 8
LATE_BLOCKS = 4  # blocks of each pass after the second (a power of two)
_LATE_BITS = LATE_BLOCKS.bit_length() - 1
_BUCKET_MIN_BITS = 64  # shorter keys use plain blocks of ceil(n / LATE_BLOCKS) bits
_COMPILED_MIN_BITS = 1 << 16  # from this key length, pass permutations use compiled kernels
_LITTLE_ENDIAN = sys.byteorder == "little"
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def block_sizes(qber: float, n: int, passes: int = DEFAULT_PASSES) -> list[int]:
    """(Nominal) block size of each pass for an estimated ``qber`` and key length ``n``.

    ``k1 = round(1 / Q)`` (at least 4), ``k2 = 3 k1``, then ``ceil(n / 4)`` for the other
    passes: the small first blocks correct most errors cheaply, the later passes find the
    rare sets of errors left hidden in even blocks (each hit cascades back into the small
    blocks). In :func:`cascade_reconcile` a later pass assigns each bit to one of its 4
    blocks at random, so its blocks hold about (binomially) ``n / 4`` bits each. Tuned with
    ``benchmarks/distill.py`` (f ~ 1.04-1.07 at Q = 1-5 %, n = 1e5 to 1e6).

    >>> block_sizes(0.02, 10**5, 4)
    [50, 150, 25000, 25000]
    """
    qber = check_range("qber", qber, 0.0, 0.5)
    n = check_positive_int("n", n, minimum=2)
    passes = check_positive_int("passes", passes)
    q = max(qber, 1e-4)
    half = max(1, n // 2)
    k1 = min(half, max(4, round(1.0 / q)))
    late = -(-n // LATE_BLOCKS)
    sizes = [k1, min(half, 3 * k1)] + [late] * max(0, passes - 2)
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


def _bucket_planes(n: int, b: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``b`` packed random bit planes of a bucketed pass and the packed member sets."""
    nbytes = -(-n // 8)
    words = np.random.Generator(np.random.SFC64(seed)).bit_generator.random_raw(b * -(-nbytes // 8))
    planes = words.view(np.uint8).reshape(b, -1)[:, :nbytes].copy()
    valid = np.packbits(np.ones(n, dtype=np.uint8))
    members = np.empty((1 << b, nbytes), dtype=np.uint8)
    for j in range(1 << b):
        m = valid.copy()
        for i in range(b):
            m &= planes[i] if (j >> i) & 1 else ~planes[i]
        members[j] = m
    planes.flags.writeable = False
    members.flags.writeable = False
    return planes, members


class _SharedExpansions:
    """Expansions of public seeds, shared by every table that expands the same seed.

    Both endpoints (each with its own :class:`_PublicTable`, e.g. as two party programs) read
    the same pass permutation from the same public seed; the first to need it computes it and
    the other finds it here. Entries are weak: they live as long as some table uses them, so
    nothing outlives the runs. Only public data (seed expansions) is ever stored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def get(self, key: tuple, compute: Callable[[], Any], keep: list) -> Any:
        """The value for ``key``, computed if no live table holds it; ``keep`` holds it alive."""
        with self._lock:
            holder = self._entries.get(key)
        if holder is None:
            holder = _Holder(compute())
            with self._lock:
                self._entries[key] = holder
        keep.append(holder)
        return holder.value


class _Holder:
    """A weakly referenceable box (tuples cannot be weakly referenced)."""

    __slots__ = ("__weakref__", "value")

    def __init__(self, value: Any) -> None:
        self.value = value


_SHARED = _SharedExpansions()


class _PublicTable:
    """Permutations and block layouts of the passes: a function of the public seeds.

    Everything here is public information (anyone who reads the seeds on the channel can
    compute it), so instead of each endpoint spending the time to expand the same seed,
    both read this one table, which expands each seed once. It never sees a key.

    A pass is *sized* (blocks of ``k`` consecutive permuted positions) or *bucketed*
    (``2^b`` blocks: the block of each key position is given by ``b`` random bits, drawn as
    packed bit planes from the ``SFC64`` stream of the seed, so block sizes are binomial).
    The permutation of pass ``p`` (seed ``s``) orders key positions ``x`` by the 63-bit
    sort key ``p | block(x) | random(s, x) | x`` (bit fields from the top, ``block`` empty
    for sized passes): the top bits of output ``x`` of the SplitMix64 stream of ``s`` make
    it a random permutation (ties, of probability ~ n^2 / 2^(64 - bits(p) - b - bits(n)),
    keep index order), ``x`` in the low bits makes the sorted keys (row ``p`` of
    :attr:`keys`) give the permutation, and the position of any few bits in a pass is a
    binary search (:meth:`locate`), with no inverse array. A bucketed pass is only sorted
    (:meth:`materialize`) when one of its blocks must be bisected. Statistical quality is
    all Cascade needs of a public permutation.
    """

    def __init__(self, n: int, sizes: list[int], bucket_bits: list[int]) -> None:
        self.n = n
        passes = len(sizes)
        self.sizes = np.minimum(np.asarray(sizes, dtype=np.int64), n)  # blocks never exceed n
        self.bucket_bits = np.asarray(bucket_bits, dtype=np.uint64)
        nblocks = np.where(self.bucket_bits > 0, 1 << self.bucket_bits.astype(np.int64),
                           -(-n // self.sizes))
        self.nblocks = nblocks.astype(np.int64)
        self.block_offsets = np.concatenate([[0], np.cumsum(self.nblocks)]).astype(np.int64)
        self.block_pass = np.repeat(np.arange(passes, dtype=np.int64), self.nblocks)
        # [start, end) of every block in its pass's permuted coordinates, and the start as a
        # global coordinate p * n + start (non-decreasing over all blocks of all passes)
        self.block_start = np.zeros(int(self.block_offsets[-1]), dtype=np.int64)
        self.block_end = np.zeros_like(self.block_start)
        self.global_start = self.block_pass * n
        index_bits = max(1, (n - 1).bit_length())
        pass_bits = max(1, (passes - 1).bit_length())
        if 63 - pass_bits - int(self.bucket_bits.max(initial=0)) - index_bits < 16:
            raise ValidationError(f"{passes} passes on {n} bits: too many for Cascade")
        self._index_mask = np.uint64((1 << index_bits) - 1)
        self._index_bits = index_bits
        self._pass_shift = np.uint64(63 - pass_bits)
        self._random_shift = np.uint64(1 + pass_bits) + self.bucket_bits
        # sorted keys of each materialized pass (shared, read-only, with any other table that
        # expanded the same public seed: see _SHARED)
        self.keys: list[np.ndarray | None] = [None] * passes
        self._held: list[_Holder] = []  # keeps this table's shared expansions alive
        self.seeds = np.zeros(passes, dtype=np.uint64)
        self.materialized = np.zeros(passes, dtype=bool)
        self._started: list[int | None] = [None] * passes
        self._planes: dict[int, np.ndarray] = {}  # packed random bits naming the blocks
        self._members: dict[int, np.ndarray] = {}  # packed indicator of each block
        self._planes_all: np.ndarray | None = None  # the planes of all passes, zero-padded
        self._index: np.ndarray | None = None
        self._tmp: np.ndarray | None = None
        self._perm_of = -1  # pass whose permutation is in self._tmp
        self._last_locate: tuple[tuple[int, ...], np.ndarray, tuple] | None = None

    # -- expansion -------------------------------------------------------------------------

    def start_pass(self, p: int, seed: int) -> None:
        """Lay out pass ``p`` from ``seed`` (computed once per seed)."""
        if self._started[p] == seed:
            return
        self.seeds[p] = seed
        self.materialized[p] = False
        lo, hi = self.block_offsets[p], self.block_offsets[p + 1]
        b = int(self.bucket_bits[p])
        if b:
            nbytes = -(-self.n // 8)
            planes, members = _SHARED.get(
                self._shared_key(p, seed, "planes"), lambda: _bucket_planes(self.n, b, seed), self._held
            )
            self._planes[p], self._members[p] = planes, members
            if self._planes_all is None:
                maxb = int(self.bucket_bits.max())
                self._planes_all = np.zeros((self.sizes.size, maxb, nbytes), dtype=np.uint8)
            self._planes_all[p, :b] = planes
            counts = _POPCOUNT[members].sum(axis=1)
            ends = np.cumsum(counts)
            self.block_start[lo:hi] = ends - counts
            self.block_end[lo:hi] = ends
        else:
            k = int(self.sizes[p])
            starts = np.arange(hi - lo, dtype=np.int64) * k
            self.block_start[lo:hi] = starts
            self.block_end[lo:hi] = np.minimum(starts + k, self.n)
            self.materialize(p)
        self.global_start[lo:hi] = p * self.n + self.block_start[lo:hi]
        self._started[p] = seed
        self._last_locate = None

    def materialize(self, p: int) -> None:
        """Sort the keys of pass ``p`` (its permutation), once (or find them shared)."""
        if self.materialized[p]:
            return
        if self._tmp is None:
            self._tmp = np.empty(self.n, dtype=np.uint64)
        tmp = self._tmp

        def expand() -> np.ndarray:
            b = int(self.bucket_bits[p])
            buckets = self._buckets(p, None) if b else np.uint64(0)
            row = np.empty(self.n, dtype=np.int64)
            if self.n >= _COMPILED_MIN_BITS:  # the same keys and order, compiled (O(n) sort)
                from qentangle.distill._kernels import fill_pass_keys, radix_sort_high_bits

                top = int(self._pass_shift)
                given = np.asarray(buckets).reshape(-1) if b else np.zeros(0, dtype=np.uint64)
                fill_pass_keys(self.seeds[p], p, int(self._random_shift[p]), self._index_bits, top,
                               top - b, given, row)
                radix_sort_high_bits(row, tmp.view(np.int64), self._index_bits, top)
            else:
                if self._index is None:
                    self._index = np.arange(self.n, dtype=np.uint64)
                self._keys(self._index, np.array([p]), buckets, row.view(np.uint64), tmp)
                row.sort()
            row.flags.writeable = False
            return row

        self.keys[p] = _SHARED.get(self._shared_key(p, int(self.seeds[p]), "keys"), expand, self._held)
        self.materialized[p] = True
        self._last_locate = None
        self._perm_of = -1  # self._tmp was overwritten

    def _shared_key(self, p: int, seed: int, what: str) -> tuple:
        """What an expansion of pass ``p`` depends on: public layout and seed only."""
        return (what, self.n, int(self.sizes.size), p, int(self.bucket_bits[p]), int(self.sizes[p]), seed)

    def _buckets(self, p: int, x: np.ndarray | None) -> np.ndarray:
        """Block number (within pass ``p``) of key positions ``x`` (all if None), ``uint64``."""
        b = int(self.bucket_bits[p])
        out = np.zeros(self.n if x is None else x.size, dtype=np.uint64)
        for i in range(b):
            plane = self._planes[p][i]
            if x is None:
                bits = np.unpackbits(plane, count=self.n)
            else:
                bits = (plane[x >> 3] >> (7 - (x & 7)).astype(np.uint8)) & 1
            out |= bits.astype(np.uint64) << np.uint64(i)
        return out

    def _keys(
        self, x: np.ndarray, passes: np.ndarray, buckets: np.ndarray, out: np.ndarray,
        tmp: np.ndarray,
    ) -> np.ndarray:
        """Sort keys of positions ``x`` (uint64) in ``passes`` (broadcast against ``x``)."""
        pss = passes.astype(np.int64)
        z = _splitmix64(x, self.seeds[pss], out, tmp)
        z >>= self._random_shift[pss]
        z &= ~self._index_mask
        z |= x
        z |= buckets << (self._pass_shift - self.bucket_bits[pss])
        z |= pss.astype(np.uint64) << self._pass_shift
        return z

    # -- queries -----------------------------------------------------------------------------

    def permutation(self, p: int) -> np.ndarray:
        """Key position at each permuted position of pass ``p`` (a scratch array, reused)."""
        assert self.materialized[p]
        if self._tmp is None:
            self._tmp = np.empty(self.n, dtype=np.uint64)
        perm = self._tmp.view(np.int64)
        if self._perm_of != p:
            np.bitwise_and(self.keys[p], np.int64(self._index_mask), out=perm)
            self._perm_of = p
        return perm

    def originals(self, flat: np.ndarray) -> np.ndarray:
        """Key positions at global permuted coordinates ``p * n + position``."""
        passes = flat // self.n
        out = np.empty(flat.size, dtype=np.int64)
        for p in np.unique(passes).tolist():
            at = passes == p
            row = self.keys[p]
            assert row is not None
            out[at] = row[flat[at] - p * self.n]
        out &= np.int64(self._index_mask)
        return out

    def block_parities(self, p: int, packed_key: np.ndarray) -> np.ndarray:
        """Parity of a bit-packed key over each block of bucketed pass ``p``."""
        folded = np.bitwise_xor.reduce(self._members[p] & packed_key, axis=1)
        return (_POPCOUNT[folded] & 1).astype(np.uint8)

    def locate(
        self, positions: np.ndarray, passes: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where key ``positions`` sit in each of the first ``passes`` passes.

        Returns the sorted global permuted coordinates ``p * n + inv_p(x)`` in the sorted
        passes (binary searches in their keys), the flat numbers of the blocks holding them,
        and the flat numbers of the blocks holding the positions in every pass (a bucketed
        pass not sorted yet reads its bit planes). Both endpoints ask for the same (public)
        positions in turn, so the last answer is kept and given again.
        """
        materialized = self.materialized[:passes]
        signature = (passes, *np.flatnonzero(materialized).tolist())
        last = self._last_locate
        if last is not None and last[0] == signature and np.array_equal(last[1], positions):
            return last[2]
        x = positions.astype(np.uint64)
        coords = []
        for p in np.flatnonzero(materialized).tolist():
            b = self._buckets(p, x) if self.bucket_bits[p] else np.uint64(0)
            z = self._keys(x, np.full(x.size, p), b, np.empty(x.size, np.uint64),
                           np.empty(x.size, np.uint64)).view(np.int64)
            z.sort()  # sorted needles: a faster search, and sorted coordinates
            row = self.keys[p]
            assert row is not None
            coords.append(np.searchsorted(row, z) + p * self.n)
        coord = np.concatenate(coords) if coords else np.zeros(0, dtype=np.int64)
        coord_blocks = np.searchsorted(self.global_start, coord, side="right") - 1
        light = np.flatnonzero(~materialized)
        if light.size:  # all bucketed: read the block bits of every such pass at once
            planes = self._planes_all
            assert planes is not None
            bits = planes[light[:, None, None], np.arange(planes.shape[1])[None, :, None],
                          (x >> np.uint64(3)).astype(np.int64)[None, None, :]]
            bits >>= (7 - (x & np.uint64(7))).astype(np.uint8)[None, None, :]
            bits &= 1
            buckets = (bits.astype(np.int64) << np.arange(planes.shape[1])[None, :, None])
            light_blocks = self.block_offsets[light][:, None] + buckets.sum(axis=1)
            blocks = np.concatenate([light_blocks.reshape(-1), coord_blocks])
        else:
            blocks = coord_blocks
        result = (coord, coord_blocks, blocks)
        for array in result:
            array.flags.writeable = False
        self._last_locate = (signature, positions.copy(), result)
        return result


class _PublicState:
    """The public bookkeeping each endpoint keeps from the messages (identical on both).

    Flat over all passes of the schedule: the error parity and busy flag of every block, and
    which nodes of the blocks' bisection trees have a disclosed (or derivable) parity of
    Alice's key. A node is a permuted range ``[a, b)`` (the left child of ``[a, b)`` is
    ``[a, m)``, ``m = a + (b - a) // 2``); its id in pass ``p`` is ``p * 2n + 2m``
    (internal nodes: split points are distinct) or ``p * 2n + 2a + 1`` (single bits).
    """

    def __init__(self, table: _PublicTable, *, keep_values: bool) -> None:
        self.n = table.n
        self.table = table
        self.states = np.zeros(table.block_start.size, dtype=np.uint8)
        self.busy = np.zeros(self.states.size, dtype=bool)
        self.known = np.zeros(table.sizes.size * 2 * self.n, dtype=bool)
        # Bob keeps the values of Alice's known parities; Alice recomputes her own.
        self.values = np.zeros(self.known.size, dtype=np.uint8) if keep_values else None
        self.passes = 0

    def node(self, pss: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flat ids of the tree nodes ``[a, b)`` (``b > a``) of passes ``pss``."""
        ids = np.where(b - a == 1, 2 * a + 1, 2 * a + ((b - a) & ~1))  # 2 * (a + (b - a) // 2)
        return ids + pss * (2 * self.n)

    def blocks_of(self, p: int) -> slice:
        return slice(int(self.table.block_offsets[p]), int(self.table.block_offsets[p + 1]))

    def set_blocks(self, p: int, states: np.ndarray, alice_parities: np.ndarray | None) -> None:
        """Record pass ``p``'s block error parities; its block roots are now known."""
        blocks = self.blocks_of(p)
        self.states[blocks] = states
        starts, ends = self.table.block_start[blocks], self.table.block_end[blocks]
        full = ends > starts
        roots = self.node(np.int64(p), starts[full], ends[full])
        self.known[roots] = True
        if self.values is not None and alice_parities is not None:
            self.values[roots] = alice_parities[full]

    def toggle(self, found: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flip the error parity of the blocks containing each corrected key position.

        Returns :meth:`_PublicTable.locate` of the corrected positions: their sorted global
        permuted coordinates ``p * n + inv_p(x)`` in every sorted pass ``p``, the blocks of
        those, and the blocks holding them in every pass.
        """
        located = self.table.locate(found, self.passes)
        np.bitwise_xor.at(self.states, located[2], np.uint8(1))  # uint8: fast path
        return located

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
        table = public.table
        self.pss = np.concatenate([self.pss, table.block_pass[blocks]])
        self.s = np.concatenate([self.s, table.block_start[blocks]])
        self.e = np.concatenate([self.e, table.block_end[blocks]])
        self.block = np.concatenate([self.block, blocks])

    def splitting(self, public: _PublicState) -> tuple[np.ndarray, ...]:
        """For ranges longer than one bit: (selection, mid, parent, left and right child ids)."""
        sel = np.flatnonzero(self.e - self.s > 1)
        pss, s, e = self.pss[sel], self.s[sel], self.e[sel]
        mid = s + (e - s) // 2
        parent = pss * (2 * public.n) + 2 * mid
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

    def cancel_hit(
        self, public: _PublicState, coords: np.ndarray, coord_blocks: np.ndarray
    ) -> None:
        """Drop bisections whose current range contains a flipped bit (parity now even).

        ``coords`` are the sorted global permuted coordinates of the flipped bits and
        ``coord_blocks`` their blocks: only bisections of those blocks are searched.
        """
        if coords.size == 0 or self.s.size == 0:
            return
        flagged = np.zeros(public.states.size, dtype=bool)
        flagged[coord_blocks] = True
        cand = np.flatnonzero(flagged[self.block])
        if cand.size == 0:
            return
        base = self.pss[cand] * public.n
        hits = np.searchsorted(coords, base + self.e[cand]) - np.searchsorted(
            coords, base + self.s[cand]
        )
        if hits.any():
            drop = np.zeros(self.s.size, dtype=bool)
            drop[cand[hits > 0]] = True
            self._drop(drop, public)


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


def _packed(key: np.ndarray) -> np.ndarray:
    return np.packbits(key.view(np.uint8) if key.dtype == np.bool_ else key.astype(np.uint8))


class _Endpoint:
    """What both endpoints do alike: public bookkeeping and range parities of their own key."""

    def __init__(self, n: int, table: _PublicTable, *, bob: bool) -> None:
        self.public = _PublicState(table, keep_values=bob)
        self.bisections = _Bisections()
        # prefix parities of this endpoint's own permuted key, one row per sorted pass (rows
        # of 8 + n rounded up to 8 bytes, so that each row is 64-bit aligned)
        width = 8 + -(-n // 8) * 8
        self._prefix = np.zeros((table.sizes.size, width), dtype=np.uint8)
        self._prefix_flat = self._prefix.reshape(-1)
        self._has_prefix = np.zeros(table.sizes.size, dtype=bool)

    def _key(self) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def _packed_key(self) -> np.ndarray:
        return _packed(self._key())

    def _start_pass(self, seed: int) -> tuple[int, np.ndarray]:
        """Start the next pass; return its number and the parities of its blocks."""
        public = self.public
        p = public.passes
        table = public.table
        table.start_pass(p, seed)
        public.passes += 1
        if table.materialized[p]:
            self._build_prefix(p)
            blocks = public.blocks_of(p)
            row = self._prefix[p]
            return p, row[7 + table.block_end[blocks]] ^ row[7 + table.block_start[blocks]]
        return p, table.block_parities(p, self._packed_key())

    def _build_prefix(self, p: int) -> None:
        _prefix_parities(self._key(), self.public.table.permutation(p), self._prefix[p])
        self._has_prefix[p] = True

    def _sort_odd_passes(self) -> None:
        """Sort the passes that must now be bisected; take this endpoint's prefix parities."""
        public = self.public
        for p in np.flatnonzero(~self._has_prefix[: public.passes]).tolist():
            if public.states[public.blocks_of(p)].any():
                public.table.materialize(p)
                self._build_prefix(p)

    def _prefix_parity(self, pss: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        base = pss * self._prefix.shape[1] + 7
        return self._prefix_flat[base + e] ^ self._prefix_flat[base + s]


class CascadeAlice(_Endpoint):
    """Alice's endpoint: holds her key and RNG, answers parity queries."""

    def __init__(self, key: np.ndarray, rng: np.random.Generator, table: _PublicTable) -> None:
        super().__init__(key.size, table, bob=False)
        self._key_bits = key
        self._rng = rng
        self._packed_bits: np.ndarray | None = None
        self._split: tuple[np.ndarray, ...] | None = None
        self._pass = -1

    def _key(self) -> np.ndarray:
        return self._key_bits

    def _packed_key(self) -> np.ndarray:
        if self._packed_bits is None:  # Alice's key never changes: pack it once
            self._packed_bits = _packed(self._key_bits)
        return self._packed_bits

    def new_pass(self, channel: ClassicalChannel) -> tuple[int, np.ndarray]:
        """Choose the pass permutation, send its seed and the block parities."""
        seed = int(self._rng.integers(0, 2**63 - 1))
        seed_received = channel.send("alice", "cascade/pass-seed", seed)
        self._pass, parities = self._start_pass(seed)
        received = channel.send(
            "alice", "cascade/block-parities", np.packbits(parities), disclosed_bits=parities.size
        )
        return seed_received, received

    def set_odd_blocks(self, packed: np.ndarray) -> None:
        p = self._pass
        states = np.unpackbits(packed, count=int(self.public.table.nblocks[p]))
        self.public.set_blocks(p, states, None)
        self._sort_odd_passes()

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
            coords, coord_blocks, _ = self.public.toggle(found)
            self.bisections.cancel_hit(self.public, coords, coord_blocks)
            self._sort_odd_passes()
        self.bisections.start(self.public)
        return found


class CascadeBob(_Endpoint):
    """Bob's endpoint: holds his key, compares parities, corrects errors."""

    def __init__(self, key: np.ndarray, table: _PublicTable) -> None:
        super().__init__(key.size, table, bob=True)
        self.key = key.copy()
        # sorted global permuted coordinates (p * n + position in pass p) of the bits Bob
        # corrected after the prefix parities of pass p were taken
        self._corrections = np.zeros(0, dtype=np.int64)
        # blocks holding some of those corrections (only their ranges need the count)
        self._dirty = np.zeros(self.public.states.size, dtype=bool)

    def _key(self) -> np.ndarray:
        return self.key

    def new_pass(
        self, channel: ClassicalChannel, seed: int, alice_packed: np.ndarray
    ) -> np.ndarray:
        """Compare block parities of the new pass; announce the odd blocks."""
        p, mine = self._start_pass(seed)
        alice = np.unpackbits(alice_packed, count=mine.size)
        state = mine ^ alice
        self.public.set_blocks(p, state, alice)
        self._sort_odd_passes()
        return channel.send("bob", "cascade/odd-blocks", np.packbits(state))

    def _parity(
        self, pss: np.ndarray, s: np.ndarray, e: np.ndarray, blocks: np.ndarray
    ) -> np.ndarray:
        """Parity of Bob's current key over permuted ranges [s, e) of passes ``pss``."""
        parity = self._prefix_parity(pss, s, e)
        cand = np.flatnonzero(self._dirty[blocks])  # ranges in blocks with corrections
        if cand.size:
            base = pss[cand] * self.public.n
            flips = np.searchsorted(self._corrections, base + e[cand]) - np.searchsorted(
                self._corrections, base + s[cand]
            )
            parity[cand] ^= (flips & 1).astype(np.uint8)
        return parity

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
        mine = self._parity(bis.pss[sel], bis.s[sel], mid, bis.block[sel])
        left_odd = (mine ^ left_values).astype(bool)
        sent = channel.send("bob", "cascade/odd-halves", np.packbits(left_odd))
        bis.advance(sel, mid, left_odd)
        return sent

    def settle_round(self) -> np.ndarray:
        found = self.bisections.pop_found(self.public)
        if found.size:
            self.key[found] ^= self.key.dtype.type(1)
            coords, coord_blocks, _ = self.public.toggle(found)
            mine = self._has_prefix[coords // self.public.n]  # passes whose prefix is older
            at = np.searchsorted(self._corrections, coords[mine])
            self._corrections = np.insert(self._corrections, at, coords[mine])
            self._dirty[coord_blocks[mine]] = True
            self.bisections.cancel_hit(self.public, coords, coord_blocks)
            self._sort_odd_passes()  # after the corrections: new prefixes include them
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
    # later passes of the default schedule split the key into LATE_BLOCKS random blocks
    late = sizes is None and n >= _BUCKET_MIN_BITS
    bucket_bits = [_LATE_BITS if late and i >= 2 else 0 for i in range(len(schedule))]
    table = _PublicTable(n, schedule, bucket_bits)  # public: computed from the public seeds
    alice = CascadeAlice(alice_key, rng_alice, table)
    bob = CascadeBob(bob_key, table)
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
