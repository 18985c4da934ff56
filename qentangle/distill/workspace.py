"""Memory that is reused, not refaulted: a heap that keeps freed pages for the next block.

About half of the CPU time of distilling 2^22-bit blocks was the kernel zeroing fresh pages
on minor faults (3.5 million of them in a 10^8-pair run): glibc serves every allocation above
its mmap threshold (32 MiB at most by default) with fresh ``mmap`` pages and unmaps them on
``free``, so each large array (a key's float copy, a spectrum, pocketfft's scratch of about
``16 N`` bytes per transform of length ``N``, Cascade's per-pass tables) was faulted in again
on every call and every block. :func:`retained_heap` raises the mmap threshold and the trim
threshold while it is active, so these blocks come from the heap and the next allocation
reuses the same, already mapped pages: buffers sized by the first block serve the whole run.
On leaving the outermost ``with`` the defaults come back and the heap is trimmed
(``malloc_trim``), so the memory is returned to the system. The block loop of
:mod:`qentangle.protocols.keying` and every FFT hash run inside it.

On other platforms (no glibc) :func:`retained_heap` does nothing.

>>> import numpy as np
>>> with retained_heap():
...     with retained_heap():  # re-entrant
...         total = float(np.ones(1 << 20).sum())
>>> total
1048576.0
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
