"""A network whose bootstrap authentication key holds one pad window keeps running past it: the
stations replenish their pads from distilled key, the same bits at both, never made keys."""

from __future__ import annotations

import json
import sqlite3

import pytest
from netutil import Network, assert_stores_agree

from qentangle.network.config import load_config
from qentangle.network.keystore import KeyStore
from qentangle.network.transport import PAD_BYTES, PadPool

pytestmark = pytest.mark.timeout(180)

TINY_KEY = """
[network]
speed = 0.0
seed = 5
[link]
pair_rate_hz = 1.0e7
loss_db = 20.0
depolarizing = 0.04
[keys]
rounds_per_block = 1048576
key_bytes = 32
auth_window_pads = 1024
auth_key_kib = 33
auth_reserve_pads = 8192
timeout_s = 20.0
"""


def test_a_tiny_bootstrap_key_is_replenished_and_the_network_keeps_running(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_KEY)
    config = load_config(path)
    bootstrap_pads = (config.auth_key_bytes - 66) // PAD_BYTES
    assert bootstrap_pads < 2 * 2 * config.auth_window_pads  # room for one connection's window only
    net = Network(tmp_path / "net", config)
    try:
        net.start()
        net.wait_blocks(5, timeout=150)
        status = net.status()
    finally:
        net.stop()
    marks = [json.loads((net.dir / n / "auth.json").read_text())["next_pad"] for n in ("alice", "bob")]
    assert min(marks) > bootstrap_pads  # pads beyond the bootstrap key were reserved and used
    for name in ("alice", "bob"):
        assert status["nodes"][name]["pads_replenished"] > 0
    assert_stores_agree(net)
    with KeyStore.open(net.dir / "alice" / "keys.sqlite", owner="t1") as alice, KeyStore.open(
        net.dir / "bob" / "keys.sqlite", owner="t1"
    ) as bob:
        pads = alice.auth_pads()
        assert pads and pads == bob.auth_pads() and len(pads) % PAD_BYTES == 0
        keys = {bits for _, _, bits in net.keys("alice")}
        assert not any(pads[i : i + 32] in keys for i in range(0, len(pads), 32))  # pads are never keys
        pool = PadPool(net.dir / "bob", bob)
        assert pool.capacity == pool.capacity_bootstrap + len(pads) // PAD_BYTES


def test_a_version_1_store_gains_the_pads_table_and_pads_follow_their_block(tmp_path):
    path = tmp_path / "keys.sqlite"
    with KeyStore.open(path) as store:
        store.commit_block("n-00000000", bytes(range(64)), key_bytes=32, params={})
    db = sqlite3.connect(path)  # make it a version 1 store, as written before replenishment
    db.execute("DROP TABLE auth_pads")
    db.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
    db.commit()
    db.close()
    with KeyStore.open(path) as store:
        assert store.auth_pads() == b"" and len(store.key_ids()) == 2  # old keys kept
        store.commit_block("n-00000002", b"k" * 64, key_bytes=32, params={}, auth_pads=b"b" * 32)
        store.commit_block("n-00000001", b"j" * 64, key_bytes=32, params={}, state="pending",
                           auth_pads=b"a" * 16)
        assert store.auth_pads() == b"b" * 32  # a pending block's pads are not usable
        store.confirm_block("n-00000001")
        assert store.auth_pads() == b"a" * 16 + b"b" * 32  # block ID order, as at the other station
        store.drop_block("n-00000002")
        assert store.auth_pads() == b"a" * 16
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0] == "2"
