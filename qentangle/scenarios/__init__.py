"""Satellite double-downlink scenarios: preset TOML files and their validated loader.

>>> from qentangle.scenarios import load_scenario, list_presets, apply_overrides
>>> list_presets()
['micius-2017', 'micius-2020']
>>> scenario = apply_overrides(load_scenario("micius-2020"), ["protocol.slice_s=5"])
>>> scenario.protocol.slice_s
5.0
"""

from qentangle.scenarios.loader import (
    apply_overrides,
    from_dict,
    list_presets,
    load_scenario,
    parse_toml,
    preset_text,
    schema,
)
from qentangle.scenarios.model import (
    OrbitConfig,
    ProtocolConfig,
    Scenario,
    TimeConfig,
)

__all__ = [
    "OrbitConfig",
    "ProtocolConfig",
    "Scenario",
    "TimeConfig",
    "apply_overrides",
    "from_dict",
    "list_presets",
    "load_scenario",
    "parse_toml",
    "preset_text",
    "schema",
]
