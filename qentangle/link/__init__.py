"""Satellite double-downlink physics (pure numpy, no Qiskit).

Orbit and pass geometry (:mod:`~qentangle.link.orbit`, :mod:`~qentangle.link.passes`),
ground stations, the link budget of each downlink, the pair source and detectors, and the
per-slice rates and noise handed to the quantum layer (:mod:`~qentangle.link.physics`).
Plots live in :mod:`qentangle.link.plots` (imported on demand: it needs matplotlib).

>>> from qentangle.link import CircularOrbit, GroundStation, best_pass, pass_physics
>>> a = GroundStation("Delingha", 37.379, 97.727, 3153.0, 1.2, key="alice")
>>> b = GroundStation("Nanshan", 43.475, 87.177, 2028.0, 1.2, key="bob")
>>> orbit = CircularOrbit.through_point(40.5, 92.7, "2020-06-01T17:00:00Z")
>>> slices = pass_physics(orbit, a, b, window=best_pass(orbit, a, b, orbit.elements_epoch, 1200.0))
>>> slices.n_slices > 100
True
"""

from qentangle.link.budget import LinkConfig, downlink_budget, from_db, to_db
from qentangle.link.detectors import Detectors
from qentangle.link.geometry import SPHERE, WGS84, slant_range_m
from qentangle.link.orbit import CircularOrbit, TLEOrbit
from qentangle.link.passes import PassGeometry, Window, track, visibility_windows
from qentangle.link.physics import LinkSlices, best_pass, pass_physics
from qentangle.link.rates import (
    coincidence_rates,
    expected_chsh,
    expected_qber,
    ma_fung_lo,
)
from qentangle.link.source import PairSource
from qentangle.link.stations import GroundStation

__all__ = [
    "SPHERE",
    "WGS84",
    "CircularOrbit",
    "Detectors",
    "GroundStation",
    "LinkConfig",
    "LinkSlices",
    "PairSource",
    "PassGeometry",
    "TLEOrbit",
    "Window",
    "best_pass",
    "coincidence_rates",
    "downlink_budget",
    "expected_chsh",
    "expected_qber",
    "from_db",
    "ma_fung_lo",
    "pass_physics",
    "slant_range_m",
    "to_db",
    "track",
    "visibility_windows",
]
