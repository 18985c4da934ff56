"""The ``qentangle`` command line (see :mod:`qentangle.cli.main`).

Until :func:`qentangle.cli.main.main` takes over, Ctrl-C or SIGTERM while the command line is
still loading ends the process at once with one line and exit status 130 (nothing has been
written yet, so nothing needs cleaning up). Only when the command line is the program: importing
this package from another program changes nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _quit_while_loading(signum: int, frame: object) -> None:
    os.write(2, b"qentangle: interrupted\n")
    os._exit(130)


def running_as_program() -> bool:
    """Whether this process is the ``qentangle`` command (console script or ``python -m``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", "") or ""
    argv0 = os.path.basename(sys.argv[0]) if sys.argv else ""
    return name.startswith("qentangle.cli") or argv0 == "qentangle"


if threading.current_thread() is threading.main_thread() and running_as_program():
    signal.signal(signal.SIGINT, _quit_while_loading)
    signal.signal(signal.SIGTERM, _quit_while_loading)
