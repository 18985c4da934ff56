"""Mission planning at scale: constellations, many ground stations, months of passes, on dask.

>>> from qentangle.plan import load_plan
>>> load_plan("europe-12").constellation.walker_count
12
"""

from qentangle.plan.run import PlanResult, run_plan
from qentangle.plan.scenario import (
    PlanScenario,
    from_dict,
    list_plan_presets,
    load_plan,
    parse_plan,
    pass_scenario,
    preset_document,
)

__all__ = [
    "PlanResult",
    "PlanScenario",
    "from_dict",
    "list_plan_presets",
    "load_plan",
    "parse_plan",
    "pass_scenario",
    "preset_document",
    "run_plan",
]
