"""Whether a process runs: the one check every node and KME launcher uses.

>>> import os
>>> pid_alive(os.getpid()), pid_alive(None), pid_alive(0)
(True, False, False)
"""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs; a missing pid, an ended process or a zombie counts as gone.

    A process owned by another user (``PermissionError`` on signal 0) counts as running.
    """
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc here: signal 0 answered, so it runs
        return True
