"""Planning scenarios: a constellation, its payload, many ground stations, a period, rules.

A planning file is TOML, validated like the pass presets of :mod:`qentangle.scenarios`: every
key is checked against the schema (unknown keys, wrong types and out-of-range values raise a
one-line :class:`~qentangle.errors.ValidationError` naming the field as ``section.key``, or
``stations.NAME.key`` for a station). Sections:

* ``[scenario]``: name, description, reference.
* ``[period]``: ``start`` (UTC), ``days``, ``slice_s`` (link slices in passes),
  ``scan_step_s`` (coarse visibility scan), ``chunk_days`` (one task per chunk),
  ``background`` (``auto``: night/day from the Sun at each station; ``night``; ``day``).
* ``[constellation]``: a Walker-delta pattern (``planes``, ``satellites_per_plane``,
  ``phasing``, ``altitude_km``, ``inclination_deg``, ``raan_offset_deg``) and/or
  ``tle_files`` (paths relative to the planning file; 2- or 3-line format).
* ``[source]``, ``[link]``, ``[detectors]``: the payload and the receivers' detectors, the same
  objects as in a pass scenario (:class:`~qentangle.link.source.PairSource`,
  :class:`~qentangle.link.budget.LinkConfig`, :class:`~qentangle.link.detectors.Detectors`).
* ``[payload]``: ``max_links``, how many station pairs one satellite serves at once.
* ``[[stations]]``: a :class:`~qentangle.link.stations.GroundStation` each, plus
  ``cloud_free``: the cloud-free probability of a night, one number or twelve (per month).
* ``[protocol]``: BBM92 with symmetric bases (``kind = "bbm92"``), ``eps_sec``, ``eps_cor``,
  ``ec_efficiency``, ``key_rule``: ``pass`` (distil each pass), ``night`` or ``week``
  (accumulate the sifted key of a station pair over a night or a week, then distil).
* ``[schedule]``: ``rule`` (``greedy`` by expected key, or ``round_robin``) and
  ``min_link_s`` (shortest link worth scheduling).

Walker-delta satellites are generated as SGP4 mean elements (zero drag) at ``period.start`` and
written as TLE text, so every satellite, generated or read, is propagated the same way.

>>> plan = load_plan("europe-4")
>>> plan.name, len(plan.satellites), len(plan.stations), len(plan.pairs)
('europe-4', 2, 4, 6)
>>> plan.satellites[0].name
'walker-p0-s0'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any

from qentangle.distill.estimate import EPS_COR, EPS_SEC
from qentangle.errors import ValidationError, check_choice, check_positive_int, check_probability, check_range
from qentangle.link.budget import LinkConfig
from qentangle.link.detectors import Detectors
from qentangle.link.orbit import as_utc, check_tle_line
from qentangle.link.physics import BACKGROUND_MODES
from qentangle.link.source import PairSource
from qentangle.link.stations import GroundStation
from qentangle.scenarios.loader import check_type, field_types

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEY_RULES = ("pass", "night", "week")
SCHEDULE_RULES = ("greedy", "round_robin")
PLAN_PROTOCOLS = ("bbm92",)
MIN_ALTITUDE_KM = 160.0
"""Lowest accepted orbit (perigee) altitude: below it the orbit is inside the atmosphere."""
MAX_ALTITUDE_KM = 40_000.0
WGS72_RADIUS_KM = 6378.135
WGS72_MU_KM3_S2 = 398600.8
_SGP4_EPOCH0 = datetime(1949, 12, 31, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PeriodConfig:
    """``[period]``: what time span to plan, in which steps."""

    start: str = "2025-01-01T00:00:00Z"
    days: float = 30.0
    slice_s: float = 1.0
    scan_step_s: float = 10.0
    chunk_days: float = 1.0
    background: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start, "period.start").isoformat())
        check_range("period.days", self.days, 0.0, 3660.0, low_open=True)
        check_range("period.slice_s", self.slice_s, 0.1, 60.0)
        check_range("period.scan_step_s", self.scan_step_s, self.slice_s, 120.0)
        check_range("period.chunk_days", self.chunk_days, 0.01, 31.0)
        check_choice("period.background", self.background, BACKGROUND_MODES)

    @property
    def start_utc(self) -> datetime:
        """The start as an aware datetime."""
        return as_utc(self.start)

    @property
    def span_s(self) -> float:
        """Length of the period (s)."""
        return self.days * 86400.0


@dataclass(frozen=True)
class ConstellationConfig:
    """``[constellation]``: a Walker-delta pattern i: T/P/F and/or satellites from TLE files."""

    planes: int = 0
    satellites_per_plane: int = 0
    phasing: int = 0
    altitude_km: float = 500.0
    inclination_deg: float = 97.4
    raan_offset_deg: float = 0.0
    tle_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_positive_int("constellation.planes", self.planes, minimum=0)
        check_positive_int("constellation.satellites_per_plane", self.satellites_per_plane, minimum=0)
        check_positive_int("constellation.phasing", self.phasing, minimum=0)
        if self.planes and self.phasing >= self.planes:
            raise ValidationError(
                f"constellation.phasing={self.phasing!r} is out of range: expected 0 <= "
                f"constellation.phasing <= {self.planes - 1} (planes - 1)"
            )
        check_altitude("constellation.altitude_km", self.altitude_km)
        check_range("constellation.inclination_deg", self.inclination_deg, 0.0, 180.0)
        check_range("constellation.raan_offset_deg", self.raan_offset_deg, -360.0, 360.0)
        object.__setattr__(self, "tle_files", tuple(self.tle_files))
        if self.walker_count == 0 and not self.tle_files:
            raise ValidationError(
                "constellation is empty: expected planes and satellites_per_plane >= 1, or tle_files"
            )

    @property
    def walker_count(self) -> int:
        """Number of Walker-delta satellites T = planes x satellites_per_plane."""
        return self.planes * self.satellites_per_plane


def check_altitude(name: str, altitude_km: Any) -> float:
    """``altitude_km`` as a float if the orbit is above the atmosphere, else a one-line error.

    >>> check_altitude("constellation.altitude_km", 500)
    500.0
    """
    value = check_range(name, altitude_km, None, MAX_ALTITUDE_KM)
    if value < MIN_ALTITUDE_KM:
        raise ValidationError(
            f"{name}={altitude_km!r} is out of range: the orbit is inside the atmosphere, expected "
            f"{MIN_ALTITUDE_KM} <= {name} <= {MAX_ALTITUDE_KM}"
        )
    return value


@dataclass(frozen=True)
class PayloadConfig:
    """``[payload]``: what the satellite can do at once."""

    max_links: int = 1

    def __post_init__(self) -> None:
        check_positive_int("payload.max_links", self.max_links)


@dataclass(frozen=True)
class PlanProtocol:
    """``[protocol]``: BBM92 with symmetric bases, the finite-key parameters and the key rule.

    The key of a pass (or of the passes of a night or week, ``key_rule``) is the deterministic
    finite key of :func:`qentangle.scenarios.compare.expected_key` at the expected sifted count
    and QBER: every sifted bit is key, each basis's bit errors bound the other's phase errors,
    error correction leaks ``ec_efficiency * n * h(QBER)`` bits.
    """

    kind: str = "bbm92"
    eps_sec: float = 1e-10
    eps_cor: float = 1e-10
    ec_efficiency: float = 1.19
    key_rule: str = "pass"

    def __post_init__(self) -> None:
        check_choice("protocol.kind", self.kind, PLAN_PROTOCOLS)
        EPS_SEC.check(self.eps_sec, label="protocol.eps_sec")
        EPS_COR.check(self.eps_cor, label="protocol.eps_cor")
        check_range("protocol.ec_efficiency", self.ec_efficiency, 1.0, 10.0)
        check_choice("protocol.key_rule", self.key_rule, KEY_RULES)

    @property
    def p_z(self) -> float:
        """Probability of measuring Z at each end (symmetric bases)."""
        return 0.5


@dataclass(frozen=True)
class ScheduleConfig:
    """``[schedule]``: who gets a satellite when several station pairs see it."""

    rule: str = "greedy"
    min_link_s: float = 10.0

    def __post_init__(self) -> None:
        check_choice("schedule.rule", self.rule, SCHEDULE_RULES)
        check_range("schedule.min_link_s", self.min_link_s, 0.0, 3600.0)


@dataclass(frozen=True)
class PlanStation:
    """A ground station and its weather: the cloud-free probability of a night, per month."""

    station: GroundStation
    cloud_free: tuple[float, ...]

    def __post_init__(self) -> None:
        name = f"stations.{self.station.name}.cloud_free"
        values = tuple(self.cloud_free)
        if len(values) not in (1, 12):
            raise ValidationError(
                f"{name} has {len(values)} values: expected one number or twelve (January to December)"
            )
        values = tuple(check_probability(name, v) for v in values)
        object.__setattr__(self, "cloud_free", values * 12 if len(values) == 1 else values)

    @property
    def name(self) -> str:
        """The station's name."""
        return self.station.name


@dataclass(frozen=True)
class Satellite:
    """One satellite: a name and its two-line elements."""

    name: str
    line1: str
    line2: str

    def __post_init__(self) -> None:
        check_tle_line(f"satellite {self.name}: tle_line1", self.line1, 1)
        check_tle_line(f"satellite {self.name}: tle_line2", self.line2, 2)


@dataclass(frozen=True)
class PlanScenario:
    """A validated planning scenario (see :func:`load_plan`)."""

    name: str
    description: str
    reference: str
    period: PeriodConfig
    constellation: ConstellationConfig
    source: PairSource
    link: LinkConfig
    detectors: Detectors
    payload: PayloadConfig
    stations: tuple[PlanStation, ...]
    protocol: PlanProtocol
    schedule: ScheduleConfig
    satellites: tuple[Satellite, ...]
    path: str = field(default="", compare=False)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every station pair (i, j), i < j, in a fixed order."""
        return list(combinations(range(len(self.stations)), 2))

    def pair_name(self, index: int) -> str:
        """``"A-B"`` for pair ``index``."""
        i, j = self.pairs[index]
        return f"{self.stations[i].name}-{self.stations[j].name}"

    def with_period(self, **changes: Any) -> PlanScenario:
        """The same scenario with ``[period]`` fields changed (``days`` for ``--days``), revalidated.

        The satellites are kept as they are (Walker elements stay at the original start).

        >>> load_plan("europe-4").with_period(days=2, chunk_days=0.5).period.days
        2
        """
        for name in changes:
            if name not in {f.name for f in dataclasses.fields(PeriodConfig)}:
                raise ValidationError(f"period.{name} is not a known key of [period]")
        return dataclasses.replace(self, period=dataclasses.replace(self.period, **changes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (inputs only; the satellites' elements included)."""
        return {
            "scenario": {"name": self.name, "description": self.description, "reference": self.reference},
            "period": dataclasses.asdict(self.period),
            "constellation": {
                **dataclasses.asdict(self.constellation),
                "tle_files": list(self.constellation.tle_files),
            },
            "source": dataclasses.asdict(self.source),
            "link": dataclasses.asdict(self.link),
            "detectors": dataclasses.asdict(self.detectors),
            "payload": dataclasses.asdict(self.payload),
            "stations": [
                {
                    **{k: v for k, v in dataclasses.asdict(s.station).items() if k != "key"},
                    "cloud_free": list(s.cloud_free),
                }
                for s in self.stations
            ],
            "protocol": dataclasses.asdict(self.protocol),
            "schedule": dataclasses.asdict(self.schedule),
            "satellites": [dataclasses.asdict(s) for s in self.satellites],
        }


# ---------------------------------------------------------------------------------- satellites
def walker_delta(config: ConstellationConfig, epoch: datetime) -> list[Satellite]:
    """Walker-delta satellites i: T/P/F as TLEs at ``epoch`` (circular, zero drag).

    Plane p has node 360 p / P (+ offset); satellite s of plane p has mean anomaly
    360 s / S + 360 F p / T. The altitude sets the Kozai mean motion n = sqrt(mu / a^3) with
    a = 6378.135 km + altitude (WGS72, the SGP4 constants).

    >>> sats = walker_delta(ConstellationConfig(planes=2, satellites_per_plane=2, phasing=1),
    ...                     as_utc("2025-01-01T00:00:00Z"))
    >>> [float(s.line2[17:25]) for s in sats]  # right ascension of the node
    [0.0, 0.0, 180.0, 180.0]
    """
    from sgp4.api import WGS72, Satrec
    from sgp4.exporter import export_tle

    total = config.walker_count
    if total == 0:
        return []
    a_km = WGS72_RADIUS_KM + config.altitude_km
    mean_motion = math.sqrt(WGS72_MU_KM3_S2 / a_km**3) * 60.0  # rad/min
    epoch_days = (as_utc(epoch) - _SGP4_EPOCH0).total_seconds() / 86400.0
    out = []
    for p in range(config.planes):
        raan = math.radians((360.0 * p / config.planes + config.raan_offset_deg) % 360.0)
        for s in range(config.satellites_per_plane):
            anomaly = 360.0 * s / config.satellites_per_plane + 360.0 * config.phasing * p / total
            satrec = Satrec()
            satrec.sgp4init(
                WGS72,
                "i",
                len(out) + 1,
                epoch_days,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                math.radians(config.inclination_deg),
                math.radians(anomaly % 360.0),
                mean_motion,
                raan,
            )
            line1, line2 = export_tle(satrec)
            out.append(Satellite(f"walker-p{p}-s{s}", line1, line2))
    return out


def read_tle_file(path: str | Path, label: str) -> list[Satellite]:
    """Satellites of a TLE file (2-line sets, optionally each preceded by a name line)."""
    path = Path(path)
    try:
        lines = [line.rstrip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise ValidationError(f"{label}={str(path)!r} could not be read: {error.strerror}") from None
    out: list[Satellite] = []
    i = 0
    while i < len(lines):
        name = None
        if not lines[i].startswith("1 "):
            name, i = lines[i].strip().lstrip("0 ").strip(), i + 1
        if i + 1 >= len(lines):
            raise ValidationError(f"{label}={str(path)!r} is not valid: a TLE set is cut short at its end")
        line1, line2 = lines[i], lines[i + 1]
        check_tle_line(f"{label} ({path.name}, line {i + 1})", line1, 1)
        check_tle_line(f"{label} ({path.name}, line {i + 2})", line2, 2)
        out.append(Satellite(name or f"{path.stem}-{line1[2:7].strip()}", line1, line2))
        i += 2
    if not out:
        raise ValidationError(f"{label}={str(path)!r} is not valid: expected at least one TLE set")
    return out


def _check_perigee(satellite: Satellite, label: str) -> None:
    from sgp4.api import Satrec

    satrec = Satrec.twoline2rv(satellite.line1, satellite.line2)
    perigee_km = satrec.altp * WGS72_RADIUS_KM
    if perigee_km < MIN_ALTITUDE_KM:
        raise ValidationError(
            f"{label}: satellite {satellite.name!r} has perigee altitude {perigee_km:.0f} km, inside "
            f"the atmosphere: expected >= {MIN_ALTITUDE_KM} km"
        )


# ---------------------------------------------------------------------------------- loading
_SECTIONS: dict[str, type] = {
    "period": PeriodConfig,
    "source": PairSource,
    "link": LinkConfig,
    "detectors": Detectors,
    "payload": PayloadConfig,
    "protocol": PlanProtocol,
    "schedule": ScheduleConfig,
}
_SCENARIO_KEYS = {"name": str, "description": str, "reference": str}
_KNOWN = [
    "scenario",
    "period",
    "constellation",
    "source",
    "link",
    "detectors",
    "payload",
    "stations",
    "protocol",
    "schedule",
]


def _table(path: str, table: Any, keys: Mapping[str, type], lists: Mapping[str, type] = {}) -> dict:
    if not isinstance(table, Mapping):
        raise ValidationError(f"{path} is not valid: expected a table [{path}]")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in lists:
            items = value if isinstance(value, list) else [value]
            out[key] = tuple(check_type(f"{path}.{key}", item, lists[key]) for item in items)
        elif key in keys:
            out[key] = check_type(f"{path}.{key}", value, keys[key])
        else:
            known = [*keys, *lists]
            raise ValidationError(
                f"{path}.{key} is not a known key of [{path}]: expected one of {', '.join(known)}"
            )
    return out


def _build(path: str, cls: type, values: dict[str, Any]) -> Any:
    try:
        return cls(**values)
    except TypeError:
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in values and f.init
        ]
        name = missing[0] if missing else "?"
        raise ValidationError(f"{path}.{name} is missing: expected it in [{path}]") from None


def _stations(tables: Any) -> tuple[PlanStation, ...]:
    if not isinstance(tables, list) or not tables:
        raise ValidationError("stations is missing: expected at least two [[stations]] tables")
    keys = field_types(GroundStation, ("key",))
    out, names = [], set()
    for index, table in enumerate(tables):
        label = f"stations[{index}]"
        if isinstance(table, Mapping) and isinstance(table.get("name"), str) and table["name"].strip():
            label = f"stations.{table['name']}"
        values = _table(label, table, keys, {"cloud_free": float})
        if "name" not in values:
            raise ValidationError(f"{label}.name is missing: expected a name for every station")
        if values["name"] in names:
            raise ValidationError(
                f"{label}.name={values['name']!r} is not valid: station names must be unique"
            )
        names.add(values["name"])
        cloud_free = values.pop("cloud_free", (1.0,))
        station = _build(label, GroundStation, {**values, "key": values["name"]})
        out.append(PlanStation(station, cloud_free))
    if len(out) < 2:
        raise ValidationError(f"stations has {len(out)} station: expected at least two [[stations]] tables")
    return tuple(out)


def from_dict(document: Mapping[str, Any], *, path: str = "") -> PlanScenario:
    """Build and validate a :class:`PlanScenario` from a dict in the TOML layout.

    >>> from_dict({"constellation": {"planes": -1}}).name  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qentangle.errors.ValidationError: constellation.planes=-1 is out of range: ...
    """
    if not isinstance(document, Mapping):
        raise ValidationError("planning scenario is not valid: expected a table of sections")
    for section in document:
        if section not in _KNOWN:
            raise ValidationError(f"{section} is not a known section: expected one of {', '.join(_KNOWN)}")
    meta = _table("scenario", document.get("scenario", {}), _SCENARIO_KEYS)
    constellation_types = field_types(ConstellationConfig, ("tle_files",))
    constellation = _build(
        "constellation",
        ConstellationConfig,
        _table("constellation", document.get("constellation", {}), constellation_types, {"tle_files": str}),
    )
    sections = {
        name: _build(name, cls, _table(name, document.get(name, {}), field_types(cls)))
        for name, cls in _SECTIONS.items()
    }
    stations = _stations(document.get("stations"))
    period: PeriodConfig = sections["period"]
    satellites = walker_delta(constellation, period.start_utc)
    base = Path(path).parent if path else Path(".")
    for index, name in enumerate(constellation.tle_files):
        label = f"constellation.tle_files[{index}]"
        file_path = Path(name) if Path(name).is_absolute() else base / name
        if not file_path.is_file() and path.startswith("preset:"):
            file_path = Path(str(resources.files("qentangle.plan") / "presets" / name))
        for satellite in read_tle_file(file_path, label):
            _check_perigee(satellite, label)
            satellites.append(satellite)
    names = [s.name for s in satellites]
    if len(set(names)) != len(names):
        raise ValidationError("constellation is not valid: two satellites have the same name")
    return PlanScenario(
        name=meta.get("name", Path(path).stem if path else "plan"),
        description=meta.get("description", ""),
        reference=meta.get("reference", ""),
        constellation=constellation,
        stations=stations,
        satellites=tuple(satellites),
        path=str(path),
        **sections,
    )


def parse_plan(text: str, *, path: str = "") -> PlanScenario:
    """Parse and validate planning TOML text."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError(f"{path or 'planning scenario'} is not valid TOML: {error}") from None
    return from_dict(document, path=path)


def list_plan_presets() -> list[str]:
    """Planning scenarios shipped with the package.

    >>> list_plan_presets()
    ['europe-12', 'europe-4']
    """
    folder = resources.files("qentangle.plan") / "presets"
    return sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".toml"))


def preset_document(name: str) -> dict[str, Any]:
    """The TOML document of a shipped preset as a dict, to edit and pass to :func:`from_dict`.

    >>> doc = preset_document("europe-4")
    >>> doc["constellation"].update(planes=1, phasing=0)
    >>> len(from_dict(doc).satellites)
    1
    """
    if name not in list_plan_presets():
        raise ValidationError(
            f"preset={name!r} is not valid: expected one of {', '.join(list_plan_presets())}"
        )
    return tomllib.loads((resources.files("qentangle.plan") / "presets" / f"{name}.toml").read_text("utf-8"))


def load_plan(name_or_path: str | Path) -> PlanScenario:
    """Load a shipped planning preset by name (``europe-12``) or a planning TOML file by path."""
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in list_plan_presets():
        text = (resources.files("qentangle.plan") / "presets" / f"{text_name}.toml").read_text("utf-8")
        return parse_plan(text, path=f"preset:{text_name}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ValidationError(
            f"FILE={text_name!r} is not a planning preset or a file: expected one of "
            f"{', '.join(list_plan_presets())} or a path to a .toml file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(f"FILE={text_name!r} could not be read: {error}") from None
    return parse_plan(text, path=str(path))


def month_of(start: datetime, t_s: float) -> int:
    """Month index 0-11 of ``start + t_s`` (UTC).

    >>> month_of(as_utc("2025-01-31T00:00:00Z"), 86400.0)
    1
    """
    return (start + timedelta(seconds=float(t_s))).month - 1


def pass_scenario(plan: PlanScenario, satellite: int, pair: int, start_s: float, end_s: float):
    """The single-pass scenario (:class:`qentangle.scenarios.Scenario`) of one window of the plan.

    Same satellite (its TLE), stations, source, link, detectors, background rule and slice
    length; BBM92 with symmetric bases and the plan's finite-key parameters over one pass; the
    epoch at the window's middle and a search span just covering it. With the window itself,
    ``scenario.physics(window=Window(plan.period.start_utc, start_s, end_s))`` gives the
    slices the planner used (see :func:`qentangle.plan.compute.compute_chunk`).

    >>> plan = load_plan("europe-4")
    >>> s = pass_scenario(plan, 0, 0, 47490.0, 47701.0)
    >>> s.alice.name, s.bob.name, s.orbit.kind, s.protocol.slice_s
    ('Matera', 'Graz', 'tle', 1.0)
    """
    from qentangle.scenarios import from_dict

    sat = plan.satellites[satellite]
    i, j = plan.pairs[pair]
    middle = plan.period.start_utc + timedelta(seconds=(start_s + end_s) / 2.0)
    stations = {}
    for key, index in (("alice", i), ("bob", j)):
        data = dataclasses.asdict(plan.stations[index].station)
        data.pop("key")
        stations[key] = data
    document = {
        "scenario": {
            "name": f"{plan.name}:{sat.name}:{plan.pair_name(pair)}",
            "description": f"one pass of planning scenario {plan.name}",
        },
        "time": {
            "epoch": middle.isoformat(),
            "search_span_s": end_s - start_s + 4.0 * plan.period.scan_step_s,
            "step_s": 1.0,
            "criterion": "longest",
            "background": plan.period.background,
        },
        "orbit": {"kind": "tle", "tle_line1": sat.line1, "tle_line2": sat.line2},
        "source": dataclasses.asdict(plan.source),
        "detectors": dataclasses.asdict(plan.detectors),
        "link": dataclasses.asdict(plan.link),
        "stations": stations,
        "protocol": {
            "kind": "bbm92",
            "slice_s": plan.period.slice_s,
            "data_time_s": 0.0,
            "p_z": 0.5,
            "eps_sec": plan.protocol.eps_sec,
            "eps_cor": plan.protocol.eps_cor,
            "estimation": "ec",
        },
    }
    return from_dict(document)
