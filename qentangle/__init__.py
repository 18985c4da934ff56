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
from typing import TYPE_CHECKING, Any

from qentangle.errors import (
    AuthenticationError,
    BackendError,
    ProtocolAbort,
    QentangleError,
    ValidationError,
)

__version__ = "0.2.0"

# name -> module that owns it. One line a name; the module is imported on first use.
_LAZY: dict[str, str] = {
    # quantum core and closed forms
    "NoiseConfig": "qentangle.noise",
    "predicted_S": "qentangle.theory",
    "predicted_correlator": "qentangle.theory",
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
    "distill": "qentangle.distill",
    "distill_two_basis": "qentangle.distill",
    # satellite scenarios
    "load_scenario": "qentangle.scenarios",
    "list_presets": "qentangle.scenarios",
    "apply_overrides": "qentangle.scenarios",
    "run_pass": "qentangle.scenarios.simulate",
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


if TYPE_CHECKING:  # names for type checkers and IDEs; never executed
    from qentangle import plots
    from qentangle.channel import ClassicalChannel
    from qentangle.distill import distill, distill_two_basis
    from qentangle.noise import NoiseConfig
    from qentangle.protocols.attacks import EntanglingProbe, FakeSource, InterceptResend
    from qentangle.protocols.bbm92 import run_bbm92
    from qentangle.protocols.chsh import ChshResult, chsh_sweep, run_bell_test, run_chsh
    from qentangle.protocols.e91 import run_e91
    from qentangle.protocols.keying import KeyOptions
    from qentangle.scenarios import apply_overrides, list_presets, load_scenario
    from qentangle.scenarios.simulate import run_pass
    from qentangle.theory import predicted_correlator, predicted_S
