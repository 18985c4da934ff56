"""Reading and writing files at the package's boundary.

Every file qentangle writes goes to a temporary file in the same folder, is flushed to disk, and
replaces the target in one atomic rename, so an interruption never leaves a half-written one
behind. Key files are created with mode 0600. An ``OSError`` (missing file, no permission, full
disk, a folder in the way) becomes a :class:`~qentangle.errors.QentangleError` naming the file
and the reason, which the command line prints as one line.

Files that belong together (keys and their report) are written as a set by :func:`write_set`:
every new file is first written in full to a temporary file beside its target, then all are
renamed into place with interrupts (SIGINT, SIGTERM) held back until the last rename is done,
so an interruption leaves either the complete old set or the complete new set, and never a
temporary file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomic(folder / "a.txt", b"hello")
>>> (folder / "a.txt").read_bytes()
b'hello'
>>> write_set(folder, {"a.txt": b"new", "b.txt": b"pair", "old.txt": None})
>>> sorted(p.name for p in folder.iterdir()), (folder / "a.txt").read_bytes()
(['a.txt', 'b.txt'], b'new')
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
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
    _fsync_directory(directory)


def write_set(directory: str | Path, files: Mapping[str, bytes | None], *, mode: int = 0o600) -> None:
    """Replace a set of files in ``directory`` together: each name maps to its new bytes, or to
    ``None`` to remove that file. Either every change happens or none (see the module docstring).

    Raises :class:`QentangleError` naming the file when the file system refuses; then the old
    set is untouched and no temporary file remains.
    """
    directory = Path(directory)
    temporaries: dict[Path, str] = {}
    try:
        for name, data in files.items():
            target = directory / name
            if data is None:
                continue
            try:
                if target.is_dir() and not target.is_symlink():
                    raise IsADirectoryError(21, "Is a directory", str(target))
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            except OSError as error:
                raise file_error(target, "write", _with_name(error, target)) from error
            temporaries[target] = tmp
            try:
                os.fchmod(fd, mode)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                raise file_error(target, "write", error) from error
        for name, data in files.items():
            target = directory / name
            if data is None and target.is_dir() and not target.is_symlink():
                raise file_error(target, "remove", IsADirectoryError(21, "Is a directory", str(target)))
        with interrupts_deferred():
            for target, tmp in temporaries.items():
                os.replace(tmp, target)
            temporaries.clear()
            for name, data in files.items():
                if data is None:
                    with contextlib.suppress(FileNotFoundError):
                        (directory / name).unlink()
            _fsync_directory(directory)
    except OSError as error:
        raise file_error(directory, "write", error) from error
    finally:
        for tmp in temporaries.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _with_name(error: OSError, path: Path) -> OSError:
    return type(error)(error.errno, error.strerror, str(path)) if error.errno else error


def _fsync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; deliver them (as usual) right after it.

    Only in the main thread (where Python runs signal handlers); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    names = [signal.SIGINT, signal.SIGTERM]
    previous = {number: signal.getsignal(number) for number in names}
    for number in names:
        signal.signal(number, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum, _frame in received[:1]:
            signal.raise_signal(signum)


def check_regular_file(path: str | Path, label: str) -> int:
    """The size of ``path`` in bytes, or :class:`ValidationError` unless it is a regular file.

    Devices, pipes and folders (``/dev/zero``, ``/dev/stdin``) are refused before any read.
    """
    from qentangle.errors import ValidationError

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValidationError(f"{label}={str(path)!r} does not exist") from None
    except OSError as error:
        raise file_error(path, "read", error, label) from error
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(f"{label}={str(path)!r} is a directory: expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(
            f"{label}={str(path)!r} is not a regular file (a device or a pipe): expected a file"
        )
    return info.st_size


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
