"""Limits stated up front: a size that cannot fit is refused before any work, with the estimate.

A :class:`Cost` states what one unit of a size parameter (a shot, a pair, a second of data
time) costs in memory and time, measured on the reference machine (2 cores, numbers in each
declaration). :meth:`Cost.check` refuses a size whose estimated peak memory exceeds half of the
memory available now, or whose estimated run time exceeds :data:`MAX_RUN_S`; the error names
the parameter, the value, the estimate and the largest accepted value on this machine.

Two environment variables move the limits: ``QENTANGLE_MAX_RUN_S`` (longest estimated run in
seconds, default 3600) and ``QENTANGLE_MAX_MEMORY_BYTES`` (a memory budget below half the
available memory; the fuzz tests use 4e9).

>>> cost = Cost(bytes_per_unit=48, units_per_second=5e6, fixed_bytes=0)
>>> cost.describe(10_000_000)
'about 480 MB and 2 s'
>>> try:
...     cost.check("shots", 1e20)
... except ValidationError as error:
...     print(str(error).split(";")[0])
shots=1e+20 is too large: it needs about 4.8e+12 GB and 6.3e+05 years
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from qentangle.errors import ValidationError

__all__ = [
    "LONG_RUN_S", "MAX_RUN_S", "Cost", "available_memory_bytes", "format_bytes", "format_seconds",
    "max_run_s",
]

MAX_RUN_S = 3600.0
"""Longest estimated run accepted by default (1 hour; ``QENTANGLE_MAX_RUN_S`` changes it)."""
LONG_RUN_S = 10.0
"""A run estimated longer than this announces its estimate on stderr before it starts."""
MEMORY_SHARE = 0.5
"""Share of the memory available at the call that one run may plan to use."""


def max_run_s() -> float:
    """The longest estimated run accepted: ``QENTANGLE_MAX_RUN_S`` or :data:`MAX_RUN_S`."""
    return _env_number("QENTANGLE_MAX_RUN_S", MAX_RUN_S)


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def available_memory_bytes() -> int:
    """Memory available to a new allocation now (``MemAvailable``), or physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def format_bytes(count: float) -> str:
    """``480 MB``, ``1.2 GB`` (decimal units).

    >>> format_bytes(1.25e9)
    '1.2 GB'
    """
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            value = count / size
            text = f"{value:.2g}" if value < 10 or value >= 1e4 else f"{value:.0f}"
            return f"{text} {unit}"
    return f"{count:.0f} B"


def format_seconds(seconds: float) -> str:
    """``2 s``, ``3.5 min``, ``2.1 h``, ``6.3e+05 years``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.2g} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.2g} h"
    if seconds < 365 * 86400:
        return f"{seconds / 86400:.2g} days"
    return f"{seconds / (365.25 * 86400):.2g} years"


@dataclass(frozen=True)
class Cost:
    """Memory and time of a run as a function of one size: ``fixed + n * per_unit``."""

    bytes_per_unit: float
    units_per_second: float
    fixed_bytes: float = 0.0

    def estimate(self, units: float) -> tuple[float, float]:
        """Estimated peak memory (bytes) and run time (seconds) for ``units``."""
        return self.fixed_bytes + units * self.bytes_per_unit, units / self.units_per_second

    def describe(self, units: float) -> str:
        """The estimate in words: ``about 480 MB and 2 s``."""
        memory, seconds = self.estimate(units)
        return f"about {format_bytes(memory)} and {format_seconds(seconds)}"

    def largest(self, memory_bytes: float | None = None) -> int:
        """The largest size accepted with ``memory_bytes`` available (default: now)."""
        memory = MEMORY_SHARE * (available_memory_bytes() if memory_bytes is None else memory_bytes)
        memory = min(memory, _env_number("QENTANGLE_MAX_MEMORY_BYTES", memory))
        by_memory = (memory - self.fixed_bytes) / self.bytes_per_unit
        by_time = max_run_s() * self.units_per_second
        return max(0, int(min(by_memory, by_time)))

    def check(self, name: str, units: float, *, label: str | None = None, shown: str | None = None) -> None:
        """Refuse ``units`` when it cannot fit (see the module docstring); ``shown``: as typed."""
        if units <= self.largest():
            return
        if shown is None:
            shown = f"{units:g}" if isinstance(units, float) else str(units)
        template = (
            f"{{name}}={shown} is too large: it needs {self.describe(units)}; expected {{name}} <= "
            f"{self.largest():.3g} on this machine (half the available memory, runs of at most "
            f"{format_seconds(max_run_s())}: QENTANGLE_MAX_RUN_S)"
        )
        raise ValidationError(template.replace("{name}", label or name), param=name, template=template)
