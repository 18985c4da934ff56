"""Files written so that an interruption never leaves a half-written one behind.

Every file qentangle writes goes to a temporary file in the same folder, is flushed to disk, and
replaces the target in one atomic rename. Key files are created with mode 0600.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomic(folder / "a.txt", b"hello")
>>> (folder / "a.txt").read_bytes()
b'hello'
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), with permissions ``mode``."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_private(path: str | Path, data: bytes) -> None:
    """Write key material: atomically, readable by the owner only (mode 0600)."""
    write_atomic(path, data, mode=0o600)


def save_figure(figure: Any, path: str | Path, **savefig_kwargs: Any) -> None:
    """Render a matplotlib figure to ``path`` atomically (format from the file's suffix)."""
    buffer = io.BytesIO()
    suffix = Path(path).suffix.lstrip(".") or "png"
    figure.savefig(buffer, format=suffix, **savefig_kwargs)
    write_atomic(path, buffer.getvalue())
