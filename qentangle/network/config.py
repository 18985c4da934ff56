"""Network configurations: TOML files and the presets ``lab``, ``micius-2020``, ``micius-2020-bright``.

A configuration has three tables. ``[network]``: ``protocol`` (``bbm92``), ``speed`` (emulated
seconds per wall-clock second; 0 = as fast as the machine goes), optional ``seed``, ``host``
(default 127.0.0.1), ``ports`` (node name -> port, 0 = ephemeral) and ``nodes`` (the kinds of
node to start, in order; default source, bob, alice). ``[link]``: ``pair_rate_hz``,
``loss_db`` (coincidences per second = pair rate * 10^(-loss/10)) and ``depolarizing`` (QBER =
depolarizing / 2). ``[keys]``: ``rounds_per_block``, ``key_bytes``, ``ec`` (``cascade``, the
default, or ``ldpc``), ``sample_fraction``, ``eps_sec``, ``eps_cor`` and
``auth_key_mib`` (the bootstrap authentication key; ``auth_key_kib``, when set, gives it in KiB
instead, down to one pad window: a small bootstrap key shows replenishment at work),
``auth_window_pads`` (pads per direction reserved by each connection) and
``auth_reserve_pads`` (the stations set distilled bits aside whenever fewer pads than this
remain, at most half of each block); ``timeout_s`` (how long a station waits
for the other station or the source before it aborts the block and reconnects).

>>> config = load_config("lab")
>>> config.name, config.coincidence_rate_hz, config.qber
('lab', 100000.0, 0.02)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from qentangle.distill.chain import EC_METHODS
from qentangle.distill.estimate import EPS_COR, EPS_SEC
from qentangle.errors import ValidationError, check_positive_int, check_range

PRESETS = ("lab", "micius-2020", "micius-2020-bright")
DEFAULT_NODES = ("source", "bob", "alice")
PROTOCOLS = ("bbm92",)


@dataclass(frozen=True)
class NetworkConfig:
    """A validated network description (see the module docstring for each field)."""

    name: str
    protocol: str = "bbm92"
    speed: float = 1.0
    seed: int | None = None
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    nodes: tuple[str, ...] = DEFAULT_NODES
    pair_rate_hz: float = 1e7
    loss_db: float = 20.0
    depolarizing: float = 0.04
    rounds_per_block: int = 131072
    key_bytes: int = 32
    ec: str = "cascade"
    sample_fraction: float = 0.1
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    auth_key_mib: int = 32
    auth_key_kib: int = 0
    auth_window_pads: int = 8192
    auth_reserve_pads: int = 65536
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValidationError(
                f"protocol={self.protocol!r} is not valid: expected one of {', '.join(PROTOCOLS)}"
            )
        if self.ec not in EC_METHODS:
            raise ValidationError(f"ec={self.ec!r} is not valid: expected one of {', '.join(EC_METHODS)}")
        check_range("speed", self.speed, 0.0, 1e9)
        check_range("pair_rate_hz", self.pair_rate_hz, 0.0, 1e12, low_open=True)
        check_range("loss_db", self.loss_db, 0.0, 200.0)
        check_range("depolarizing", self.depolarizing, 0.0, 1.0)
        check_positive_int("rounds_per_block", self.rounds_per_block, minimum=1024)
        check_positive_int("key_bytes", self.key_bytes, minimum=1)
        check_range("sample_fraction", self.sample_fraction, 0.0, 1.0, low_open=True, high_open=True)
        EPS_SEC.check(self.eps_sec, label="eps_sec")
        EPS_COR.check(self.eps_cor, label="eps_cor")
        check_positive_int("auth_key_mib", self.auth_key_mib, minimum=1)
        check_positive_int("auth_window_pads", self.auth_window_pads, minimum=256)
        check_positive_int("auth_reserve_pads", self.auth_reserve_pads, minimum=0)
        if self.auth_key_kib:
            smallest = -(-(66 + 16 * 2 * self.auth_window_pads) // 1024)  # hash key + one window
            check_positive_int("auth_key_kib", self.auth_key_kib, minimum=smallest)
        check_range("timeout_s", self.timeout_s, 0.1, 3600.0)
        for name, port in self.ports.items():
            check_range(f"ports.{name}", port, 0, 65535)

    @property
    def coincidence_rate_hz(self) -> float:
        """Detected pairs per second: the pair rate through the link's loss."""
        return self.pair_rate_hz * 10 ** (-self.loss_db / 10)

    @property
    def qber(self) -> float:
        """The expected QBER of the depolarized pairs."""
        return self.depolarizing / 2

    @property
    def auth_key_bytes(self) -> int:
        """Bytes of the bootstrap authentication key."""
        return (self.auth_key_kib << 10) if self.auth_key_kib else (self.auth_key_mib << 20)

    @property
    def block_seconds(self) -> float:
        """Emulated seconds of link time per block."""
        return self.rounds_per_block / self.coincidence_rate_hz

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (the nodes read it back with :func:`config_from_dict`)."""
        data = asdict(self)
        data["nodes"] = list(self.nodes)
        return data


def config_from_dict(data: dict[str, Any]) -> NetworkConfig:
    """The inverse of :meth:`NetworkConfig.to_dict`."""
    data = dict(data)
    data["nodes"] = tuple(data.get("nodes", DEFAULT_NODES))
    try:
        return NetworkConfig(**data)
    except TypeError as error:
        raise ValidationError(f"network configuration: {error}") from None


def load_config(name_or_path: str | Path, *, speed: float | None = None) -> NetworkConfig:
    """A preset by name, or a TOML file; ``speed`` overrides the file's time acceleration."""
    text, name = _read(name_or_path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError(f"config={str(name_or_path)!r} is not valid TOML: {error}") from None
    known = {"network", "link", "keys"}
    unknown = set(document) - known
    if unknown:
        raise ValidationError(f"config has unknown table(s) {sorted(unknown)}: expected {sorted(known)}")
    flat: dict[str, Any] = {"name": name}
    for table in known:
        values = document.get(table, {})
        if not isinstance(values, dict):
            raise ValidationError(f"config: [{table}] must be a table")
        flat.update(values)
    if "nodes" in flat:
        flat["nodes"] = tuple(flat["nodes"])
    fields = set(NetworkConfig.__dataclass_fields__)
    bad = set(flat) - fields
    if bad:
        raise ValidationError(f"config has unknown key(s) {sorted(bad)}")
    config = NetworkConfig(**flat)
    if speed is not None:
        config = replace(config, speed=float(check_range("speed", speed, 0.0, 1e9)))
    if not math.isfinite(config.block_seconds):
        raise ValidationError("the link delivers no coincidences: check pair_rate_hz and loss_db")
    return config


def _read(name_or_path: str | Path) -> tuple[str, str]:
    if str(name_or_path) in PRESETS:
        name = str(name_or_path)
        return resources.files("qentangle.network").joinpath(f"presets/{name}.toml").read_text(), name
    path = Path(name_or_path)
    try:
        return path.read_text(), path.stem
    except OSError as error:
        raise ValidationError(
            f"config={str(name_or_path)!r} is not a preset ({', '.join(PRESETS)}) nor a readable file:"
            f" {error.strerror}"
        ) from None


def dump_json(config: NetworkConfig) -> bytes:
    """The configuration as the nodes read it (``DIR/config.json``)."""
    return json.dumps(config.to_dict(), indent=1, sort_keys=True).encode()
