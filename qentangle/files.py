"""Reading and writing files at the package's boundary.

Every file qentangle writes goes to a temporary file in the same folder, is flushed to disk, and
replaces the target in one atomic rename, so an interruption never leaves a half-written one
behind. Key files are created with mode 0600. An ``OSError`` (missing file, no permission, full
disk, a folder in the way) becomes a :class:`~qentangle.errors.QentangleError` naming the file
and the reason, which the command line prints as one line.

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
from typing import Any, BinaryIO

from qentangle.errors import QentangleError


def file_error(path: str | Path, action: str, error: OSError, label: str | None = None) -> QentangleError:
    """A one-line :class:`QentangleError` for an ``OSError`` on ``path`` (``action``: read, write)."""
    name = f"{label}={str(path)!r}" if label else repr(str(path))
    reason = error.strerror or type(error).__name__
    return QentangleError(f"cannot {action} {name}: {reason}")


def open_binary(path: str | Path, *, label: str | None = None) -> BinaryIO:
    """Open ``path`` for reading bytes; an ``OSError`` becomes a :class:`QentangleError`.

    ``label`` (e.g. the command-line argument's name) is shown before the path.
    """
    try:
        return open(path, "rb")  # the caller closes it
    except OSError as error:
        raise file_error(path, "read", error, label) from error


def read_bytes(path: str | Path, *, label: str | None = None) -> bytes:
    """The content of ``path``; an ``OSError`` becomes a :class:`QentangleError` naming it."""
    with open_binary(path, label=label) as handle:
        try:
            return handle.read()
        except OSError as error:
            raise file_error(path, "read", error, label) from error


def write_atomic(path: str | Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), with permissions ``mode``.

    Raises :class:`QentangleError` naming ``path`` when the file system refuses.
    """
    path = Path(path)
    try:
        _write_atomic(path, data, mode)
    except OSError as error:
        raise file_error(path, "write", error) from error


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
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


def remove_file(path: str | Path) -> bool:
    """Delete ``path`` if it exists; return whether it did. Errors as for :func:`write_atomic`."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise file_error(path, "remove", error) from error
    return True


def save_figure(figure: Any, path: str | Path, **savefig_kwargs: Any) -> None:
    """Render a matplotlib figure to ``path`` atomically (format from the file's suffix)."""
    buffer = io.BytesIO()
    suffix = Path(path).suffix.lstrip(".") or "png"
    figure.savefig(buffer, format=suffix, **savefig_kwargs)
    write_atomic(path, buffer.getvalue())
