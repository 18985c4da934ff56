"""Frames and tags: every tampered, replayed, reordered or truncated message is rejected."""

from __future__ import annotations

import socket
import struct

import numpy as np
import pytest

from qentangle.network.transport import AuthenticatedConnection, MessageRejected, PadPool
from qentangle.network.wire import WireError, decode, encode, recv_frame, send_frame

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def link(tmp_path):
    """Alice's and Bob's ends of one authenticated loopback connection, plus the raw sockets."""
    PadPool.create([tmp_path / "a", tmp_path / "b"], 1 << 16)
    a_sock, b_sock = socket.socketpair()
    alice = AuthenticatedConnection(a_sock, "alice", PadPool(tmp_path / "a"), 0, 64, timeout=5)
    bob = AuthenticatedConnection(b_sock, "bob", PadPool(tmp_path / "b"), 0, 64, timeout=5)
    yield alice, bob, a_sock, b_sock
    a_sock.close()
    b_sock.close()


def _frames(alice, count):
    """Frames as Alice sends them, captured from a second socket pair."""
    capture, sink = socket.socketpair()
    alice.sock, real = capture, alice.sock
    for i in range(count):
        alice.send_message("test/kind", np.arange(i + 3, dtype=np.uint8), i)
    alice.sock = real
    frames = [recv_frame(sink) for _ in range(count)]
    capture.close()
    sink.close()
    return frames


def test_messages_round_trip_and_count_disclosed_bits(link):
    alice, bob, *_ = link
    alice.send_message("a", (1, None, np.ones(5, dtype=np.int32)), 7)
    bob.send_message("b", {"ok": True}, 0)
    kind, payload, disclosed = bob.recv_message()
    assert (kind, payload[0], payload[1], payload[2].tolist(), disclosed) == ("a", 1, None, [1] * 5, 7)
    assert alice.recv_message() == ("b", {"ok": True}, 0)


@pytest.mark.parametrize("position", [0, 5, 18, 20, -1, -17])
def test_a_flipped_bit_anywhere_is_rejected_as_tampered(link, position):
    alice, bob, a_sock, _ = link
    frame = bytearray(_frames(alice, 1)[0])
    frame[position] ^= 0x10
    send_frame(a_sock, bytes(frame))
    with pytest.raises(MessageRejected) as rejected:
        bob.recv_message()
    assert rejected.value.reason in ("tampered", "reordered", "replayed")  # a flipped seq byte


def test_payload_flip_is_tampered(link):
    alice, bob, a_sock, _ = link
    frame = bytearray(_frames(alice, 1)[0])
    frame[-20] ^= 1  # in the payload
    send_frame(a_sock, bytes(frame))
    with pytest.raises(MessageRejected, match="tampered"):
        bob.recv_message()


def test_replay_reorder_drop_and_truncation(link):
    alice, bob, a_sock, _ = link
    first, second, third = _frames(alice, 3)
    send_frame(a_sock, first)
    assert bob.recv_message()[0] == "test/kind"
    send_frame(a_sock, first)  # replayed
    with pytest.raises(MessageRejected, match="replayed"):
        bob.recv_message()
    send_frame(a_sock, third)  # second dropped (or reordered)
    with pytest.raises(MessageRejected, match="reordered"):
        bob.recv_message()
    a_sock.sendall(struct.pack(">I", len(second)) + second[:10])  # truncated, then closed
    a_sock.shutdown(socket.SHUT_WR)
    with pytest.raises(MessageRejected, match="truncated"):
        bob.recv_message()


def test_a_message_under_another_pad_window_fails(tmp_path):
    PadPool.create([tmp_path / "a", tmp_path / "b"], 1 << 16)
    a_sock, b_sock = socket.socketpair()
    with a_sock, b_sock:
        alice = AuthenticatedConnection(a_sock, "alice", PadPool(tmp_path / "a"), 0, 64)
        bob = AuthenticatedConnection(b_sock, "bob", PadPool(tmp_path / "b"), 128, 64)
        alice.send_message("k", 1, 0)
        with pytest.raises(MessageRejected, match="tampered"):
            bob.recv_message()


def test_pads_are_reserved_on_disk_before_use_and_never_handed_out_twice(tmp_path):
    PadPool.create([tmp_path], 1 << 16)
    pool = PadPool(tmp_path)
    first = pool.reserve(0, 100)
    second = PadPool(tmp_path).reserve(0, 100)  # a restarted station reads the mark
    assert (first, second) == (0, 100)
    assert (tmp_path / "auth.key").stat().st_mode & 0o777 == 0o600


def test_codec_refuses_malformed_payloads():
    good = encode((1, np.zeros(4, dtype=np.uint8)))
    for bad in (good[:-1], good + b"x", b"Z", b"A<c8\x00" + bytes(4)):
        with pytest.raises(WireError):
            decode(bad)
