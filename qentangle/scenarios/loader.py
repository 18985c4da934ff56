"""Reading, checking and overriding scenario TOML files.

Every key is checked against the scenario's schema (known sections and keys, value types),
then each section's object validates its ranges. Errors name the key as ``section.key``
(``stations.alice.aperture_m`` for a station) and the file.

A scenario file says what it is: either it is complete (every section and every key of the
schema, except the keys in :data:`OPTIONAL_KEYS`), or it names the scenario it changes with a
top-level ``extends = "micius-2020"`` (a preset, or a path relative to the file) and gives
only what differs. A missing key is an error, never a silent Micius value.
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
#: Keys a complete scenario may leave out: the orbit keys of the other orbit kind or
#: placement, the estimation rule (``auto``) and the scenario's own description.
OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {
    "scenario": tuple(SCENARIO_KEYS),
    "orbit": ("raan_deg", "arg_latitude_deg", "elements_epoch", "tle_line1", "tle_line2"),
    "protocol": ("estimation",),
}
MAX_SCENARIO_BYTES = 1 << 20
_MAX_EXTENDS_DEPTH = 8


def field_types(cls: type, excluded: Iterable[str] = ()) -> dict[str, type]:
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
    out.update({name: field_types(cls) for name, cls in SECTIONS.items()})
    station = field_types(GroundStation, _STATION_EXCLUDED)
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


def parse_toml(text: str, *, path: str = "", _depth: int = 0) -> Scenario:
    """Parse and validate scenario TOML text: complete, or ``extends = "..."`` another scenario.

    >>> parse_toml('extends = "micius-2020"\\n[source]\\npair_rate_hz = 1e7').source.pair_rate_hz
    10000000.0
    >>> try:
    ...     parse_toml("[source]\\npair_rate_hz = 1e7", path="mine.toml")
    ... except ValidationError as error:
    ...     print(str(error)[:30])
    mine.toml: time is missing: a
    """
    where = path or "scenario"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError(f"{where} is not valid TOML: {' '.join(str(error).split())}") from None
    base = document.pop("extends", None)
    try:
        if base is None:
            _check_complete(document)
            return from_dict(document, path=path)
        if not isinstance(base, str):
            raise ValidationError(f"extends={base!r} is not valid: expected a preset name or a file path")
        if _depth >= _MAX_EXTENDS_DEPTH:
            raise ValidationError(f"extends={base!r}: more than {_MAX_EXTENDS_DEPTH} levels of extends")
        relative = Path(path).parent / base if path else Path(base)
        target = base if base in list_presets() or not relative.is_file() else relative
        merged = _merge(load_scenario(target, _depth=_depth + 1).to_dict(), document)
        return from_dict(merged, path=path)
    except ValidationError as error:
        if path and not str(error).startswith(f"{path}:"):
            raise ValidationError(f"{path}: {error}", param=error.param, template=error.template) from None
        raise


def _check_complete(document: Mapping[str, Any]) -> None:
    """Every section and key of the schema is given (except :data:`OPTIONAL_KEYS`)."""
    hint = (
        "a scenario file gives every section and key, or names the scenario it changes with "
        'extends = "micius-2020"'
    )
    for section, keys in schema().items():
        table: Any = document
        for part in section.split("."):
            table = table.get(part) if isinstance(table, Mapping) else None
        if section == "scenario":
            continue
        if table is None:
            raise ValidationError(f"{section} is missing: {hint}")
        if not isinstance(table, Mapping):
            continue  # from_dict names the wrong type
        missing = [key for key in keys if key not in table and key not in OPTIONAL_KEYS.get(section, ())]
        if missing:
            raise ValidationError(f"{section}.{missing[0]} is missing: {hint}")


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied table by table (a change replaces a value)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


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


def load_scenario(name_or_path: str | Path, *, _depth: int = 0) -> Scenario:
    """Load a preset by name (``micius-2020``) or a scenario TOML file by path.

    The file must be UTF-8 text of at most 1 MiB.

    >>> load_scenario("micius-2017").alice.name
    'Delingha'
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in list_presets():
        return parse_toml(preset_text(text_name), path=f"{text_name}.toml", _depth=_depth)
    path = Path(name_or_path)
    if not path.is_file():
        raise ValidationError(
            f"scenario={text_name!r} is not a preset or a file: expected one of "
            f"{', '.join(list_presets())} or a path to a .toml file"
        )
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ValidationError(
                f"scenario={text_name!r} is {size} bytes: a scenario file is at most "
                f"{MAX_SCENARIO_BYTES} bytes"
            )
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(f"scenario={text_name!r} cannot be read: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"scenario={text_name!r} is not UTF-8 text (byte {error.start}): save it as UTF-8"
        ) from None
    return parse_toml(text, path=str(path), _depth=_depth)


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
