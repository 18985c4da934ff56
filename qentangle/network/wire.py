"""Bytes on the wire: a small, safe codec for message payloads and length-prefixed frames.

Payloads are the values the protocol's party programs send: ``None``, booleans, integers,
floats, strings, bytes, numpy arrays of plain numeric dtypes, and lists, tuples and dicts of
those. No pickle: decoding builds only these types and refuses anything else, and every length
is checked against the bytes actually present.

>>> import numpy as np
>>> value = (7, None, [np.arange(3, dtype=np.int32)], {"ok": True, "rate": 0.5})
>>> decoded = decode(encode(value))
>>> decoded[0], decoded[1], decoded[2][0].tolist(), decoded[3]
(7, None, [0, 1, 2], {'ok': True, 'rate': 0.5})
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import numpy as np

from qentangle.errors import QentangleError

MAX_FRAME_BYTES = 1 << 28  # 256 MiB: a frame announcing more is refused before reading it
_DTYPES = {"|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f8"}
_LEN = struct.Struct(">I")


class WireError(QentangleError):
    """Bytes that are not a valid frame or payload (truncated, oversized, unknown type)."""


class ConnectionClosed(QentangleError):
    """The other side closed the connection (possibly in the middle of a frame)."""


def encode(value: Any) -> bytes:
    """Canonical bytes of ``value`` (see the module docstring for the accepted types)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    if value is None:
        out.append(b"N")
    elif isinstance(value, (bool, np.bool_)):
        out.append(b"T" if value else b"F")
    elif isinstance(value, (int, np.integer)):
        text = str(int(value)).encode()
        out.append(b"I" + _LEN.pack(len(text)) + text)
    elif isinstance(value, (float, np.floating)):
        out.append(b"D" + struct.pack(">d", float(value)))
    elif isinstance(value, str):
        data = value.encode()
        out.append(b"S" + _LEN.pack(len(data)) + data)
    elif isinstance(value, (bytes, bytearray)):
        out.append(b"B" + _LEN.pack(len(value)) + bytes(value))
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        array = array.astype(dtype, copy=False)
        if dtype.str not in _DTYPES:
            raise WireError(f"arrays of dtype {array.dtype} cannot be sent")
        header = (
            dtype.str.encode()
            + struct.pack(">B", array.ndim)
            + b"".join(struct.pack(">Q", d) for d in array.shape)
        )
        data = array.tobytes()
        out.append(b"A" + header + _LEN.pack(len(data)) + data)
    elif isinstance(value, (list, tuple)):
        out.append((b"L" if isinstance(value, list) else b"U") + _LEN.pack(len(value)))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out.append(b"M" + _LEN.pack(len(value)))
        for key in sorted(value, key=str):
            _encode(str(key), out)
            _encode(value[key], out)
    else:
        raise WireError(f"a value of type {type(value).__name__} cannot be sent")


def decode(data: bytes) -> Any:
    """The value :func:`encode` made; :class:`WireError` on anything malformed or trailing."""
    value, end = _decode(memoryview(data), 0, 0)
    if end != len(data):
        raise WireError(f"{len(data) - end} trailing bytes after the payload")
    return value


def _take(data: memoryview, pos: int, size: int) -> tuple[memoryview, int]:
    if size < 0 or pos + size > len(data):
        raise WireError("payload truncated")
    return data[pos : pos + size], pos + size


def _length(data: memoryview, pos: int) -> tuple[int, int]:
    raw, pos = _take(data, pos, 4)
    return _LEN.unpack(raw)[0], pos


def _decode(data: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if depth > 16:
        raise WireError("payload nested too deeply")
    code, pos = _take(data, pos, 1)
    tag = bytes(code)
    if tag == b"N":
        return None, pos
    if tag in (b"T", b"F"):
        return tag == b"T", pos
    if tag == b"I":
        size, pos = _length(data, pos)
        if size > 4096:
            raise WireError("integer too long")
        raw, pos = _take(data, pos, size)
        try:
            return int(bytes(raw).decode("ascii")), pos
        except ValueError:
            raise WireError("malformed integer") from None
    if tag == b"D":
        raw, pos = _take(data, pos, 8)
        return struct.unpack(">d", raw)[0], pos
    if tag in (b"S", b"B"):
        size, pos = _length(data, pos)
        raw, pos = _take(data, pos, size)
        if tag == b"B":
            return bytes(raw), pos
        try:
            return bytes(raw).decode(), pos
        except UnicodeDecodeError:
            raise WireError("malformed string") from None
    if tag == b"A":
        raw, pos = _take(data, pos, 3)
        dtype = bytes(raw).decode("ascii", "replace")
        if dtype not in _DTYPES:
            raise WireError(f"array dtype {dtype!r} is not accepted")
        raw, pos = _take(data, pos, 1)
        ndim = raw[0]
        if ndim > 8:
            raise WireError("array has too many dimensions")
        raw, pos = _take(data, pos, 8 * ndim)
        shape = struct.unpack(f">{ndim}Q", raw)
        size, pos = _length(data, pos)
        raw, pos = _take(data, pos, size)
        dt = np.dtype(dtype)
        if size != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise WireError("array size does not match its shape")
        return np.frombuffer(bytes(raw), dtype=dt).reshape(shape).copy(), pos
    if tag in (b"L", b"U", b"M"):
        count, pos = _length(data, pos)
        if count > len(data):
            raise WireError("container longer than the payload")
        items = []
        for _ in range(count * (2 if tag == b"M" else 1)):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        if tag == b"M":
            return {items[i]: items[i + 1] for i in range(0, len(items), 2)}, pos
        return (items if tag == b"L" else tuple(items)), pos
    raise WireError(f"unknown payload type byte {tag!r}")


def send_frame(sock: socket.socket, body: bytes) -> None:
    """Write one frame: a 4-byte big-endian length, then ``body``."""
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    sock.sendall(_LEN.pack(len(body)) + body)


def recv_frame(sock: socket.socket) -> bytes:
    """Read one frame; :class:`ConnectionClosed` when the peer closed, even mid-frame."""
    (size,) = _LEN.unpack(_recv_exact(sock, 4))
    if size > MAX_FRAME_BYTES:
        raise WireError(f"frame announces {size} bytes, more than {MAX_FRAME_BYTES}")
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    parts: list[bytes] = []
    missing = size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            where = "mid-frame (truncated)" if missing != size or parts else "between frames"
            raise ConnectionClosed(f"connection closed {where}")
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


def send_value(sock: socket.socket, value: Any) -> None:
    """One unauthenticated frame holding ``value`` (set-up messages and detection records)."""
    send_frame(sock, encode(value))


def recv_value(sock: socket.socket) -> Any:
    """The value of the next unauthenticated frame."""
    return decode(recv_frame(sock))
