"""A man in the middle between the stations: every attack detected, nothing of it stored."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from netutil import assert_stores_agree

from qentangle.network import nodes
from qentangle.network.wire import decode

pytestmark = pytest.mark.timeout(240)

_LEN = struct.Struct(">I")
ATTACKS = ["tamper", "replay", "reorder", "truncate", "drop", "delay"]
TARGET = "cascade/pass-seed"  # followed at once by cascade/block-parities: two frames in a row


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _kind(frame: bytes) -> str:
    kind_length = struct.unpack_from(">H", frame, 16)[0]
    return frame[18 : 18 + kind_length].decode(errors="replace")


class Proxy:
    """Forwards Bob -> Alice bytes as they are; parses Alice -> Bob frames and attacks one block
    per connection, one attack after the other, then forwards faithfully."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.attacks = list(ATTACKS)
        self.attacked_blocks: dict[str, int] = {}
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            attack = self.attacks.pop(0) if self.attacks else None
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            threading.Thread(target=self._frames, args=(client, server, attack), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(sink)
            _close(source)

    def _frames(self, client: socket.socket, server: socket.socket, attack: str | None) -> None:
        block, held = None, None
        try:
            while True:
                frame = _read(client, _LEN.unpack(_read(client, 4))[0])
                kind = _kind(frame) if len(frame) > 34 else ""
                if kind == "block/start":
                    block = decode(frame[18 + len(kind) : -16])
                if attack is not None and held is None and kind == TARGET:
                    held = frame
                    self.attacked_blocks[attack] = block
                    if attack == "truncate":
                        server.sendall(_LEN.pack(len(frame)) + frame[: len(frame) // 2])
                        return
                    if attack == "delay":
                        time.sleep(0.3)
                        server.sendall(_LEN.pack(len(frame)) + frame)
                        attack = None
                    continue  # held until the next frame (or dropped)
                if held is not None and attack is not None:
                    if attack == "tamper":
                        frame = frame[:-20] + bytes([frame[-20] ^ 1]) + frame[-19:]
                        out = [held, frame]
                    elif attack == "replay":
                        out = [held, held]
                    elif attack == "reorder":
                        out = [frame, held]
                    else:  # drop
                        out = [frame]
                    for item in out:
                        server.sendall(_LEN.pack(len(item)) + item)
                    attack = None
                    continue
                server.sendall(_LEN.pack(len(frame)) + frame)
        except OSError:
            pass
        finally:
            _close(server)
            _close(client)

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            _close(sock)


def _close(sock: socket.socket) -> None:
    """Shut down, then close: a FIN reaches the peer even while another thread reads the socket."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def test_every_attack_is_detected_and_nothing_of_it_is_stored(network):
    network.start(node="source")
    network.start(node="bob")
    state = nodes.read_network(network.dir)
    proxy = Proxy(tuple(state["nodes"]["bob"]["address"]))
    try:
        state["nodes"]["bob"]["address"] = list(proxy.address)  # Alice dials the proxy
        network.spawn(state, "alice")
        network.wait_blocks(2, timeout=150)
        deadline = time.monotonic() + 60
        while proxy.attacks or len(proxy.attacked_blocks) < len(ATTACKS):
            assert time.monotonic() < deadline, proxy.attacked_blocks
            time.sleep(0.1)  # polling the proxy's progress, bounded
        network.wait_blocks(len(network.blocks("alice")) + 1, timeout=60)
    finally:
        proxy.close()
        nodes.stop_network(network.dir)
    rejected = nodes.network_status(network.dir)["nodes"]["bob"]["rejected"]
    assert rejected.get("tampered", 0) >= 1
    assert rejected.get("replayed", 0) >= 1
    assert rejected.get("reordered", 0) >= 2  # reordered, and the gap a dropped message leaves
    assert rejected.get("truncated", 0) >= 1
    assert_stores_agree(network)
    stored = set(network.blocks("alice")) | set(network.blocks("bob"))
    network_id = state["id"]
    for attack, block in proxy.attacked_blocks.items():
        if attack != "delay":  # a delayed message is no attack on integrity: its block may be stored
            assert f"{network_id}-{block:08d}" not in stored, attack
