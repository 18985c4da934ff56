"""Memory that is reused, not refaulted: work buffers and a heap that keeps freed pages.

Two sources of fresh pages dominated the distillation of large blocks (about half of its CPU
time was the kernel zeroing pages on minor faults):

* our own temporaries (the float64 copies of a key, spectra, convolutions): they now live in
  :class:`Workspace` buffers, grown once to the largest size of a run and then only viewed;
* the scratch memory that libraries allocate inside a call (pocketfft allocates about
  ``16 N`` bytes per transform of length ``N``). glibc serves allocations above its mmap
  threshold (32 MiB at most by default) with fresh ``mmap`` pages and returns them on
  ``free``, so every transform faulted 30,000 pages in again. :func:`retained_heap` raises
  the threshold and the trim threshold while it is active, so such blocks come from the heap
  and are reused by the next call; on leaving the outermost ``with``, the defaults come back
  and the heap is trimmed (``malloc_trim``), so the memory is returned to the system.

On other platforms (no glibc) :func:`retained_heap` does nothing.

>>> with retained_heap():
...     buffer = Workspace().floats("x", 10)
>>> buffer.shape
(10,)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_DEFAULT_MMAP_THRESHOLD = 128 * 1024
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_RETAINED_MMAP_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from the heap
_RETAINED_TRIM_THRESHOLD = 1 << 62  # never give the heap's top back while retained

_lock = threading.Lock()
_depth = 0
_libc: ctypes.CDLL | bool | None = None


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                _libc = lib
            except (OSError, AttributeError):  # pragma: no cover - musl or no libc
                _libc = False
    return _libc or None


@contextmanager
def retained_heap() -> Iterator[None]:
    """Within the ``with``, freed large blocks stay in the heap for the next allocation.

    Re-entrant and thread-safe (a counter): the settings change on entering the outermost
    ``with`` and are restored, with a ``malloc_trim``, on leaving it.
    """
    global _depth
    libc = _glibc()
    with _lock:
        _depth += 1
        if _depth == 1 and libc is not None:
            # mallopt takes an int: 2^30 for the mmap threshold, the largest int for the trim one
            libc.mallopt(_M_MMAP_THRESHOLD, _RETAINED_MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, min(_RETAINED_TRIM_THRESHOLD, 2**31 - 1))
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and libc is not None:
                libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)


class Workspace(threading.local):
    """Named work buffers per thread, grown to the largest size asked and then reused.

    A buffer is returned as a view of its first ``size`` entries; its content is whatever the
    last user left (callers write before they read). Never holds a buffer across calls of
    different users with the same name.

    >>> ws = Workspace()
    >>> a = ws.floats("conv", 100); b = ws.floats("conv", 50)
    >>> bool(np.shares_memory(a, b)), b.size
    (True, 50)
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, str], np.ndarray] = {}

    def array(self, name: str, size: int, dtype: np.dtype | type) -> np.ndarray:
        """A 1-D buffer of ``size`` entries of ``dtype`` (contents undefined)."""
        dtype = np.dtype(dtype)
        key = (name, dtype.str)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < size:
            self._buffers.pop(key, None)
            buffer = np.empty(max(size, 1), dtype=dtype)
            self._buffers[key] = buffer
        return buffer[:size]

    def floats(self, name: str, size: int) -> np.ndarray:
        """A float64 buffer."""
        return self.array(name, size, np.float64)

    def complexes(self, name: str, size: int) -> np.ndarray:
        """A complex128 buffer."""
        return self.array(name, size, np.complex128)

    def release(self) -> None:
        """Drop every buffer of this thread (the next use allocates again)."""
        self._buffers.clear()


WORKSPACE = Workspace()
