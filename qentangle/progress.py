"""Progress bars: one helper for every long phase, configured once by the command line.

``progress_bar(total, progress=..., label=...)`` returns a tqdm bar on stderr (never stdout).
``progress=True`` shows it at once, ``False`` never, and ``None`` (automatic) follows the
process-wide setting made by :func:`configure`: by default, shown only when someone watches
(stderr is a terminal or the code runs in a Jupyter kernel) and only once the phase has lasted
:data:`PROGRESS_DELAY_S` seconds.

>>> configure(enabled=False)
>>> progress_bar(10, progress=None, label="demo").disable
True
>>> configure(enabled=None)  # back to automatic
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

__all__ = ["PROGRESS_DELAY_S", "configure", "note", "progress_bar", "watched"]

PROGRESS_DELAY_S = 2.0  # an automatic progress bar appears only when a phase lasts longer

_enabled: bool | None = None


def configure(*, enabled: bool | None = None) -> None:
    """Set what ``progress=None`` means in this process.

    ``None`` (default): automatic (shown when watched, after the delay); ``True``: always,
    at once; ``False``: never.
    """
    global _enabled
    _enabled = enabled


def progress_bar(total: int, *, progress: bool | None, label: str, unit: str = "pair") -> tqdm:
    """A progress bar on stderr over ``total`` units (rounds, or distillation blocks).

    ``progress=None`` (automatic) shows it only when someone watches (stderr is a terminal,
    or the code runs in a Jupyter kernel) and only once the phase has lasted
    :data:`PROGRESS_DELAY_S` seconds, whatever the engine; ``True`` shows it at once,
    ``False`` never; :func:`configure` changes what ``None`` means. Nothing goes to stdout.
    """
    if progress is None:
        progress = _enabled
    if progress is None:
        show, delay = watched(), PROGRESS_DELAY_S
    else:
        show, delay = bool(progress), 0.0
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=unit == "pair",
        desc=label,
        disable=not show,
        leave=False,
        delay=delay,
        file=sys.stderr,
    )


def watched() -> bool:
    """True when stderr is a terminal or a Jupyter kernel's output (not a pipe or a log file)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def note(text: str, *, progress: bool | None = None) -> None:
    """Write one line on stderr (an estimate before a long run) unless progress is off."""
    if (_enabled if progress is None else progress) is False:
        return
    sys.stderr.write(text.rstrip() + "\n")
    sys.stderr.flush()
