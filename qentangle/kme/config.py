"""Where a network's KMEs live on disk: their configurations, certificates and ready files.

Layout inside a network directory ``DIR``::

    DIR/pki/                 ca.pem, ca.key, kme-<KME>.pem/.key, sae-<SAE>.pem/.key (keys 0600)
    DIR/kme/<KME>.json       one KME's configuration (station, store, SAE IDs, peers, TLS files)
    DIR/kme/<KME>.ready.json written by the running KME once it listens: URL and pid

:func:`prepare_kmes` writes the configurations (one KME per station, one SAE per station by
default, named after it); :func:`kme_entries` is what ``network.json`` lists for each KME.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> configs = prepare_kmes(root, {"Delingha": root / "d.sqlite", "Nanshan": root / "n.sqlite"})
>>> [(c.kme_id, c.sae_ids, c.peer_kme_of("nanshan")) for c in configs][0]
('kme-delingha', ('delingha',), 'kme-nanshan')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qentangle.errors import QentangleError, ValidationError
from qentangle.files import read_bytes, write_atomic
from qentangle.kme.pki import Pki, ensure_pki
from qentangle.network.processes import pid_alive

#: Largest number of keys one request may take (``max_key_per_request``).
MAX_KEY_PER_REQUEST = 128
#: Smallest and largest key sizes in bits (``min_key_size``, ``max_key_size``).
MIN_KEY_SIZE = 8
MAX_KEY_SIZE = 65536


@dataclass(frozen=True)
class KmeConfig:
    """One KME: its ID, station store, local SAEs, the other KMEs and their SAEs, TLS files."""

    kme_id: str
    station: str
    store: Path
    sae_ids: tuple[str, ...]
    peers: Mapping[str, tuple[str, ...]]  # peer KME ID -> its SAE IDs
    network_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    max_key_per_request: int = MAX_KEY_PER_REQUEST
    max_key_size: int = MAX_KEY_SIZE
    min_key_size: int = MIN_KEY_SIZE
    default_key_size: int = 256
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pki(self) -> Pki:
        return Pki(self.network_dir / "pki")

    @property
    def config_path(self) -> Path:
        return config_path(self.network_dir, self.kme_id)

    @property
    def ready_path(self) -> Path:
        return ready_path(self.network_dir, self.kme_id)

    def peer_kme_of(self, sae_id: str) -> str | None:
        """The ID of the other KME that serves ``sae_id`` (``None``: no KME of the network does)."""
        for kme_id, saes in self.peers.items():
            if sae_id in saes:
                return kme_id
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kme_id": self.kme_id,
            "station": self.station,
            "store": str(self.store),
            "sae_ids": list(self.sae_ids),
            "peers": {kme: list(saes) for kme, saes in self.peers.items()},
            "host": self.host,
            "port": self.port,
            "max_key_per_request": self.max_key_per_request,
            "max_key_size": self.max_key_size,
            "min_key_size": self.min_key_size,
            "default_key_size": self.default_key_size,
        }

    @classmethod
    def load(cls, path: str | Path) -> KmeConfig:
        """Read a configuration written by :func:`prepare_kmes`."""
        path = Path(path)
        try:
            data = json.loads(read_bytes(path))
            return cls(
                kme_id=str(data["kme_id"]),
                station=str(data["station"]),
                store=Path(data["store"]),
                sae_ids=tuple(str(s) for s in data["sae_ids"]),
                peers={str(k): tuple(str(s) for s in v) for k, v in data["peers"].items()},
                network_dir=path.parent.parent,
                host=str(data.get("host", "127.0.0.1")),
                port=int(data.get("port", 0)),
                max_key_per_request=int(data.get("max_key_per_request", MAX_KEY_PER_REQUEST)),
                max_key_size=int(data.get("max_key_size", MAX_KEY_SIZE)),
                min_key_size=int(data.get("min_key_size", MIN_KEY_SIZE)),
                default_key_size=int(data.get("default_key_size", 256)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise QentangleError(f"KME configuration {str(path)!r} is not valid: {error!r}") from None


def kme_id_for(station: str) -> str:
    """The KME ID of a station: ``kme-<station, lower case>``."""
    return f"kme-{station.lower()}"


def config_path(network_dir: str | Path, kme_id: str) -> Path:
    return Path(network_dir) / "kme" / f"{kme_id}.json"


def ready_path(network_dir: str | Path, kme_id: str) -> Path:
    return Path(network_dir) / "kme" / f"{kme_id}.ready.json"


def prepare_kmes(
    network_dir: str | Path,
    stations: Mapping[str, str | Path],
    *,
    sae_ids: Mapping[str, Sequence[str]] | None = None,
    default_key_size: int = 256,
) -> list[KmeConfig]:
    """Write one KME configuration per station and create the PKI; return the configurations.

    ``stations`` maps each station name to its key store file. ``sae_ids`` maps a station to
    the SAE IDs its KME serves (default: one SAE named after the station, in lower case).
    Certificates that already exist are kept; configurations are rewritten atomically.
    """
    network_dir = Path(network_dir)
    if len(stations) < 2:
        raise ValidationError(f"stations={list(stations)!r} is not valid: expected at least two stations")
    saes = {name: tuple(sae_ids[name]) if sae_ids else (name.lower(),) for name in stations}
    every = [sae for group in saes.values() for sae in group]
    if len(set(every)) != len(every):
        raise ValidationError(f"sae_ids={saes!r} is not valid: an SAE ID is served by two KMEs")
    kme_ids = {name: kme_id_for(name) for name in stations}
    ensure_pki(network_dir / "pki", kme_ids=kme_ids.values(), sae_ids=every)
    configs = []
    for name, store in stations.items():
        config = KmeConfig(
            kme_id=kme_ids[name],
            station=name,
            store=Path(store).resolve(),
            sae_ids=saes[name],
            peers={kme_ids[other]: saes[other] for other in stations if other != name},
            network_dir=network_dir,
            default_key_size=default_key_size,
        )
        write_atomic(config.config_path, json.dumps(config.to_dict(), indent=2).encode())
        configs.append(config)
    return configs


def load_kmes(network_dir: str | Path) -> list[KmeConfig]:
    """Every KME configuration in ``network_dir`` (sorted by KME ID)."""
    folder = Path(network_dir) / "kme"
    paths = (
        sorted(p for p in folder.glob("*.json") if not p.name.endswith(".ready.json"))
        if folder.is_dir()
        else []
    )
    return [KmeConfig.load(path) for path in paths]


def read_ready(network_dir: str | Path, kme_id: str) -> dict[str, Any] | None:
    """The ready record of a running KME (``{"url", "pid", "port"}``), or ``None`` if it is not up.

    A record left by a process that no longer exists counts as not up.
    """
    path = ready_path(network_dir, kme_id)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not pid_alive(int(data.get("pid", -1))):
        return None
    return data


def kme_entries(network_dir: str | Path) -> list[dict[str, Any]]:
    """What ``network.json`` lists for each KME: URL, pid, SAE IDs, CA and client certificates.

    The URL and pid are ``None`` for a KME that is not running.
    """
    entries = []
    for config in load_kmes(network_dir):
        ready = read_ready(network_dir, config.kme_id) or {}
        pki = config.pki
        entries.append(
            {
                "kme_id": config.kme_id,
                "station": config.station,
                "url": ready.get("url"),
                "pid": ready.get("pid"),
                "sae_ids": list(config.sae_ids),
                "ca": str(pki.ca),
                "clients": {
                    sae: {"cert": str(pki.cert(sae)), "key": str(pki.key(sae))} for sae in config.sae_ids
                },
            }
        )
    return entries


def find_sae(network_dir: str | Path, sae_id: str) -> tuple[KmeConfig, Pki]:
    """The KME that serves ``sae_id`` in the network at ``network_dir``, and the PKI paths."""
    configs = load_kmes(network_dir)
    if not configs:
        raise QentangleError(f"--network={str(network_dir)!r} has no KME (expected DIR/kme/*.json)")
    for config in configs:
        if sae_id in config.sae_ids:
            return config, config.pki
    known = ", ".join(sae for c in configs for sae in c.sae_ids)
    raise ValidationError(f"SAE {sae_id!r} is not in the network: expected one of {known}")
