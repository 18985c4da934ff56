"""SIGKILL of any node at random points: after restart the stores agree and nothing stored is lost."""

from __future__ import annotations

import random
import time

import pytest
from netutil import assert_stores_agree

from qentangle.network import nodes

NODES = ("alice", "bob", "source")


def _kill_and_restart(network, points: int, seed: int) -> None:
    rng = random.Random(seed)
    network.start()
    network.wait_blocks(1)
    for _ in range(points):
        kept = {name: network.keys(name) for name in ("alice", "bob")}
        victim = rng.choice(NODES)
        time.sleep(rng.uniform(0.0, 1.5))  # a random kill point within the running blocks
        network.kill(victim)
        network.pids.add(network.start(node=victim)["nodes"][victim]["pid"])
        network.wait_blocks(len(network.blocks("bob")) + 1, timeout=120)
        for name, keys in kept.items():  # no stored key lost, none changed
            now = network.keys(name)
            assert now[: len(keys)] == keys, (victim, name)
        assert set(network.blocks("bob")) <= set(network.blocks("alice", None))  # Bob never ahead
    nodes.stop_network(network.dir)
    assert_stores_agree(network)


@pytest.mark.timeout(300)
def test_three_random_kill_points(network):
    _kill_and_restart(network, points=3, seed=11)


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_twenty_random_kill_points(network):
    _kill_and_restart(network, points=20, seed=2026)
