"""Helpers of the network tests: a small, fast configuration and a network that kills its nodes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from qentangle.network import nodes
from qentangle.network.config import load_config

SMALL = """
[network]
speed = 0.0
seed = {seed}
[link]
pair_rate_hz = 1.0e7
loss_db = 20.0
depolarizing = 0.04
[keys]
rounds_per_block = 65536
key_bytes = 32
auth_key_mib = 16
timeout_s = 8.0
"""


def small_config(tmp_path: Path, seed: int = 1):
    path = tmp_path / "small.toml"
    path.write_text(SMALL.format(seed=seed))
    return load_config(path)


class Network:
    """A network directory whose every node is killed at teardown, by pid."""

    def __init__(self, directory: Path, config) -> None:
        self.dir, self.config = directory, config
        self.pids: set[int] = set()

    def start(self, node: str | None = None) -> dict:
        network = nodes.start_network(self.config, self.dir, node=node)
        self.pids |= {entry["pid"] for entry in network["nodes"].values() if entry.get("pid")}
        return network

    def spawn(self, network: dict, name: str) -> dict:
        entry = nodes.spawn_node(network, name)
        self.pids.add(entry["pid"])
        return entry

    def kill(self, name: str) -> int:
        return nodes.kill_node(self.dir, name)

    def blocks(self, name: str, state: str | None = "stored") -> list[str]:
        with sqlite3.connect(f"file:{self.dir / name / 'keys.sqlite'}?mode=ro", uri=True) as db:
            sql = "SELECT block_id FROM blocks" + (" WHERE state = ?" if state else "") + " ORDER BY seq"
            return [row[0] for row in db.execute(sql, (state,) if state else ())]

    def keys(self, name: str) -> list[tuple[str, str, bytes]]:
        """(block ID, key ID, bits) of the stored blocks' keys."""
        with sqlite3.connect(f"file:{self.dir / name / 'keys.sqlite'}?mode=ro", uri=True) as db:
            return list(
                db.execute(
                    "SELECT b.block_id, k.key_id, k.bits FROM keys k JOIN blocks b ON b.seq = k.block_seq"
                    " WHERE b.state = 'stored' ORDER BY b.seq, k.idx"
                )
            )

    def wait_blocks(self, count: int, timeout: float = 90.0, names=("alice", "bob")) -> None:
        """Wait (bounded) until every station stored at least ``count`` blocks."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(len(self.blocks(n)) >= count for n in names):
                    return
            except sqlite3.Error:
                pass  # the store is being created
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} blocks after {timeout} s: {self.status()}")
            time.sleep(0.1)  # polling the stores' state, bounded by the deadline

    def status(self) -> dict:
        return nodes.network_status(self.dir)

    def stop(self) -> None:
        if (self.dir / "network.json").exists():
            nodes.stop_network(self.dir)
        for pid in self.pids:
            nodes._kill(pid)


def assert_stores_agree(net: Network) -> None:
    """Identical stored blocks, key IDs and bits; at most Alice's last block still pending."""
    alice, bob = net.keys("alice"), net.keys("bob")
    assert alice == bob and alice
    assert len({key_id for _, key_id, _ in alice}) == len(alice)  # no key ID reused
    pending = net.blocks("alice", "pending")
    assert len(pending) <= 1
    assert not net.blocks("bob", "pending")
    if pending:  # written by Alice, maybe also stored by Bob: resolved at the next connection
        assert (
            pending[0] not in net.blocks("alice")
            and net.blocks("alice") == net.blocks("bob")[: len(net.blocks("alice"))]
        )
