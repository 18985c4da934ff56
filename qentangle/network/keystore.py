"""A station's key store: final keys in SQLite (standard library), crash-safe and private.

One file per station, in WAL mode, created with mode 0600. A distilled *block* and all of its
keys are written in one transaction: after a crash the block is stored whole or not at all.
Key IDs are UUIDs derived from ``(block_id, index)`` (``uuid5``), so two stations that commit
the same block produce the same IDs without talking.

The key management entity (:mod:`qentangle.kme`) hands the keys to applications: it
*allocates* stored keys to a (master SAE, slave SAE) pair, the other station's store
*records* the same allocation, and each side *delivers* a key at most once, to the SAE it was
allocated to; the key bits are wiped from the store once delivered. Every step is one
transaction, so allocations and deliveries survive a restart. Each KME allocates only from its
own *lane* (the stored keys whose index is its rank modulo the number of KMEs), so two KMEs
never pick the same key at the same time. A block committed as ``"pending"`` (for a two-phase
agreement between stations) is never allocated until confirmed, and can be dropped.

One process per kind may hold a store (``owner``: an exclusive ``flock`` on
``<store>.<owner>.lock``), so two stations cannot share one, while a station and its KME can.

Key bits never appear in a repr, a log, an exception or :meth:`KeyStore.stats`.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "keys.sqlite"
>>> with KeyStore.open(path) as store:
...     ids = store.commit_block("b0", bytes(range(64)), key_bytes=32, params={"eps_sec": 1e-10})
...     print(len(ids), store.stats()["available"], store.last_block())
2 2 b0
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qentangle.errors import QentangleError, ValidationError, check_positive_int

#: Namespace of the key IDs: ``uuid5(KEY_ID_NAMESPACE, f"{block_id}/{index}")``.
KEY_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://qentangle.invalid/network/keystore/key")

ROLES = ("master", "slave")
BLOCK_STATES = ("pending", "stored")
_SCHEMA_VERSION = 2  # 2: the auth_pads table (a version 1 store gains it on opening)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    block_id TEXT NOT NULL UNIQUE,
    length_bits INTEGER NOT NULL,
    key_bytes INTEGER NOT NULL,
    key_count INTEGER NOT NULL,
    digest TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    block_seq INTEGER NOT NULL REFERENCES blocks(seq),
    idx INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    bits BLOB,
    allocation TEXT,
    position INTEGER
);
CREATE INDEX IF NOT EXISTS keys_available ON keys (block_seq, idx) WHERE allocation IS NULL;
CREATE INDEX IF NOT EXISTS keys_allocation ON keys (allocation, position) WHERE allocation IS NOT NULL;
-- Authentication pads set aside from a block (never keys, never delivered): one row per block,
-- written in the block's transaction; the pad pool appends them in block ID order.
CREATE TABLE IF NOT EXISTS auth_pads (
    block_seq INTEGER PRIMARY KEY REFERENCES blocks(seq),
    pads BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS allocations (
    key_id TEXT PRIMARY KEY,
    master_sae TEXT NOT NULL,
    slave_sae TEXT NOT NULL,
    size_bits INTEGER NOT NULL,
    local_role TEXT NOT NULL,
    created REAL NOT NULL,
    delivered REAL
);
-- Bytes of available keys (free, in stored blocks) by key index parity (the two KMEs' lanes),
-- kept by triggers in the same transactions, so a status request reads two rows.
CREATE TABLE IF NOT EXISTS avail (parity INTEGER PRIMARY KEY, bytes INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS avail_insert AFTER INSERT ON keys
WHEN NEW.allocation IS NULL AND (SELECT state FROM blocks WHERE seq = NEW.block_seq) = 'stored'
BEGIN UPDATE avail SET bytes = bytes + NEW.size_bytes WHERE parity = NEW.idx % 2; END;
CREATE TRIGGER IF NOT EXISTS avail_delete AFTER DELETE ON keys
WHEN OLD.allocation IS NULL AND (SELECT state FROM blocks WHERE seq = OLD.block_seq) = 'stored'
BEGIN UPDATE avail SET bytes = bytes - OLD.size_bytes WHERE parity = OLD.idx % 2; END;
CREATE TRIGGER IF NOT EXISTS avail_allocate AFTER UPDATE OF allocation ON keys
WHEN (OLD.allocation IS NULL) != (NEW.allocation IS NULL)
 AND (SELECT state FROM blocks WHERE seq = NEW.block_seq) = 'stored'
BEGIN UPDATE avail
 SET bytes = bytes + CASE WHEN NEW.allocation IS NULL THEN NEW.size_bytes ELSE -NEW.size_bytes END
 WHERE parity = NEW.idx % 2; END;
CREATE TRIGGER IF NOT EXISTS avail_state AFTER UPDATE OF state ON blocks WHEN OLD.state != NEW.state
BEGIN UPDATE avail SET bytes = bytes
 + (CASE WHEN NEW.state = 'stored' THEN 1 ELSE 0 END - CASE WHEN OLD.state = 'stored' THEN 1 ELSE 0 END)
 * (SELECT COALESCE(SUM(size_bytes), 0) FROM keys
    WHERE block_seq = NEW.seq AND allocation IS NULL AND idx % 2 = avail.parity); END;
"""


@dataclass(frozen=True)
class Allocation:
    """Stored keys given to one SAE pair: the key ``key_id`` is the first ``size_bits`` bits of
    the concatenated ``unit_ids`` (stored keys, in order); ``key_id`` is ``unit_ids[0]``.

    Carries no key bits, so it can be sent to the other station's KME and logged.
    """

    key_id: str
    master_sae: str
    slave_sae: str
    size_bits: int
    unit_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no key bits)."""
        return {
            "key_ID": self.key_id,
            "master_SAE_ID": self.master_sae,
            "slave_SAE_ID": self.slave_sae,
            "size": self.size_bits,
            "units": list(self.unit_ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Allocation:
        """The inverse of :meth:`to_dict`; raises :class:`ValidationError` on a malformed dict."""
        try:
            units = tuple(str(unit) for unit in data["units"])
            allocation = cls(
                key_id=str(data["key_ID"]),
                master_sae=str(data["master_SAE_ID"]),
                slave_sae=str(data["slave_SAE_ID"]),
                size_bits=int(data["size"]),
                unit_ids=units,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationError(f"malformed allocation: {type(error).__name__}") from None
        if not units or allocation.key_id != units[0] or allocation.size_bits <= 0:
            raise ValidationError("malformed allocation: key_ID must be its first unit, size > 0")
        return allocation


class KeyStoreError(QentangleError):
    """The key store refused an operation (corrupt file, locked, conflicting block, ...)."""


class KeysUnavailable(KeyStoreError):
    """Not enough stored keys to serve a request (nothing was allocated)."""


class KeyAccessError(KeyStoreError):
    """A key ID is unknown, already delivered, or allocated to another SAE pair."""


def key_id_for(block_id: str, index: int) -> str:
    """The deterministic key ID of key ``index`` of block ``block_id``.

    >>> key_id_for("b0", 0) == key_id_for("b0", 0) != key_id_for("b0", 1)
    True
    """
    return str(uuid.uuid5(KEY_ID_NAMESPACE, f"{block_id}/{index}"))


class KeyStore:
    """A station's SQLite key store. Open it with :meth:`KeyStore.open`; close it (or use ``with``).

    ``owner`` names the kind of process holding it (``"station"``, ``"kme"``): an exclusive
    lock per owner stops two stations (or two KMEs) from using one store, while a station and
    its KME share it (SQLite serialises their transactions).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, lock_fd: int, owner: str) -> None:
        self._path = path
        self._db = connection
        self._lock_fd = lock_fd
        self._owner = owner

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(cls, path: str | Path, *, owner: str = "station", synchronous: str = "FULL") -> KeyStore:
        """Open (or create, mode 0600) the store at ``path``.

        Raises a one-line :class:`KeyStoreError` when the file is not a key store (corrupt),
        or when another process of the same ``owner`` kind holds it.
        ``synchronous``: SQLite's ``FULL`` (every commit survives power loss) or ``NORMAL``
        (commits survive a crash of the process, the last ones may be lost on power loss).
        """
        if not owner.isidentifier():
            raise ValidationError(f"owner={owner!r} is not valid: expected an identifier")
        synchronous = str(synchronous).upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValidationError(f"synchronous={synchronous!r} is not valid: expected one of FULL, NORMAL")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(path, 0o600)
            lock_fd = os.open(f"{path}.{owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise KeyStoreError(f"cannot open key store {str(path)!r}: {error.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            raise KeyStoreError(
                f"key store {str(path)!r} is locked by another {owner} process (one {owner} per store)"
            ) from None
        try:
            connection = _connect(path, synchronous)
        except BaseException:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
            raise
        return cls(path, connection, lock_fd, owner)

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._db is None else "open"
        return f"KeyStore({str(self._path)!r}, owner={self._owner!r}, {state})"

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    # ------------------------------------------------------------------ blocks
    def commit_block(
        self,
        block_id: str,
        keys: bytes | Sequence[bytes],
        *,
        key_bytes: int,
        params: dict[str, Any],
        state: str = "stored",
        auth_pads: bytes = b"",
    ) -> list[str]:
        """Store a distilled block and its keys in one transaction; return the key IDs.

        ``keys`` (bytes, or a sequence of bytes that are concatenated) is cut into
        ``len(keys) // key_bytes`` keys of ``key_bytes`` bytes (a tail shorter than one key is
        not stored). ``params`` (JSON-safe: security parameters, QBER, ...) is kept with the
        block. Committing the same block again with the same bytes returns the same IDs and
        changes nothing (a ``"pending"`` block committed again as ``"stored"`` is confirmed);
        different bytes under an existing ``block_id`` raise :class:`KeyStoreError` (without
        key bits in the message).

        ``state="pending"`` stores the block for a two-phase agreement between stations: its
        keys are never allocated until :meth:`confirm_block`; :meth:`drop_block` removes it.

        ``auth_pads``: distilled bits the stations set aside to replenish their authentication
        key, stored with the block in the same transaction and never made keys
        (:meth:`auth_pads`).
        """
        state = _check_block_state(state)
        if not isinstance(block_id, str) or not block_id or len(block_id) > 200:
            raise ValidationError(f"block_id={block_id!r} is not valid: expected a non-empty string")
        key_bytes = check_positive_int("key_bytes", key_bytes)
        payload = bytes(keys) if isinstance(keys, (bytes, bytearray, memoryview)) else b"".join(keys)
        count = len(payload) // key_bytes
        if count == 0:
            raise ValidationError(
                f"keys of {len(payload)} bytes hold no key of key_bytes={key_bytes}:"
                f" expected >= {key_bytes} bytes"
            )
        try:
            params_text = json.dumps(params, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"params is not JSON-safe: {error}") from None
        digest = _digest(block_id, key_bytes, payload[: count * key_bytes])
        ids = [key_id_for(block_id, index) for index in range(count)]
        with self._write() as db:
            row = db.execute("SELECT digest FROM blocks WHERE block_id = ?", (block_id,)).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise KeyStoreError(f"block {block_id!r} is already stored with different keys")
                if state == "stored":
                    db.execute("UPDATE blocks SET state = 'stored' WHERE block_id = ?", (block_id,))
                return ids
            cursor = db.execute(
                "INSERT INTO blocks"
                " (block_id, length_bits, key_bytes, key_count, digest, params, state, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (block_id, 8 * len(payload), key_bytes, count, digest, params_text, state, time.time()),
            )
            seq = cursor.lastrowid
            if auth_pads:
                db.execute("INSERT INTO auth_pads (block_seq, pads) VALUES (?, ?)", (seq, bytes(auth_pads)))
            db.executemany(
                "INSERT INTO keys (key_id, block_seq, idx, size_bytes, bits) VALUES (?, ?, ?, ?, ?)",
                (
                    (ids[i], seq, i, key_bytes, payload[i * key_bytes : (i + 1) * key_bytes])
                    for i in range(count)
                ),
            )
        return ids

    def confirm_block(self, block_id: str) -> None:
        """Turn a ``"pending"`` block into a ``"stored"`` one (its keys become available).

        Raises :class:`KeyStoreError` when the block is not stored at all.
        """
        with self._write() as db:
            cursor = db.execute("UPDATE blocks SET state = 'stored' WHERE block_id = ?", (block_id,))
            if cursor.rowcount == 0:
                raise KeyStoreError(f"block {block_id!r} is not stored")

    def drop_block(self, block_id: str) -> bool:
        """Remove a block and its keys in one transaction; return whether it was there.

        Refused (:class:`KeyStoreError`) once any of its keys is allocated: keys that may have
        reached an application are never taken back.
        """
        with self._write() as db:
            row = db.execute("SELECT seq FROM blocks WHERE block_id = ?", (block_id,)).fetchone()
            if row is None:
                return False
            used = db.execute(
                "SELECT COUNT(*) FROM keys WHERE block_seq = ? AND allocation IS NOT NULL", (row[0],)
            ).fetchone()[0]
            if used:
                raise KeyStoreError(f"block {block_id!r} has {used} allocated key(s) and cannot be dropped")
            db.execute("DELETE FROM keys WHERE block_seq = ?", (row[0],))
            db.execute("DELETE FROM auth_pads WHERE block_seq = ?", (row[0],))
            db.execute("DELETE FROM blocks WHERE seq = ?", (row[0],))
        return True

    def auth_pads(self) -> bytes:
        """The authentication pads of every ``stored`` block, concatenated in block ID order.

        Blocks only grow in ID, so the result only grows at its end: both stations, holding
        the same stored blocks, read the same bytes (a ``pending`` block adds nothing).
        """
        rows = self._read(
            "SELECT a.pads FROM auth_pads a JOIN blocks b ON b.seq = a.block_seq"
            " WHERE b.state = 'stored' ORDER BY b.block_id"
        )
        return b"".join(row[0] for row in rows)

    def has_block(self, block_id: str) -> bool:
        """Whether the block ``block_id`` is stored (whole: blocks are never half stored)."""
        return self._read("SELECT 1 FROM blocks WHERE block_id = ?", (block_id,)).fetchone() is not None

    def last_block(self) -> str | None:
        """The ID of the most recently committed block, or ``None`` for an empty store."""
        row = self._read("SELECT block_id FROM blocks ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else row[0]

    def block_ids(self) -> list[str]:
        """Every stored block ID, in commit order."""
        return [row[0] for row in self._read("SELECT block_id FROM blocks ORDER BY seq")]

    def block_info(self, block_id: str) -> dict[str, Any] | None:
        """A block's row (ID, length, key size and count, parameters, state, time; no key bits)."""
        row = self._read(
            "SELECT block_id, length_bits, key_bytes, key_count, params, state, created FROM blocks"
            " WHERE block_id = ?",
            (block_id,),
        ).fetchone()
        if row is None:
            return None
        names = ("block_id", "length_bits", "key_bytes", "key_count", "params", "state", "created")
        info = dict(zip(names, row, strict=True))
        info["params"] = json.loads(info["params"])
        return info

    def key_ids(self, block_id: str | None = None) -> list[str]:
        """The stored key IDs (of one block, or all), in commit order."""
        if block_id is None:
            rows = self._read("SELECT key_id FROM keys ORDER BY block_seq, idx")
        else:
            rows = self._read(
                "SELECT k.key_id FROM keys k JOIN blocks b ON b.seq = k.block_seq WHERE b.block_id = ?"
                " ORDER BY k.idx",
                (block_id,),
            )
        return [row[0] for row in rows]

    def fingerprint(self) -> str:
        """SHA-256 over every block's ID and key digest, in commit order.

        Two stores hold identical keys under identical IDs exactly when their fingerprints
        match; the fingerprint stays the same after keys are delivered (and wiped).
        """
        hasher = hashlib.sha256()
        for block_id, digest in self._read("SELECT block_id, digest FROM blocks ORDER BY seq"):
            hasher.update(f"{block_id}\0{digest}\n".encode())
        return hasher.hexdigest()

    def stats(self) -> dict[str, int]:
        """Counts only (no key bits): blocks, keys, bits; keys ``available`` (free, in stored
        blocks), ``pending`` (in blocks not yet confirmed), ``allocated`` (not yet delivered
        here) and ``delivered``; ``available_bytes`` (the bytes of the available keys)."""
        blocks, bits = self._read("SELECT COUNT(*), COALESCE(SUM(length_bits), 0) FROM blocks").fetchone()
        keys, pending, available, available_bytes = self._read(
            "SELECT COUNT(*), COALESCE(SUM(b.state = 'pending'), 0),"
            " COALESCE(SUM(k.allocation IS NULL AND b.state = 'stored'), 0),"
            " COALESCE(SUM(CASE WHEN k.allocation IS NULL AND b.state = 'stored' THEN k.size_bytes END), 0)"
            " FROM keys k JOIN blocks b ON b.seq = k.block_seq"
        ).fetchone()
        delivered = self._read(
            "SELECT COUNT(*) FROM keys k JOIN allocations a ON a.key_id = k.allocation"
            " WHERE a.delivered IS NOT NULL"
        ).fetchone()[0]
        return {
            "blocks": int(blocks),
            "keys": int(keys),
            "bits": int(bits),
            "available": int(available),
            "pending": int(pending),
            "allocated": int(keys - available - pending - delivered),
            "delivered": int(delivered),
            "available_bytes": int(available_bytes),
        }

    def available_bytes(self, *, lane: tuple[int, int] = (0, 1)) -> int:
        """The bytes of the keys :meth:`allocate` could still take in ``lane`` (fast for 1 or 2 lanes)."""
        rank, lanes = _check_lane(lane)
        if lanes in (1, 2):
            where = "" if lanes == 1 else " WHERE parity = ?"
            row = self._read(
                "SELECT COALESCE(SUM(bytes), 0) FROM avail" + where, () if lanes == 1 else (rank,)
            )
        else:
            row = self._read(
                "SELECT COALESCE(SUM(k.size_bytes), 0) FROM keys k JOIN blocks b ON b.seq = k.block_seq"
                " WHERE k.allocation IS NULL AND b.state = 'stored' AND k.idx % ? = ?",
                (lanes, rank),
            )
        return int(row.fetchone()[0])

    def stored_bits(self) -> int:
        """The bits of every stored block (delivered keys included)."""
        return int(self._read("SELECT COALESCE(SUM(length_bits), 0) FROM blocks").fetchone()[0])

    def default_key_bytes(self) -> int | None:
        """The key size of the most recent block (the KME's default key size), or ``None``."""
        row = self._read("SELECT key_bytes FROM blocks ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    # ------------------------------------------------------------------ key delivery (KME)
    def allocate(
        self,
        key_count: int,
        size_bits: int,
        master_sae: str,
        slave_sae: str,
        *,
        lane: tuple[int, int] = (0, 1),
    ) -> list[Allocation]:
        """Give ``key_count`` keys of ``size_bits`` bits to the pair (master, slave), in one transaction.

        Each key takes the next available stored keys, in commit order, until it has
        ``size_bits / 8`` bytes (the rest of its last stored key is discarded, never reused). The
        allocations are recorded with this store as the *master* side. Raises
        :class:`KeysUnavailable` (nothing allocated) when the store holds too few keys.

        ``lane=(rank, lanes)`` takes only stored keys whose index in their block is ``rank``
        modulo ``lanes``: two KMEs that both act as masters use disjoint lanes, so they never
        allocate the same key at the same time.
        """
        (result,) = self.allocate_many([(key_count, size_bits, master_sae, slave_sae)], lane=lane)
        if isinstance(result, KeysUnavailable):
            raise result
        return result

    def allocate_many(
        self, requests: Sequence[tuple[int, int, str, str]], *, lane: tuple[int, int] = (0, 1)
    ) -> list[list[Allocation] | KeysUnavailable]:
        """:meth:`allocate` for several ``(key_count, size_bits, master_sae, slave_sae)`` requests
        in one transaction (one disk sync). Each request gets its allocations, or a
        :class:`KeysUnavailable` (and takes nothing) when too few keys are left for it."""
        checked = []
        for key_count, size_bits, master_sae, slave_sae in requests:
            checked.append(
                (
                    check_positive_int("key_count", key_count),
                    _size_bytes(size_bits),
                    int(size_bits),
                    _check_sae("master_sae", master_sae),
                    _check_sae("slave_sae", slave_sae),
                )
            )
        rank, lanes = _check_lane(lane)
        results: list[list[Allocation] | KeysUnavailable] = []
        with self._write() as db:
            rows = db.execute(
                "SELECT k.key_id, k.size_bytes FROM keys k JOIN blocks b ON b.seq = k.block_seq"
                " WHERE k.allocation IS NULL AND b.state = 'stored' AND k.idx % ? = ?"
                " ORDER BY k.block_seq, k.idx",
                (lanes, rank),
            )
            spare: list[tuple[str, int]] = []  # fetched but not used, in order
            fresh: list[Allocation] = []
            for key_count, size_bytes, size_bits, master_sae, slave_sae in checked:
                taken: list[tuple[str, int]] = []
                allocations: list[Allocation] = []
                units: list[str] = []
                have = 0
                while len(allocations) < key_count:
                    unit = spare.pop(0) if spare else rows.fetchone()
                    if unit is None:
                        break
                    taken.append(unit)
                    units.append(unit[0])
                    have += unit[1]
                    if have >= size_bytes:
                        allocations.append(
                            Allocation(units[0], master_sae, slave_sae, size_bits, tuple(units))
                        )
                        units, have = [], 0
                if len(allocations) < key_count:
                    spare[:0] = taken
                    results.append(
                        KeysUnavailable(
                            f"the store holds {len(allocations)} key(s) of {size_bits} bits,"
                            f" {key_count} requested"
                        )
                    )
                    continue
                fresh.extend(allocations)
                results.append(allocations)
            rows.close()
            self._insert_allocations(db, fresh, "master")
        return results

    def record_allocations(self, allocations: Sequence[Allocation]) -> None:
        """Record, as the *slave* side, allocations made by the other station's store.

        One transaction: every unit must be stored here and still free (or already recorded by
        this very allocation: a retried call is a no-op). Raises :class:`KeysUnavailable`
        (nothing recorded) when a unit's block is not stored here yet, :class:`KeyAccessError`
        when a unit was allocated otherwise.
        """
        with self._write() as db:
            fresh: list[Allocation] = []
            for allocation in allocations:
                _check_sae("master_sae", allocation.master_sae)
                _check_sae("slave_sae", allocation.slave_sae)
                size_bytes = _size_bytes(allocation.size_bits)
                existing = db.execute(
                    "SELECT master_sae, slave_sae, size_bits, local_role FROM allocations WHERE key_id = ?",
                    (allocation.key_id,),
                ).fetchone()
                if existing is not None:
                    same = existing == (
                        allocation.master_sae,
                        allocation.slave_sae,
                        allocation.size_bits,
                        "slave",
                    )
                    recorded = [
                        row[0]
                        for row in db.execute(
                            "SELECT key_id FROM keys WHERE allocation = ? ORDER BY position",
                            (allocation.key_id,),
                        )
                    ]
                    if not same or tuple(recorded) != allocation.unit_ids:
                        raise KeyAccessError(f"key {allocation.key_id} is already allocated differently")
                    continue
                have = 0
                for unit in allocation.unit_ids:
                    row = db.execute(
                        "SELECT k.size_bytes, k.allocation FROM keys k JOIN blocks b ON b.seq = k.block_seq"
                        " WHERE k.key_id = ? AND b.state = 'stored'",
                        (unit,),
                    ).fetchone()
                    if row is None:
                        raise KeysUnavailable(
                            f"key {unit} is not stored here (its block is not committed yet)"
                        )
                    if row[1] is not None:
                        raise KeyAccessError(f"key {unit} is already allocated")
                    have += row[0]
                if have < size_bytes or have - allocation.size_bits // 8 >= _unit_bytes(
                    db, allocation.unit_ids[-1]
                ):
                    raise KeyAccessError(f"allocation {allocation.key_id} does not match its keys' sizes")
                fresh.append(allocation)
            if len({unit for a in fresh for unit in a.unit_ids}) != sum(len(a.unit_ids) for a in fresh):
                raise KeyAccessError("allocations share a stored key")
            self._insert_allocations(db, fresh, "slave")

    def release(self, key_ids: Iterable[str]) -> None:
        """Undo undelivered allocations made here (e.g. the other KME refused them): their stored
        keys become available again. Delivered keys are never released."""
        with self._write() as db:
            for key_id in key_ids:
                row = db.execute("SELECT delivered FROM allocations WHERE key_id = ?", (key_id,)).fetchone()
                if row is None or row[0] is not None:
                    continue
                db.execute(
                    "UPDATE keys SET allocation = NULL, position = NULL WHERE allocation = ?", (key_id,)
                )
                db.execute("DELETE FROM allocations WHERE key_id = ?", (key_id,))

    def deliver(
        self, key_ids: Sequence[str], *, role: str, master_sae: str, slave_sae: str
    ) -> list[tuple[str, bytes]]:
        """Hand out keys once, in one transaction: ``[(key_id, key bytes), ...]`` in request order.

        Every key must be allocated here to exactly the pair (``master_sae``, ``slave_sae``)
        with this store on side ``role`` and not yet delivered; otherwise
        :class:`KeyAccessError` and nothing is delivered. The key bits are then wiped from the
        store (SQLite ``secure_delete``).
        """
        (result,) = self.deliver_many([(key_ids, role, master_sae, slave_sae)])
        if isinstance(result, KeyAccessError):
            raise result
        return result

    def deliver_many(
        self, requests: Sequence[tuple[Sequence[str], str, str, str]]
    ) -> list[list[tuple[str, bytes]] | KeyAccessError]:
        """:meth:`deliver` for several ``(key_ids, role, master_sae, slave_sae)`` requests in one
        transaction; each request is delivered whole or gets a :class:`KeyAccessError`."""
        for _, role, _, _ in requests:
            _check_role(role)
        results: list[list[tuple[str, bytes]] | KeyAccessError] = []
        with self._write() as db:
            now = time.time()
            for key_ids, role, master_sae, slave_sae in requests:
                db.execute("SAVEPOINT request")
                try:
                    results.append(self._deliver_in(db, list(key_ids), role, master_sae, slave_sae, now))
                except KeyAccessError as error:
                    db.execute("ROLLBACK TO request")
                    results.append(error)
                db.execute("RELEASE request")
        return results

    @staticmethod
    def _deliver_in(
        db: sqlite3.Connection, key_ids: list[str], role: str, master_sae: str, slave_sae: str, now: float
    ) -> list[tuple[str, bytes]]:
        if len(set(key_ids)) != len(key_ids):
            raise KeyAccessError("a key ID is requested twice")
        delivered: list[tuple[str, bytes]] = []
        for key_id in key_ids:
            row = db.execute(
                "SELECT master_sae, slave_sae, size_bits, local_role, delivered FROM allocations"
                " WHERE key_id = ?",
                (key_id,),
            ).fetchone()
            if row is None or row[3] != role:
                raise KeyAccessError(f"key {key_id} is not allocated at this KME")
            if (row[0], row[1]) != (master_sae, slave_sae):
                raise KeyAccessError(f"key {key_id} belongs to another SAE pair")
            if row[4] is not None:
                raise KeyAccessError(f"key {key_id} was already delivered")
            bits = b"".join(
                part[0]
                for part in db.execute(
                    "SELECT bits FROM keys WHERE allocation = ? ORDER BY position", (key_id,)
                )
            )
            delivered.append((key_id, bits[: row[2] // 8]))
            db.execute("UPDATE allocations SET delivered = ? WHERE key_id = ?", (now, key_id))
            db.execute("UPDATE keys SET bits = NULL WHERE allocation = ?", (key_id,))
        return delivered

    def allocation(self, key_id: str) -> dict[str, Any] | None:
        """An allocation's record (pair, size, side, delivered or not; no key bits), or ``None``."""
        row = self._read(
            "SELECT master_sae, slave_sae, size_bits, local_role, delivered FROM allocations"
            " WHERE key_id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            return None
        return {
            "key_ID": key_id,
            "master_SAE_ID": row[0],
            "slave_SAE_ID": row[1],
            "size": row[2],
            "role": row[3],
            "delivered": row[4] is not None,
        }

    def delivered_key_ids(self, *, role: str | None = None) -> list[str]:
        """IDs of the keys delivered from this store (optionally only on one side)."""
        if role is None:
            rows = self._read("SELECT key_id FROM allocations WHERE delivered IS NOT NULL ORDER BY key_id")
        else:
            rows = self._read(
                "SELECT key_id FROM allocations WHERE delivered IS NOT NULL AND local_role = ?"
                " ORDER BY key_id",
                (_check_role(role),),
            )
        return [row[0] for row in rows]

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _insert_allocations(db: sqlite3.Connection, allocations: Sequence[Allocation], role: str) -> None:
        now = time.time()
        db.executemany(
            "INSERT INTO allocations (key_id, master_sae, slave_sae, size_bits, local_role, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((a.key_id, a.master_sae, a.slave_sae, a.size_bits, role, now) for a in allocations),
        )
        db.executemany(
            "UPDATE keys SET allocation = ?, position = ? WHERE key_id = ? AND allocation IS NULL",
            ((a.key_id, position, unit) for a in allocations for position, unit in enumerate(a.unit_ids)),
        )

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise KeyStoreError(f"key store {str(self._path)!r} is closed")
        return self._db

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, args)
        except sqlite3.DatabaseError as error:
            raise KeyStoreError(f"key store {str(self._path)!r}: {error}") from None

    def _write(self) -> _Transaction:
        return _Transaction(self._connection(), self._path)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on any exception)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            raise KeyStoreError(f"key store {str(self._path)!r}: {error}") from None
        return self._db

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as error:
                self._db.execute("ROLLBACK")
                raise KeyStoreError(f"key store {str(self._path)!r}: {error}") from None
            return False
        self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.IntegrityError):
            raise KeyStoreError(f"key store {str(self._path)!r}: conflicting write ({exc})") from None
        if isinstance(exc, sqlite3.DatabaseError):
            raise KeyStoreError(f"key store {str(self._path)!r}: {exc}") from None
        return False


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
    except sqlite3.DatabaseError as error:
        raise KeyStoreError(f"cannot open key store {str(path)!r}: {error}") from None
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"journal mode {mode} instead of wal")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA foreign_keys = ON")
        db.executescript(_SCHEMA)
        if db.execute("SELECT COUNT(*) FROM avail").fetchone()[0] != 2:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM avail")
            db.execute(
                "INSERT INTO avail (parity, bytes) SELECT p.parity, COALESCE(("
                "SELECT SUM(k.size_bytes) FROM keys k JOIN blocks b ON b.seq = k.block_seq"
                " WHERE k.allocation IS NULL AND b.state = 'stored' AND k.idx % 2 = p.parity), 0)"
                " FROM (SELECT 0 AS parity UNION ALL SELECT 1) p"
            )
            db.execute("COMMIT")
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)", (str(_SCHEMA_VERSION),)
            )
        elif row[0] == "1":  # the tables of version 2 were created above
            db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(_SCHEMA_VERSION),))
        elif row[0] != str(_SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {row[0]}, expected {_SCHEMA_VERSION}")
        db.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as error:
        db.close()
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise KeyStoreError(f"key store {str(path)!r} is corrupt or not a key store: {reason}") from None
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            os.chmod(companion, 0o600)
    return db


def _digest(block_id: str, key_bytes: int, payload: bytes) -> str:
    hasher = hashlib.sha256(f"qentangle-block\0{block_id}\0{key_bytes}\0".encode())
    hasher.update(payload)
    return hasher.hexdigest()


def _check_lane(lane: Any) -> tuple[int, int]:
    try:
        rank, lanes = (int(part) for part in lane)
    except (TypeError, ValueError):
        raise ValidationError(f"lane={lane!r} is not valid: expected (rank, lanes)") from None
    if not 0 <= rank < lanes:
        raise ValidationError(f"lane={lane!r} is not valid: expected 0 <= rank < lanes")
    return rank, lanes


def _check_block_state(state: Any) -> str:
    if state not in BLOCK_STATES:
        raise ValidationError(f"state={state!r} is not valid: expected one of {', '.join(BLOCK_STATES)}")
    return state


def _size_bytes(size_bits: Any) -> int:
    size = check_positive_int("size", size_bits, minimum=8)
    if size % 8:
        raise ValidationError(f"size={size_bits!r} is not valid: expected a multiple of 8 bits")
    return size // 8


def _unit_bytes(db: sqlite3.Connection, key_id: str) -> int:
    return int(db.execute("SELECT size_bytes FROM keys WHERE key_id = ?", (key_id,)).fetchone()[0])


def _check_sae(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationError(f"{name}={value!r} is not valid: expected a non-empty SAE ID")
    return value


def _check_role(role: Any) -> str:
    if role not in ROLES:
        raise ValidationError(f"role={role!r} is not valid: expected one of {', '.join(ROLES)}")
    return role
