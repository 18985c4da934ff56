"""Framed, authenticated messages between two stations over TCP.

Every classical message is one frame::

    body = seq (8 bytes) | disclosed bits (8) | kind length (2) | kind | payload (wire codec)
    frame = 4-byte length | body | tag (16 bytes)

The tag is the package's Wegman-Carter authenticator (:mod:`qentangle.channel`): the
polynomial hash over GF(2^521 - 1) of the direction byte and the body, keyed by the 66-byte
hash key at the start of the pre-shared key, reduced to 128 bits and masked by a one-time pad.
Pads come from the pre-shared pool (:class:`PadPool`): the bootstrap key's pads, then the pads
the stations set aside from their stored blocks (replenishment, agreed in the block's
two-phase commit). Each connection works in a window of
pads agreed at its set-up and persisted *before* use, so no pad is ever used twice, across
reconnections and restarts included. Alice -> Bob message ``seq`` uses pad ``window + seq``,
Bob -> Alice uses ``window + per_direction + seq``.

The receiver checks, in order: the frame is complete (else *truncated*), the sequence number is
the next one expected (lower: *replayed*; higher: *reordered or dropped*), the tag matches the
bytes received (else *tampered*). Any failure raises :class:`MessageRejected` with that reason;
the station counts it, aborts the block (nothing of it is stored) and reconnects.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qentangle.channel import PRIME as _PRIME
from qentangle.channel import TAG_BITS, polynomial_hash
from qentangle.errors import AuthenticationError, QentangleError
from qentangle.files import write_atomic
from qentangle.network.wire import ConnectionClosed, WireError, decode, encode, recv_frame, send_frame

if TYPE_CHECKING:
    from qentangle.network.keystore import KeyStore

HASH_KEY_BYTES = 66
PAD_BYTES = TAG_BITS // 8
_HEADER = struct.Struct(">QQH")
_TAG_MASK = (1 << TAG_BITS) - 1
REJECT_REASONS = ("tampered", "replayed", "reordered", "truncated", "malformed", "out-of-order")


class MessageRejected(AuthenticationError):
    """A received frame failed a check; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"message rejected ({reason}): {detail}")
        self.reason = reason


class TransportTimeout(QentangleError):
    """The other station sent nothing within the timeout."""


class PadPool:
    """The pre-shared authentication key of a station: hash key, one-time pads, and the mark.

    ``DIR/auth.key`` holds the bootstrap key (identical at both stations, created at set-up,
    mode 0600); ``DIR/auth.json`` holds ``next_pad``, the first pad never handed out. Windows
    are reserved by moving the mark forward and writing it atomically (fsync) before any pad of
    the window is used, so a crash can waste pads but never reuse one.

    With a key ``store``, pads ``capacity_bootstrap`` and on are the replenished ones: the
    :meth:`~qentangle.network.keystore.KeyStore.auth_pads` of the stored blocks, which only
    grow at their end, so a pad's index never changes its value (:meth:`refresh` reads new ones).
    """

    def __init__(self, directory: str | Path, store: KeyStore | None = None) -> None:
        self.directory = Path(directory)
        self.store = store
        self._extra = b""
        key_path = self.directory / "auth.key"
        try:
            self._key = key_path.read_bytes()
        except OSError as error:
            raise QentangleError(
                f"cannot read the authentication key {str(key_path)!r}: {error.strerror}"
            ) from None
        if len(self._key) < HASH_KEY_BYTES + 64 * PAD_BYTES:
            raise QentangleError(f"authentication key {str(key_path)!r} is too short")
        self.hash_key = int.from_bytes(self._key[:HASH_KEY_BYTES], "little") % (_PRIME - 1) + 1
        self.capacity_bootstrap = (len(self._key) - HASH_KEY_BYTES) // PAD_BYTES
        self.capacity = self.capacity_bootstrap
        self.refresh()
        self._mark_path = self.directory / "auth.json"
        try:
            self.next_pad = int(json.loads(self._mark_path.read_text())["next_pad"])
        except FileNotFoundError:
            self.next_pad = 0
        except (OSError, ValueError, KeyError, TypeError):
            raise QentangleError(f"authentication state {str(self._mark_path)!r} is corrupt") from None

    @staticmethod
    def create(directories: list[Path], nbytes: int) -> None:
        """Write one fresh bootstrap key (``os.urandom``) to every directory, mode 0600."""
        key = os.urandom(nbytes)
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomic(directory / "auth.key", key, mode=0o600)
            write_atomic(directory / "auth.json", b'{"next_pad": 0}', mode=0o600)

    def refresh(self) -> None:
        """Take in the pads of blocks stored since the last call (from the key store)."""
        if self.store is not None:
            extra = self.store.auth_pads()
            if not extra.startswith(self._extra):  # pads already counted changed: never use them
                raise QentangleError("the replenished authentication pads changed under the pool")
            self._extra = extra
            self.capacity = self.capacity_bootstrap + len(extra) // PAD_BYTES

    @property
    def replenished(self) -> int:
        """Pads taken from distilled key so far (beyond the bootstrap key)."""
        return self.capacity - self.capacity_bootstrap

    @property
    def remaining(self) -> int:
        """Pads never handed out."""
        return self.capacity - self.next_pad

    def reserve(self, start: int, count: int) -> int:
        """Reserve pads ``[max(start, next_pad), +count)``, persisted first; return the window start."""
        begin = max(int(start), self.next_pad)
        if begin + count > self.capacity:
            raise QentangleError(
                "the pre-shared authentication key is exhausted: start a new network (new bootstrap key)"
            )
        self.next_pad = begin + count
        write_atomic(self._mark_path, json.dumps({"next_pad": self.next_pad}).encode(), mode=0o600)
        return begin

    def pad(self, index: int) -> int:
        """The one-time pad number ``index`` (an integer of 128 bits)."""
        if not 0 <= index < self.capacity:
            raise QentangleError(f"pad {index} is beyond the authentication key ({self.capacity} pads)")
        if index < self.capacity_bootstrap:
            start = HASH_KEY_BYTES + PAD_BYTES * index
            return int.from_bytes(self._key[start : start + PAD_BYTES], "little")
        start = PAD_BYTES * (index - self.capacity_bootstrap)
        return int.from_bytes(self._extra[start : start + PAD_BYTES], "little")


def replenish_bytes(pool: PadPool, reserve_pads: int, key_length: int, key_bytes: int) -> int:
    """Bytes of a block's final key to set aside as pads (a multiple of :data:`PAD_BYTES`).

    Enough to bring the pool back to ``reserve_pads`` unused pads, but at most half the block
    and never so much that less than one ``key_bytes`` key is left.

    >>> class Pool:
    ...     remaining = 1000
    >>> replenish_bytes(Pool(), 1010, 4096, 32), replenish_bytes(Pool(), 100_000, 4096, 32)
    (160, 2048)
    """
    missing = max(0, int(reserve_pads) - pool.remaining) * PAD_BYTES
    room = min(key_length // 2, key_length - key_bytes)
    return max(0, min(missing, room)) // PAD_BYTES * PAD_BYTES


class AuthenticatedConnection:
    """One station's end of an authenticated TCP connection in one pad window.

    ``send_message`` / ``recv_message`` implement :class:`qentangle.channel_transport.Transport`.
    """

    def __init__(
        self,
        sock: socket.socket,
        role: str,
        pool: PadPool,
        window: int,
        per_direction: int,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.sock, self.role, self.pool = sock, role, pool
        self.window, self.per_direction = window, per_direction
        self.sent = 0
        self.expected = 0
        self.sock.settimeout(timeout)
        if sock.family in (socket.AF_INET, socket.AF_INET6):  # no Nagle delay on small messages
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._out_base = window if role == "alice" else window + per_direction
        self._in_base = window + per_direction if role == "alice" else window
        self._out_dir = b"A" if role == "alice" else b"B"
        self._in_dir = b"B" if role == "alice" else b"A"
        self.disclosed_bits = 0

    def _tag(self, direction: bytes, body: bytes, pad_index: int) -> int:
        digest = polynomial_hash(direction + body, self.pool.hash_key)
        return (digest & _TAG_MASK) ^ self.pool.pad(pad_index)

    def send_message(self, kind: str, payload: Any, disclosed_bits: int) -> None:
        """Frame, tag and send one message."""
        if self.sent >= self.per_direction:
            raise QentangleError("this connection's pad window is used up: reconnect for a new one")
        kind_bytes = kind.encode()
        body = _HEADER.pack(self.sent, int(disclosed_bits), len(kind_bytes)) + kind_bytes + encode(payload)
        tag = self._tag(self._out_dir, body, self._out_base + self.sent)
        try:
            send_frame(self.sock, body + tag.to_bytes(PAD_BYTES, "big"))
        except TimeoutError:
            raise TransportTimeout(
                "the other station did not take a message in time (back-pressure)"
            ) from None
        self.sent += 1
        self.disclosed_bits += int(disclosed_bits)

    def recv_message(self) -> tuple[str, Any, int]:
        """The next verified message: ``(kind, payload, disclosed_bits)``."""
        try:
            frame = recv_frame(self.sock)
        except TimeoutError:
            raise TransportTimeout("the other station sent nothing in time") from None
        except ConnectionClosed as closed:
            if "truncated" in str(closed):
                raise MessageRejected("truncated", str(closed)) from None
            raise
        except WireError as error:
            raise MessageRejected("malformed", str(error)) from None
        if len(frame) < _HEADER.size + PAD_BYTES:
            raise MessageRejected("truncated", f"frame of {len(frame)} bytes is shorter than a header")
        body, tag_bytes = frame[:-PAD_BYTES], frame[-PAD_BYTES:]
        seq, disclosed, kind_length = _HEADER.unpack_from(body)
        if seq < self.expected:
            raise MessageRejected("replayed", f"sequence number {seq} was already received")
        if seq > self.expected:
            raise MessageRejected("reordered", f"sequence number {seq}, expected {self.expected}")
        if self.expected >= self.per_direction:
            raise MessageRejected("malformed", "more messages than the pad window holds")
        if int.from_bytes(tag_bytes, "big") != self._tag(self._in_dir, body, self._in_base + seq):
            raise MessageRejected("tampered", f"message {seq}: tag does not match the bytes received")
        self.expected += 1
        try:
            kind = body[_HEADER.size : _HEADER.size + kind_length].decode()
            payload = decode(body[_HEADER.size + kind_length :])
        except (UnicodeDecodeError, WireError) as error:  # authentic but unreadable: a bug, not Eve
            raise MessageRejected("malformed", str(error)) from None
        self.disclosed_bits += disclosed
        return kind, payload, int(disclosed)
