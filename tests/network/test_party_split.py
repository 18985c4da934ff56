"""One protocol definition, two ways to run it: the party programs in one process and over TCP."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from qentangle.channel import ClassicalChannel
from qentangle.channel_transport import run_lockstep, run_party
from qentangle.distill.chain import ChainPlan, combine_sides, distill, distill_party
from qentangle.network.transport import AuthenticatedConnection, PadPool
from qentangle.protocols.keying import KeyOptions, block_party

pytestmark = pytest.mark.timeout(120)


def _pair(seed: int, n: int, qber: float):
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < qber).astype(np.uint8)


def _over_tcp(tmp_path, alice_party, bob_party):
    """Run the two programs in two threads over a loopback TCP connection, authenticated."""
    PadPool.create([tmp_path / "a", tmp_path / "b"], 1 << 20)
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname()[:2])
    accepted, _ = server.accept()
    server.close()
    results: dict[str, object] = {}

    def run(role, sock, party, folder):
        try:
            pool = PadPool(folder)
            connection = AuthenticatedConnection(sock, role, pool, pool.reserve(0, 4096), 2048, timeout=60)
            results[role] = run_party(role, party, connection)
        except BaseException as error:  # reported by the assertion below
            results[role] = error

    threads = [
        threading.Thread(target=run, args=("alice", client, alice_party, tmp_path / "a")),
        threading.Thread(target=run, args=("bob", accepted, bob_party, tmp_path / "b")),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        client.close()
        accepted.close()
    assert not any(isinstance(r, BaseException) for r in results.values()), results
    return results["alice"], results["bob"]


@pytest.mark.parametrize("ec", ["cascade", "ldpc"])
def test_distillation_over_tcp_equals_in_process(tmp_path, ec):
    alice_bits, bob_bits = _pair(5, 20_000, 0.03)
    plan = ChainPlan(ec=ec, ldpc_frame_bits=4096)
    channel = ClassicalChannel.with_random_key(np.random.default_rng(0), nbytes=1 << 20)
    local = distill(
        alice_bits, bob_bits, channel, ec=ec, ldpc_frame_bits=4096, rng_alice=np.random.default_rng(9)
    )
    alice, bob = _over_tcp(
        tmp_path,
        lambda end: distill_party(end, alice_bits, plan, rng=np.random.default_rng(9)),
        lambda end: distill_party(end, bob_bits, plan),
    )
    remote = combine_sides(alice, bob)
    assert not local.aborted and local.keys_match
    assert np.array_equal(remote.alice_key, local.alice_key)
    assert np.array_equal(remote.bob_key, local.alice_key)
    assert remote.to_dict() == local.to_dict()  # every public figure, leakage included


def test_block_party_over_tcp_equals_finish_key_block(tmp_path):
    """The station's block program is the in-process block program: same estimate, same key."""
    rng = np.random.default_rng(3)
    alice_bits, bob_bits = _pair(3, 30_000, 0.02)
    labels = rng.integers(0, 2, alice_bits.size, dtype=np.uint8)
    options = KeyOptions()
    eps = (options.eps_sec, options.eps_cor)
    channel = ClassicalChannel.with_random_key(np.random.default_rng(1), nbytes=1 << 20)
    (est_a, side_a), (_, side_b) = run_lockstep(
        channel,
        lambda end: block_party(end, alice_bits, options, eps, labels=labels, rng=np.random.default_rng(4)),
        lambda end: block_party(end, bob_bits, options, eps, labels=labels),
    )
    (net_est, net_a), (_, net_b) = _over_tcp(
        tmp_path,
        lambda end: block_party(end, alice_bits, options, eps, labels=labels, rng=np.random.default_rng(4)),
        lambda end: block_party(end, bob_bits, options, eps, labels=labels),
    )
    assert side_a.key.size > 10_000 and np.array_equal(side_a.key, side_b.key)
    assert np.array_equal(net_a.key, side_a.key) and np.array_equal(net_b.key, side_b.key)
    assert net_est.sample == est_a.sample and net_est.qber_upper == est_a.qber_upper
    assert net_a.result.leaked_bits == side_a.result.leaked_bits == channel.disclosed_bits
