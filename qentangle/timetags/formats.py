"""Time-tag files: qcrypto raw events and the native format, read and written in epochs.

**qcrypto raw events** (the output of qcrypto's ``readevents``): a sequence of 64-bit events,
each stored as two 32-bit words, the most significant word first, each word little-endian
(as written on x86). In the 64-bit value the timestamp is the top 49 bits, in units of 125 ps;
the lowest 4 bits are the detector pattern (bit 0 = detector 1); bits 4-14 are kept as they are
(``Clicks.aux``) so that a file read and written again is bit-identical. Times are rounded
down to 125 ps when written. The file carries no metadata: its detector map is the protocol's
standard one (BBM92: detectors 1-4 = H, V, D, A).

**Native** (``.qtt``): the magic ``b"QTTAG\\x00\\x01\\x00"``, a 4096-byte UTF-8 JSON header
padded with spaces, then packed little-endian records of 9 bytes: int64 time (ps) and uint8
pattern. The header holds ``format``, ``version``, ``time_unit`` (``"ps"``), ``station``,
``events`` (the record count, checked against the file size), ``detector_map`` (settings,
outcomes, Bloch angles and labels of each detector) and ``clock`` (what is known of the
station's clock; for simulated files the true offset and drift).

Both are read ``events_per_chunk`` at a time (one seek and one read each), so a file of 10^9 events is
processed in bounded memory. A malformed or truncated file raises one
:class:`~qentangle.errors.QentangleError` naming the file and the byte offset.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "alice.raw"
>>> write_clicks(path, Clicks(np.array([125, 1000, 250_000]), np.array([1, 8, 3])), format="qcrypto")
>>> f = open_clicks(path)
>>> f.events, f.read().times_ps.tolist(), f.read().patterns.tolist()
(3, [125, 1000, 250000], [1, 8, 3])
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.errors import QentangleError, ValidationError, check_choice
from qentangle.files import file_error
from qentangle.timetags.events import Clicks, DetectorMap

FORMATS = ("qcrypto", "native")
EXTENSIONS = {"qcrypto": ".raw", "native": ".qtt"}
QCRYPTO_UNIT_PS = 125
QCRYPTO_TIME_BITS = 49
QCRYPTO_MAX_PS = ((1 << QCRYPTO_TIME_BITS) - 1) * QCRYPTO_UNIT_PS
NATIVE_MAGIC = b"QTTAG\x00\x01\x00"
NATIVE_HEADER_BYTES = 4096
NATIVE_DATA_OFFSET = len(NATIVE_MAGIC) + NATIVE_HEADER_BYTES
NATIVE_RECORD = np.dtype([("t", "<i8"), ("p", "u1")])
QCRYPTO_RECORD = np.dtype([("hi", "<u4"), ("lo", "<u4")])
DEFAULT_CHUNK = 1 << 22


class TimeTagFileError(QentangleError):
    """A time-tag file is malformed: the message names the file and the byte offset."""


def _qcrypto_words(clicks: Clicks) -> np.ndarray:
    times = clicks.times_ps
    if times.size and (times.min() < 0 or times.max() > QCRYPTO_MAX_PS):
        raise ValidationError(
            f"times are out of range for qcrypto raw events: expected 0 <= time <= {QCRYPTO_MAX_PS} ps"
        )
    if clicks.patterns.size and int(clicks.patterns.max()) > 15:
        raise ValidationError("qcrypto raw events hold 4 detectors: a pattern uses a fifth")
    aux = np.zeros(times.size, np.uint64) if clicks.aux is None else clicks.aux.astype(np.uint64) & 0x7FF
    value = (
        ((times // QCRYPTO_UNIT_PS).astype(np.uint64) << np.uint64(15))
        | (aux << np.uint64(4))
        | clicks.patterns.astype(np.uint64)
    )
    words = np.empty(times.size, QCRYPTO_RECORD)
    words["hi"] = (value >> np.uint64(32)).astype(np.uint32)
    words["lo"] = (value & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return words


def _native_records(clicks: Clicks) -> np.ndarray:
    records = np.empty(len(clicks), NATIVE_RECORD)
    records["t"] = clicks.times_ps
    records["p"] = clicks.patterns
    return records


def native_header(
    *,
    station: str,
    detector_map: DetectorMap,
    clock: dict[str, Any] | None = None,
    events: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON header of a native file (see the module docstring)."""
    return {
        "format": "qentangle-clicks",
        "version": 1,
        "time_unit": "ps",
        "station": station,
        "events": int(events),
        "detector_map": detector_map.to_dict(),
        "clock": clock or {},
        **(extra or {}),
    }


class ClickWriter:
    """Write a click stream epoch by epoch; the file appears (atomically) only on :meth:`close`.

    Data goes to a temporary file next to the target; ``close`` fixes the header and renames it,
    ``abort`` (or an exception inside ``with``) removes it, so an interrupt leaves nothing behind.
    """

    def __init__(self, path: str | Path, *, format: str, header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.format = check_choice("format", format, FORMATS)
        self.header = dict(header or native_header(station="", detector_map=DetectorMap.bbm92()))
        self.events = 0
        self._last = None
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent or ".")
        except OSError as error:
            raise file_error(self.path, "write", error) from error
        self._tmp = Path(name)
        self._handle = os.fdopen(fd, "wb")
        if self.format == "native":
            self._handle.write(NATIVE_MAGIC + b" " * NATIVE_HEADER_BYTES)

    def write(self, clicks: Clicks) -> None:
        """Append events, later than every event written so far."""
        if not len(clicks):
            return
        if self._last is not None and clicks.times_ps[0] < self._last:
            raise ValidationError("events must be written in time order")
        data = _qcrypto_words(clicks) if self.format == "qcrypto" else _native_records(clicks)
        try:
            self._handle.write(data.tobytes())
        except OSError as error:
            self.abort()
            raise file_error(self.path, "write", error) from error
        self.events += len(clicks)
        self._last = int(clicks.times_ps[-1])

    def close(self) -> None:
        """Finish the file: header (native), flush, fsync, rename onto the target."""
        try:
            if self.format == "native":
                text = json.dumps({**self.header, "events": self.events}).encode()
                if len(text) > NATIVE_HEADER_BYTES:
                    raise ValidationError(
                        f"native header is {len(text)} bytes: at most {NATIVE_HEADER_BYTES}"
                    )
                self._handle.seek(len(NATIVE_MAGIC))
                self._handle.write(text)
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        except OSError as error:
            self.abort()
            raise file_error(self.path, "write", error) from error
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the partial file."""
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ClickWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_clicks(
    path: str | Path, clicks: Clicks, *, format: str = "native", header: dict[str, Any] | None = None
) -> None:
    """Write one whole stream (see :class:`ClickWriter` for epoch-by-epoch writing)."""
    with ClickWriter(path, format=format, header=header) as writer:
        writer.write(clicks)


@dataclass
class ClickFile:
    """An opened time-tag file: its format, header, event count, and chunked reads."""

    path: Path
    format: str
    header: dict[str, Any]
    events: int
    _dtype: np.dtype = field(repr=False)
    _offset: int = field(repr=False)
    _itemsize: int = field(repr=False)
    _checked_to: int = field(default=0, repr=False)
    _last_time: int | None = field(default=None, repr=False)

    @property
    def detector_map(self) -> DetectorMap | None:
        """The header's detector map (native files), else ``None`` (the protocol's default)."""
        data = self.header.get("detector_map")
        return DetectorMap.from_dict(data) if data else None

    @property
    def station(self) -> str:
        """The station named in the header ('' when unknown)."""
        return str(self.header.get("station", ""))

    def _fail(self, index: int, problem: str) -> None:
        raise TimeTagFileError(
            f"{str(self.path)!r} is not a valid {self.format} time-tag file: {problem} at byte offset "
            f"{self._offset + index * self._itemsize}"
        )

    def read(self, start: int = 0, stop: int | None = None) -> Clicks:
        """Events ``start`` to ``stop`` (default: all), checked for order and empty patterns."""
        stop = self.events if stop is None else min(stop, self.events)
        times, patterns, aux = self._decode(self._records(start, stop))
        self._check(start, times, patterns)
        return Clicks(times, patterns, aux)

    def _records(self, start: int, stop: int) -> np.ndarray:
        """Raw records ``start`` to ``stop``, read with one seek (no memory map: pages a map has
        touched would count as the process's memory until the map is dropped)."""
        count = max(0, stop - start)
        if not count:
            return np.zeros(0, self._dtype)
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset + start * self._itemsize)
                return np.fromfile(handle, dtype=self._dtype, count=count)
        except OSError as error:
            raise file_error(self.path, "read", error) from error

    def _decode(self, block: np.ndarray):
        """Times (int64 ps), patterns and (qcrypto) the bits 4-14 of raw records."""
        if self.format == "qcrypto":
            value = (block["hi"].astype(np.uint64) << np.uint64(32)) | block["lo"].astype(np.uint64)
            times = (value >> np.uint64(15)).astype(np.int64) * QCRYPTO_UNIT_PS
            patterns = (value & np.uint64(0xF)).astype(np.uint8)
            aux = ((value >> np.uint64(4)) & np.uint64(0x7FF)).astype(np.uint16)
            return times, patterns, aux
        return block["t"].astype(np.int64), block["p"].astype(np.uint8), None

    def _check(self, start: int, times: np.ndarray, patterns: np.ndarray) -> None:
        if not times.size:
            return
        empty = np.flatnonzero(patterns == 0)
        if empty.size:
            self._fail(start + int(empty[0]), "an event with no detector bit")
        if self.format == "native" and times[0] < 0:
            self._fail(start, "a negative time")
        previous = self._last_time if start == self._checked_to and start > 0 else None
        if previous is not None and times[0] < previous:
            self._fail(start, "a time earlier than the event before")
        back = np.flatnonzero(np.diff(times) < 0)
        if back.size:
            self._fail(start + int(back[0]) + 1, "a time earlier than the event before")
        if start + times.size > self._checked_to and start <= self._checked_to:
            self._checked_to = start + times.size
            self._last_time = int(times[-1])

    def chunks(self, events_per_chunk: int = DEFAULT_CHUNK) -> Iterator[Clicks]:
        """The whole file, ``events_per_chunk`` events at a time (bounded memory)."""
        for start in range(0, self.events, events_per_chunk):
            yield self.read(start, start + events_per_chunk)

    def between(self, t0_ps: int, t1_ps: int) -> Clicks:
        """Events with ``t0_ps <= time < t1_ps`` (binary search in the file, then one read)."""
        lo, hi = self._search(t0_ps), self._search(t1_ps)
        return self.read(lo, hi)

    def _time_at(self, index: int) -> int:
        return int(self._decode(self._records(index, index + 1))[0][0])

    def _search(self, t_ps: int) -> int:
        lo, hi = 0, self.events
        while lo < hi:  # binary search over the file: log2(events) reads, not a loop per event
            mid = (lo + hi) // 2
            if self._time_at(mid) < t_ps:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @property
    def first_time_ps(self) -> int:
        """Time of the first event."""
        return self._time_at(0) if self.events else 0

    @property
    def last_time_ps(self) -> int:
        """Time of the last event."""
        return self._time_at(self.events - 1) if self.events else 0


def detect_format(path: str | Path) -> str:
    """``native`` if the file starts with the native magic, else ``qcrypto``."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(NATIVE_MAGIC))
    except OSError as error:
        raise file_error(path, "read", error) from error
    return "native" if head == NATIVE_MAGIC else "qcrypto"


def open_clicks(path: str | Path, *, format: str | None = None) -> ClickFile:
    """Open a time-tag file (format detected from its first bytes unless given)."""
    path = Path(path)
    fmt = detect_format(path) if format is None else check_choice("format", format, FORMATS)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise file_error(path, "read", error) from error
    name = repr(str(path))
    if fmt == "qcrypto":
        offset, dtype, header = 0, QCRYPTO_RECORD, {}
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(NATIVE_DATA_OFFSET)
        except OSError as error:
            raise file_error(path, "read", error) from error
        if raw[: len(NATIVE_MAGIC)] != NATIVE_MAGIC:
            raise TimeTagFileError(f"{name} is not a native time-tag file: no magic at byte offset 0")
        if len(raw) < NATIVE_DATA_OFFSET:
            raise TimeTagFileError(f"{name} is truncated: the header ends at byte offset {len(raw)}")
        try:
            header = json.loads(raw[len(NATIVE_MAGIC) :].decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != "qentangle-clicks":
                raise ValueError("not a qentangle-clicks header")
        except (ValueError, UnicodeDecodeError) as error:
            raise TimeTagFileError(
                f"{name} has a malformed header at byte offset {len(NATIVE_MAGIC)}: {error}"
            ) from None
        if header.get("time_unit") != "ps":
            raise TimeTagFileError(
                f"{name}: time_unit {header.get('time_unit')!r} is not 'ps' (byte offset 8)"
            )
        offset, dtype = NATIVE_DATA_OFFSET, NATIVE_RECORD
    body = size - offset
    events = body // dtype.itemsize
    if body % dtype.itemsize:
        raise TimeTagFileError(
            f"{name} is truncated: a partial {dtype.itemsize}-byte event at byte offset "
            f"{offset + events * dtype.itemsize}"
        )
    if fmt == "native" and int(header.get("events", events)) != events:
        raise TimeTagFileError(
            f"{name} is truncated: its header promises {header['events']} events, the data ends at "
            f"byte offset {size} after {events}"
        )
    return ClickFile(path, fmt, header, int(events), dtype, offset, dtype.itemsize)


def read_clicks(path: str | Path, *, format: str | None = None) -> Clicks:
    """A whole file as one :class:`Clicks` (use :meth:`ClickFile.chunks` for big files)."""
    return open_clicks(path, format=format).read()
