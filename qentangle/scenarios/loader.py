"""Reading, checking and overriding scenario TOML files.

Every key is checked against the scenario's schema (known sections and keys, value types),
then each section's object validates its ranges. Errors name the key as ``section.key``
(``stations.alice.aperture_m`` for a station).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from qentangle.errors import ValidationError
from qentangle.link.budget import LinkConfig
from qentangle.link.detectors import Detectors
from qentangle.link.source import PairSource
from qentangle.link.stations import GroundStation
from qentangle.scenarios.model import OrbitConfig, ProtocolConfig, Scenario, TimeConfig

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SECTIONS: dict[str, type] = {
    "time": TimeConfig,
    "orbit": OrbitConfig,
    "source": PairSource,
    "detectors": Detectors,
    "link": LinkConfig,
    "protocol": ProtocolConfig,
}
STATION_KEYS = ("alice", "bob")
SCENARIO_KEYS: dict[str, type] = {"name": str, "description": str, "reference": str}
_STATION_EXCLUDED = ("key",)


def _field_types(cls: type, excluded: Iterable[str] = ()) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in excluded or f.name.startswith("_"):
            continue
        hint = hints[f.name]
        out[f.name] = hint if hint in (str, int, float, bool) else str
    return out


def schema() -> dict[str, dict[str, type]]:
    """Every section (``stations.alice`` style for stations) and its keys' Python types.

    >>> schema()["source"]["pair_rate_hz"]
    <class 'float'>
    """
    out = {"scenario": dict(SCENARIO_KEYS)}
    out.update({name: _field_types(cls) for name, cls in SECTIONS.items()})
    station = _field_types(GroundStation, _STATION_EXCLUDED)
    for key in STATION_KEYS:
        out[f"stations.{key}"] = dict(station)
    return out


_TYPE_WORDS = {float: "a number", int: "an integer", str: "text", bool: "true or false"}


def check_type(path: str, value: Any, expected: type) -> Any:
    """Return ``value`` converted to ``expected`` or raise naming ``path``.

    Numbers: ints are accepted where floats are expected; booleans are never numbers.
    Text: TOML dates and times are accepted and written back as ISO 8601 text.

    >>> check_type("source.pair_rate_hz", 5, float)
    5.0
    """
    if expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (datetime, date)):
            return value.isoformat()
    raise ValidationError(f"{path}={value!r} has the wrong type: expected {_TYPE_WORDS[expected]}")


def _check_table(path: str, table: Any, keys: Mapping[str, type]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ValidationError(f"{path} is not valid: expected a table [{path}]")
    out = {}
    for key, value in table.items():
        if key not in keys:
            raise ValidationError(
                f"{path}.{key} is not a known key of [{path}]: expected one of {', '.join(keys)}"
            )
        out[key] = check_type(f"{path}.{key}", value, keys[key])
    return out


def _construct(path: str, cls: type, values: dict[str, Any]) -> Any:
    try:
        return cls(**values)
    except TypeError as error:  # a required key is missing
        missing = [
            f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in values and f.init
        ]
        detail = f"{path}.{missing[0]} is missing" if missing else f"{path} is not valid: {error}"
        raise ValidationError(f"{detail}: expected it in [{path}]") from None


def from_dict(document: Mapping[str, Any], *, path: str = "") -> Scenario:
    """Build and validate a :class:`Scenario` from a dict in the TOML layout.

    >>> from qentangle.scenarios import load_scenario
    >>> s = load_scenario("micius-2020")
    >>> from_dict(s.to_dict()) == s
    True
    """
    if not isinstance(document, Mapping):
        raise ValidationError("scenario is not valid: expected a table of sections")
    types = schema()
    known = ["scenario", *SECTIONS, "stations"]
    for section in document:
        if section not in known:
            raise ValidationError(
                f"{section} is not a known section: expected one of {', '.join(known)}"
            )
    meta = _check_table("scenario", document.get("scenario", {}), types["scenario"])
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        values = _check_table(name, document.get(name, {}), types[name])
        sections[name] = _construct(name, cls, values)
    stations_table = document.get("stations")
    if not isinstance(stations_table, Mapping):
        raise ValidationError(
            "stations is missing: expected tables [stations.alice] and [stations.bob]"
        )
    for key in stations_table:
        if key not in STATION_KEYS:
            raise ValidationError(
                f"stations.{key} is not a known station: expected alice and bob"
            )
    stations = {}
    for key in STATION_KEYS:
        if key not in stations_table:
            raise ValidationError(f"stations.{key} is missing: expected a table [stations.{key}]")
        values = _check_table(f"stations.{key}", stations_table[key], types[f"stations.{key}"])
        stations[key] = _construct(f"stations.{key}", GroundStation, {**values, "key": key})
    return Scenario(
        name=meta.get("name", Path(path).stem if path else "scenario"),
        description=meta.get("description", ""),
        reference=meta.get("reference", ""),
        alice=stations["alice"],
        bob=stations["bob"],
        path=str(path),
        **sections,
    )


def parse_toml(text: str, *, path: str = "") -> Scenario:
    """Parse and validate scenario TOML text."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where = path or "scenario"
        raise ValidationError(f"{where} is not valid TOML: {error}") from None
    return from_dict(document, path=path)


def _presets_dir():
    return resources.files("qentangle.scenarios")


def list_presets() -> list[str]:
    """Names of the preset scenarios shipped with the package.

    >>> list_presets()
    ['micius-2017', 'micius-2020']
    """
    return sorted(
        entry.name[: -len(".toml")]
        for entry in _presets_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def preset_text(name: str) -> str:
    """The TOML text of a preset (with its comments)."""
    if name not in list_presets():
        raise ValidationError(
            f"scenario={name!r} is not a preset: expected one of {', '.join(list_presets())} "
            "or a path to a .toml file"
        )
    return (_presets_dir() / f"{name}.toml").read_text(encoding="utf-8")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a preset by name (``micius-2020``) or a scenario TOML file by path.

    >>> load_scenario("micius-2017").alice.name
    'Delingha'
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in list_presets():
        return parse_toml(preset_text(text_name), path=f"{text_name}.toml")
    path = Path(name_or_path)
    if not path.is_file():
        raise ValidationError(
            f"scenario={text_name!r} is not a preset or a file: expected one of "
            f"{', '.join(list_presets())} or a path to a .toml file"
        )
    return parse_toml(path.read_text(encoding="utf-8"), path=str(path))


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(scenario: Scenario, overrides: Iterable[str]) -> Scenario:
    """A new scenario with ``section.key=value`` overrides applied and everything revalidated.

    Values are read as TOML values (``1.2e7``, ``true``, ``"text"``); bare text is accepted
    for text keys. Unknown keys and wrong types raise :class:`ValidationError` naming the key.

    >>> from qentangle.scenarios import load_scenario
    >>> s = apply_overrides(load_scenario("micius-2020"), ["source.pair_rate_hz=1.2e7"])
    >>> s.source.pair_rate_hz
    12000000.0
    """
    document = scenario.to_dict()
    types = schema()
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ValidationError(
                f"override {item!r} is not valid: expected section.key=value, "
                "e.g. source.pair_rate_hz=1.2e7"
            )
        key_path, raw = (part.strip() for part in item.split("=", 1))
        parts = key_path.split(".")
        section, key = ".".join(parts[:-1]), parts[-1]
        if section not in types:
            raise ValidationError(
                f"{key_path} is not a known key: section {section or '(none)'!r} is not one of "
                f"{', '.join(types)}"
            )
        if key not in types[section]:
            raise ValidationError(
                f"{key_path} is not a known key of [{section}]: expected one of "
                f"{', '.join(types[section])}"
            )
        expected = types[section][key]
        value = _parse_value(raw)
        if expected is str and not isinstance(value, str):
            value = raw.strip().strip("'\"")
        value = check_type(key_path, value, expected)
        target = document
        for part in parts[:-1]:
            target = target[part]
        target[key] = value
    return from_dict(document, path=scenario.path)
