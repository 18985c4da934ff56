"""The station key store: transactions, deterministic IDs, locks, corruption, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qentangle.errors import QentangleError, ValidationError
from qentangle.network.keystore import (
    Allocation,
    KeyAccessError,
    KeyStore,
    KeyStoreError,
    KeysUnavailable,
    key_id_for,
)

pytestmark = pytest.mark.timeout(120)

PARAMS = {"eps_sec": 1e-10, "eps_cor": 1e-15, "qber": 0.02}


def _payload(seed: int, size: int) -> bytes:
    return bytes((seed * 131 + 7 * i) % 256 for i in range(size))


@pytest.fixture
def store(tmp_path: Path):
    with KeyStore.open(tmp_path / "alice" / "keys.sqlite") as opened:
        yield opened


def test_file_is_private_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    with KeyStore.open(path) as store:
        store.commit_block("b0", _payload(1, 64), key_bytes=32, params=PARAMS)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        for companion in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if companion.exists():
                assert stat.S_IMODE(os.stat(companion).st_mode) == 0o600
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_commit_block_ids_deterministic_and_identical_across_stations(tmp_path: Path) -> None:
    payload = _payload(3, 100)
    with KeyStore.open(tmp_path / "a.sqlite") as alice, KeyStore.open(tmp_path / "b.sqlite") as bob:
        ids_a = alice.commit_block("blk-1", payload, key_bytes=32, params=PARAMS)
        ids_b = bob.commit_block("blk-1", payload, key_bytes=32, params=PARAMS)
        assert ids_a == ids_b == [key_id_for("blk-1", i) for i in range(3)]  # 100 // 32 keys, tail dropped
        assert len(set(ids_a)) == 3
        assert alice.fingerprint() == bob.fingerprint()
        assert alice.key_ids() == bob.key_ids() == ids_a
        info = alice.block_info("blk-1")
        assert info is not None and info["length_bits"] == 800 and info["key_count"] == 3
        assert info["params"] == PARAMS and info["state"] == "stored"


def test_commit_block_idempotent_and_refuses_a_different_payload(store: KeyStore) -> None:
    payload = _payload(5, 64)
    first = store.commit_block("b", payload, key_bytes=16, params=PARAMS)
    assert store.commit_block("b", payload, key_bytes=16, params=PARAMS) == first
    assert store.stats()["keys"] == 4 and store.stats()["blocks"] == 1
    other = bytearray(payload)
    other[10] ^= 1
    with pytest.raises(KeyStoreError, match="already stored with different keys") as caught:
        store.commit_block("b", bytes(other), key_bytes=16, params=PARAMS)
    assert payload.hex() not in str(caught.value)
    assert store.stats()["keys"] == 4


def test_has_last_block_and_stats(store: KeyStore) -> None:
    assert store.last_block() is None and not store.has_block("x")
    assert store.stats() == {
        "blocks": 0,
        "keys": 0,
        "bits": 0,
        "available": 0,
        "pending": 0,
        "allocated": 0,
        "delivered": 0,
        "available_bytes": 0,
    }
    store.commit_block("x", _payload(1, 64), key_bytes=32, params=PARAMS)
    store.commit_block("y", _payload(2, 96), key_bytes=32, params=PARAMS)
    assert store.has_block("x") and store.has_block("y") and store.last_block() == "y"
    assert store.block_ids() == ["x", "y"]
    stats = store.stats()
    assert stats["blocks"] == 2 and stats["keys"] == 5 and stats["bits"] == 8 * 160
    assert stats["available"] == 5 and stats["available_bytes"] == 160


def test_pending_blocks_confirm_and_drop(store: KeyStore) -> None:
    ids = store.commit_block(
        "p", [_payload(1, 32), _payload(2, 32)], key_bytes=32, params=PARAMS, state="pending"
    )
    assert len(ids) == 2 and store.has_block("p")
    assert store.stats()["pending"] == 2 and store.stats()["available"] == 0
    with pytest.raises(KeysUnavailable):
        store.allocate(1, 256, "m", "s")  # keys of a pending block are never handed out
    assert store.drop_block("p") and not store.has_block("p") and store.stats()["keys"] == 0
    assert not store.drop_block("p")
    store.commit_block("p", [_payload(1, 32), _payload(2, 32)], key_bytes=32, params=PARAMS, state="pending")
    store.commit_block("p", _payload(1, 32) + _payload(2, 32), key_bytes=32, params=PARAMS)  # confirms
    assert store.stats()["available"] == 2 and store.block_info("p")["state"] == "stored"
    store.allocate(1, 256, "m", "s")
    with pytest.raises(KeyStoreError, match="cannot be dropped"):
        store.drop_block("p")
    store.commit_block("q", _payload(3, 32), key_bytes=32, params=PARAMS, state="pending")
    store.confirm_block("q")
    assert store.stats()["available"] == 2
    with pytest.raises(KeyStoreError, match="not stored"):
        store.confirm_block("nope")
    with pytest.raises(ValidationError, match="state"):
        store.commit_block("r", _payload(3, 32), key_bytes=32, params=PARAMS, state="half")


def test_bad_arguments_are_one_line_errors(store: KeyStore) -> None:
    with pytest.raises(ValidationError, match="key_bytes"):
        store.commit_block("b", b"abc", key_bytes=0, params={})
    with pytest.raises(ValidationError, match="hold no key"):
        store.commit_block("b", b"abc", key_bytes=32, params={})
    with pytest.raises(ValidationError, match="block_id"):
        store.commit_block("", b"a" * 32, key_bytes=32, params={})
    with pytest.raises(ValidationError, match="JSON"):
        store.commit_block("b", b"a" * 32, key_bytes=32, params={"x": object()})
    with pytest.raises(ValidationError, match="size"):
        store.allocate(1, 12, "m", "s")


def test_no_key_bits_in_repr_stats_or_errors(store: KeyStore) -> None:
    payload = bytes(range(256)) * 2
    store.commit_block("b", payload, key_bytes=64, params=PARAMS)
    texts = [repr(store), str(store.stats()), repr(store.allocate(2, 512, "m", "s"))]
    for allocation in store.allocate(1, 512, "m", "s"):
        texts.append(str(allocation.to_dict()))
    for text in texts:
        assert payload[:16].hex() not in text and "\\x00\\x01\\x02" not in text


def test_lock_per_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    with KeyStore.open(path) as station:
        with pytest.raises(KeyStoreError, match="locked by another station"):
            KeyStore.open(path)
        with KeyStore.open(path, owner="kme") as kme:  # a station and its KME share the store
            station.commit_block("b", _payload(1, 64), key_bytes=32, params=PARAMS)
            assert kme.has_block("b")
    with KeyStore.open(path) as again:  # the lock is released on close
        assert again.has_block("b")


def test_lock_released_when_the_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    code = (
        "from qentangle.network.keystore import KeyStore\n"
        f"s = KeyStore.open({str(path)!r})\n"
        "print('ok', flush=True)\n"
        "input()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ok"
        with pytest.raises(KeyStoreError, match="locked"):
            KeyStore.open(path)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with KeyStore.open(path) as store:
            assert store.stats()["blocks"] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_corrupt_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KeyStoreError, match="corrupt or not a key store") as caught:
        KeyStore.open(path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, QentangleError)


def test_allocate_record_deliver_round_trip(tmp_path: Path) -> None:
    payload = _payload(9, 32 * 10)
    with KeyStore.open(tmp_path / "a.sqlite") as master, KeyStore.open(tmp_path / "b.sqlite") as slave:
        for store in (master, slave):
            store.commit_block("b0", payload, key_bytes=32, params=PARAMS)
        allocations = master.allocate(3, 256, "sae-a", "sae-b")
        assert [a.key_id for a in allocations] == [key_id_for("b0", i) for i in range(3)]
        wide = master.allocate(2, 384, "sae-a", "sae-b")  # 48 bytes: two stored keys each, rest discarded
        assert [len(a.unit_ids) for a in wide] == [2, 2]
        assert master.stats()["available"] == 10 - 3 - 4
        sent = [Allocation.from_dict(a.to_dict()) for a in allocations + wide]
        slave.record_allocations(sent)
        slave.record_allocations(sent)  # a retry is a no-op
        ids = [a.key_id for a in allocations + wide]
        mine = master.deliver(ids, role="master", master_sae="sae-a", slave_sae="sae-b")
        theirs = slave.deliver(ids, role="slave", master_sae="sae-a", slave_sae="sae-b")
        assert mine == theirs
        assert mine[0][1] == payload[:32] and mine[3][1] == payload[96:144] and len(mine[4][1]) == 48
        with pytest.raises(KeyAccessError, match="already delivered"):
            slave.deliver(ids[:1], role="slave", master_sae="sae-a", slave_sae="sae-b")
        assert master.stats()["delivered"] == 7 and slave.stats()["delivered"] == 7
        assert master.fingerprint() == slave.fingerprint()  # wiping delivered bits keeps the fingerprint
        wiped = (
            sqlite3.connect(tmp_path / "a.sqlite")
            .execute("SELECT COUNT(*) FROM keys WHERE bits IS NULL")
            .fetchone()[0]
        )
        assert wiped == 7


def test_deliver_only_to_the_allocated_pair_and_side(tmp_path: Path) -> None:
    with KeyStore.open(tmp_path / "a.sqlite") as store:
        store.commit_block("b", _payload(2, 128), key_bytes=32, params=PARAMS)
        (allocation,) = store.allocate(1, 256, "m1", "s1")
        with pytest.raises(KeyAccessError, match="another SAE pair"):
            store.deliver([allocation.key_id], role="master", master_sae="m1", slave_sae="s2")
        with pytest.raises(KeyAccessError, match="not allocated at this KME"):
            store.deliver([allocation.key_id], role="slave", master_sae="m1", slave_sae="s1")
        with pytest.raises(KeyAccessError, match="not allocated"):
            store.deliver([key_id_for("b", 3)], role="master", master_sae="m1", slave_sae="s1")
        with pytest.raises(KeyAccessError, match="twice"):
            store.deliver([allocation.key_id] * 2, role="master", master_sae="m1", slave_sae="s1")
        assert len(store.deliver([allocation.key_id], role="master", master_sae="m1", slave_sae="s1")) == 1


def test_allocate_refuses_more_than_stored_and_allocates_nothing(store: KeyStore) -> None:
    store.commit_block("b", _payload(2, 128), key_bytes=32, params=PARAMS)
    with pytest.raises(KeysUnavailable, match="5 requested"):
        store.allocate(5, 256, "m", "s")
    assert store.stats()["available"] == 4
    with pytest.raises(KeysUnavailable):
        store.allocate(1, 8 * 200, "m", "s")
    assert len(store.allocate(4, 256, "m", "s")) == 4
    with pytest.raises(KeysUnavailable):
        store.allocate(1, 8, "m", "s")


def test_record_allocations_refuses_missing_block_and_conflicts(tmp_path: Path) -> None:
    payload = _payload(4, 128)
    with KeyStore.open(tmp_path / "a.sqlite") as master, KeyStore.open(tmp_path / "b.sqlite") as slave:
        master.commit_block("b", payload, key_bytes=32, params=PARAMS)
        allocations = master.allocate(2, 256, "m", "s")
        with pytest.raises(KeysUnavailable, match="not committed yet"):
            slave.record_allocations(allocations)
        slave.commit_block("b", payload, key_bytes=32, params=PARAMS)
        (other,) = slave.allocate(1, 256, "m", "x")  # the slave's first key went elsewhere
        assert other.key_id == allocations[0].key_id
        with pytest.raises(KeyAccessError):
            slave.record_allocations(allocations)
        assert slave.allocation(allocations[1].key_id) is None  # nothing of the batch recorded
        master.release([a.key_id for a in allocations])
        assert master.stats()["available"] == 4


def test_allocations_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    with KeyStore.open(path) as store:
        store.commit_block("b", _payload(6, 128), key_bytes=32, params=PARAMS)
        (allocation,) = store.allocate(1, 256, "m", "s")
        store.deliver([allocation.key_id], role="master", master_sae="m", slave_sae="s")
    with KeyStore.open(path) as store:
        record = store.allocation(allocation.key_id)
        assert record is not None and record["delivered"] and record["role"] == "master"
        with pytest.raises(KeyAccessError, match="already delivered"):
            store.deliver([allocation.key_id], role="master", master_sae="m", slave_sae="s")
        assert store.allocate(1, 256, "m", "s")[0].key_id != allocation.key_id


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import qentangle.network.keystore as ks
    path, block = sys.argv[1], sys.argv[2]
    store = ks.KeyStore.open(path)
    store.commit_block("before", bytes(64), key_bytes=32, params={})
    real_connection = store._connection

    class Stalling:
        # The connection, but the last key insert of the block stalls inside the transaction.
        def __init__(self, db):
            self._db = db
        def __getattr__(self, name):
            return getattr(self._db, name)
        def executemany(self, sql, rows):
            result = self._db.executemany(sql, rows)
            if "INSERT INTO keys" in sql:
                print("inside", flush=True)
                time.sleep(60)
            return result

    store._connection = lambda: Stalling(real_connection())
    store.commit_block(block, os.urandom(32 * 1000), key_bytes=32, params={"eps_sec": 1e-10})
    """
)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_sigkill_inside_a_transaction_leaves_the_block_absent(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "keys.sqlite"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), "doomed"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "inside"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    with KeyStore.open(path, synchronous=synchronous) as store:
        assert store.has_block("before")
        assert not store.has_block("doomed")
        assert store.key_ids() == [key_id_for("before", 0), key_id_for("before", 1)]
        assert store.stats()["keys"] == 2
        store.commit_block("doomed", bytes(range(64)), key_bytes=32, params={})  # the ID is still free
        assert store.has_block("doomed")


def _scan_available(store: KeyStore, lane: tuple[int, int]) -> int:
    rank, lanes = lane
    row = store._read(
        "SELECT COALESCE(SUM(k.size_bytes), 0) FROM keys k JOIN blocks b ON b.seq = k.block_seq"
        " WHERE k.allocation IS NULL AND b.state = 'stored' AND k.idx % ? = ?",
        (lanes, rank),
    ).fetchone()
    return int(row[0])


def test_lane_counters_follow_every_operation(tmp_path: Path) -> None:
    import random

    rng = random.Random(5)
    with KeyStore.open(tmp_path / "a.sqlite") as store, KeyStore.open(tmp_path / "b.sqlite") as other:
        allocated: list[str] = []
        for step in range(60):
            action = rng.choice(
                ["commit", "pending", "confirm", "drop", "allocate", "release", "deliver", "record"]
            )
            block = f"b{step}"
            if action in ("commit", "pending"):
                payload = _payload(step, 16 * rng.randint(1, 9))
                state = "stored" if action == "commit" else "pending"
                for s in (store, other):
                    s.commit_block(block, payload, key_bytes=rng.choice([8, 16]), params={}, state=state)
            elif action == "confirm" and store.block_ids():
                store.confirm_block(rng.choice(store.block_ids()))
            elif action == "drop" and store.block_ids():
                try:
                    store.drop_block(rng.choice(store.block_ids()))
                except KeyStoreError:
                    pass
            elif action == "allocate":
                try:
                    got = store.allocate(
                        rng.randint(1, 3), 8 * rng.choice([8, 16, 24]), "m", "s", lane=(step % 2, 2)
                    )
                    allocated += [a.key_id for a in got]
                except KeysUnavailable:
                    pass
            elif action == "release" and allocated:
                store.release([allocated.pop()])
            elif action == "deliver" and allocated:
                store.deliver([allocated.pop(0)], role="master", master_sae="m", slave_sae="s")
            elif action == "record":
                try:
                    other.record_allocations(other.allocate(1, 64, "m", "s", lane=(1, 2)))
                except KeyStoreError:
                    pass
            for s in (store, other):
                for lane in ((0, 2), (1, 2), (0, 1)):
                    assert s.available_bytes(lane=lane) == _scan_available(s, lane), (step, action, lane)
                assert s.stats()["available_bytes"] == s.available_bytes()
