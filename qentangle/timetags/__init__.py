"""From detector clicks to coincidences (pure numpy): streams, files, clock sync, coincidences.

* :mod:`~qentangle.timetags.events`: :class:`Clicks` (int64 ps times, detector patterns),
  :class:`DetectorMap` (what each detector measures), the multi-click (squashing) rule;
* :mod:`~qentangle.timetags.streams`: click streams of two stations from a pair source and a
  link (:class:`ClickModel`), generated epoch by epoch;
* :mod:`~qentangle.timetags.formats`: qcrypto raw events and the native format, read through
  memory maps;
* :mod:`~qentangle.timetags.sync`: offset and drift between the stations' clocks;
* :mod:`~qentangle.timetags.coincidences`: sorted-merge matching, accidentals, window choice;
* :mod:`~qentangle.timetags.lab`: the fixed ``lab`` link.

The protocols on coincidences live one layer up (:mod:`qentangle.protocols.clicks`), the click
models of scenarios in :mod:`qentangle.scenarios.timetags`.

>>> from qentangle.timetags import ClickModel, relative_clocks, simulate_clicks, synchronize
>>> model = ClickModel.constant(pair_rate_hz=1e5, eta_a=0.2, eta_b=0.2, duration_s=0.5)
>>> alice, bob = simulate_clicks(model.with_clocks(*relative_clocks(-0.25, 5.0)), seed=1)
>>> result = synchronize(alice.times_ps, bob.times_ps)
>>> round(result.offset_s, 9), round(result.drift_ppm, 2)
(-0.25, 5.0)
"""

from qentangle.timetags.coincidences import ClockModel, Coincidences, find_coincidences, match
from qentangle.timetags.events import Clicks, DetectorMap, resolve
from qentangle.timetags.formats import ClickFile, ClickWriter, open_clicks, read_clicks, write_clicks
from qentangle.timetags.lab import LAB, FixedLink
from qentangle.timetags.streams import (
    ClickModel,
    Clock,
    DetectorModel,
    LinkProfile,
    StationModel,
    iter_clicks,
    relative_clocks,
    simulate_clicks,
)
from qentangle.timetags.sync import SyncError, SyncResult, synchronize

__all__ = [
    "LAB",
    "ClickFile",
    "ClickModel",
    "ClickWriter",
    "Clicks",
    "Clock",
    "ClockModel",
    "Coincidences",
    "DetectorMap",
    "DetectorModel",
    "FixedLink",
    "LinkProfile",
    "StationModel",
    "SyncError",
    "SyncResult",
    "find_coincidences",
    "iter_clicks",
    "match",
    "open_clicks",
    "read_clicks",
    "relative_clocks",
    "resolve",
    "simulate_clicks",
    "synchronize",
    "write_clicks",
]
