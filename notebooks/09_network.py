# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · A network: source and ground stations as separate processes
#
# Until now Alice and Bob were two objects in one Python process. Here they are two
# processes, each with its own key store on disk, talking over TCP; a third process, the
# source, sends each station only its own detection records. The stations run the *same*
# protocol code as `run_bbm92` (the party programs of `qentangle.protocols.keying`), every
# message framed, numbered and authenticated with the Wegman-Carter channel.
#
# We start a `lab` network (a fixed 20 dB link), watch keys arrive, kill a station with
# SIGKILL, restart it, and check that the two key stores hold the same keys under the same IDs.

# %%
import sqlite3
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from qentangle.network import nodes
from qentangle.network.config import load_config

# The lab preset, with blocks of 2^18 pairs at full speed so the tutorial stays short.
config = replace(load_config("lab", speed=0), rounds_per_block=1 << 18)
directory = Path(tempfile.mkdtemp()) / "net"
network = nodes.start_network(config, directory)
for name, entry in network["nodes"].items():
    print(f"{name:7s} pid {entry['pid']}  address {entry['address']}")


# %% [markdown]
# Each station stores every distilled block in its own SQLite store, `DIR/<station>/keys.sqlite`.
# `network_status` reads both (counts and fingerprints only, never key bits).


# %%
def stored_blocks(station: str) -> list[str]:
    path = directory / station / "keys.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT block_id FROM blocks WHERE state = 'stored'")]


def wait_for_blocks(count: int, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if min(len(stored_blocks("alice")), len(stored_blocks("bob"))) >= count:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"fewer than {count} blocks after {timeout} s")


def show() -> None:
    status = nodes.network_status(directory)
    for name in ("alice", "bob"):
        info = status["nodes"][name]
        print(f"{name:6s} {info['state']:8s} blocks {info.get('stored_blocks', 0):3d}  keys {info.get('keys', 0):5d}")
    print("stores match:", status.get("stores_match"))


wait_for_blocks(2)
show()

# %% [markdown]
# Now Bob's process dies without warning (SIGKILL), possibly in the middle of a block. Alice
# notices the dropped connection and keeps trying to reconnect. We restart Bob with the same
# directory: the stations authenticate their set-up, settle the block that was in flight (stored
# on both sides or dropped on both), and go on with the next block.

# %%
before = stored_blocks("bob")
pid = nodes.kill_node(directory, "bob")
print("killed bob, pid", pid)
nodes.start_network(config, directory, node="bob")
wait_for_blocks(len(before) + 1)
after = stored_blocks("bob")
print("no stored block lost:", after[: len(before)] == before)
show()

# %% [markdown]
# Stop every node; the stores stay on disk. Both hold the same blocks, key IDs and key bits.
# (If Alice was stopped between writing a block *pending* and confirming it, the block is
# confirmed or dropped at the next connection; we compare the blocks Bob holds.)

# %%
nodes.stop_network(directory)


def keys(station: str) -> list[tuple[str, str, bytes]]:
    path = directory / station / "keys.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return list(db.execute(
            "SELECT b.block_id, k.key_id, k.bits FROM keys k JOIN blocks b ON b.seq = k.block_seq"
            " ORDER BY b.seq, k.idx"
        ))


bob_keys = keys("bob")
alice_keys = keys("alice")[: len(bob_keys)]
print(len(bob_keys), "keys at Bob; the same IDs and bits at Alice:", alice_keys == bob_keys)
