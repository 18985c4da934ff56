"""The one JSON sanitizer: result dictionaries become strict JSON (no NaN, no numpy types).

Every ``to_dict()`` and every ``--json`` output goes through :func:`json_safe`: numpy scalars
become Python numbers, arrays and tuples become lists, and a float that is not finite (NaN,
infinity: a figure that does not exist for this run) becomes ``null``.

>>> import numpy as np
>>> json_safe({"S": np.float64(2.7), "snr": float("inf"), "counts": np.array([1, 2]), "pair": (1, 2)})
{'S': 2.7, 'snr': None, 'counts': [1, 2], 'pair': [1, 2]}
>>> dumps({"qber": float("nan")})
'{"qber": null}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["dumps", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with every part JSON-safe (see the module docstring); dict keys become strings."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key) if not isinstance(key, str) else key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Strict JSON text of :func:`json_safe` ``(value)`` (raises on anything else non-JSON)."""
    return json.dumps(json_safe(value), indent=indent, allow_nan=False)
