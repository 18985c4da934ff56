"""qentangle: entanglement-based QKD (E91, BBM92) and CHSH Bell tests on Qiskit.

The front door: the names most users need, imported lazily so that ``import qentangle`` is
fast and pulls in no Qiskit until a name that needs it is used.

>>> import qentangle as q
>>> result = q.run_chsh("phi+", shots=4000, noise=q.NoiseConfig(depolarizing=0.1), seed=7)
>>> abs(result.S - q.predicted_S("phi+", noise=q.NoiseConfig(depolarizing=0.1))) < 4 * result.S_stderr
True
>>> sorted(q.__all__)[:3]
['AuthenticationError', 'BackendError', 'ChshResult']
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import Any

from qentangle.errors import (
    AuthenticationError,
    BackendError,
    ProtocolAbort,
    QentangleError,
    ValidationError,
)

try:  # one home for the version: pyproject.toml, as installed
    __version__ = _metadata.version("qentangle")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# name -> module that owns it. One line a name; the module is imported on first use.
_LAZY: dict[str, str] = {
    # quantum core and closed forms
    "NoiseConfig": "qentangle.noise",
    "predicted_S": "qentangle.theory",
    "predicted_correlator": "qentangle.theory",
    "predicted_qber": "qentangle.theory",
    # protocols
    "run_chsh": "qentangle.protocols.chsh",
    "chsh_sweep": "qentangle.protocols.chsh",
    "run_bell_test": "qentangle.protocols.chsh",
    "ChshResult": "qentangle.protocols.chsh",
    "run_e91": "qentangle.protocols.e91",
    "run_bbm92": "qentangle.protocols.bbm92",
    "InterceptResend": "qentangle.protocols.attacks",
    "EntanglingProbe": "qentangle.protocols.attacks",
    "FakeSource": "qentangle.protocols.attacks",
    "KeyOptions": "qentangle.protocols.keying",
    # classical post-processing (no Qiskit)
    "ClassicalChannel": "qentangle.channel",
    "distill": "qentangle.distill",  # the subpackage: q.distill.distill(alice, bob, channel, ...)
    "distill_two_basis": "qentangle.distill",
    "finite_key_analyses": "qentangle.distill",
    # clicks to keys (time tags)
    "simulate_clicks": "qentangle.timetags",
    "read_clicks": "qentangle.timetags",
    "write_clicks": "qentangle.timetags",
    "synchronize": "qentangle.timetags",
    "find_coincidences": "qentangle.timetags",
    "run_on_clicks": "qentangle.protocols.clicks",
    # satellite scenarios
    "load_scenario": "qentangle.scenarios",
    "list_presets": "qentangle.scenarios",
    "apply_overrides": "qentangle.scenarios",
    "run_pass": "qentangle.scenarios.simulate",
    "run_passes": "qentangle.scenarios.multipass",
    "run_pass_timetags": "qentangle.scenarios.timetags",
    # stations as processes, keys for applications, mission planning
    "start_network": "qentangle.network.nodes",
    "network_status": "qentangle.network.nodes",
    "stop_network": "qentangle.network.nodes",
    "send_message": "qentangle.kme",
    "receive_message": "qentangle.kme",
    "load_plan": "qentangle.plan",
    "run_plan": "qentangle.plan",
    # figures
    "plots": "qentangle.plots",
}

__all__ = [
    "AuthenticationError",
    "BackendError",
    "ProtocolAbort",
    "QentangleError",
    "ValidationError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qentangle' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.rsplit(".", 1)[-1] == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

