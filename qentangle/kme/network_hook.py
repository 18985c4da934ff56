"""KMEs as nodes of ``qentangle network start`` (the hook of :mod:`qentangle.network.nodes`).

:func:`register_kme_nodes` registers the node kinds ``kme-alice`` and ``kme-bob``; list them in
the configuration's ``[network] nodes`` (after the stations) and ``network start`` runs one KME
per station, each on the station's key store ``DIR/<station>/keys.sqlite``. The command builder
creates the network CA and certificates and the KME configurations on first use (idempotent),
binds the node's recorded port on a restart, and the KME prints ``READY <host> <port>``.

The SAE of each station is named after it (``alice``, ``bob``); on the Micius presets after the
ground stations, ``delingha`` (alice) and ``nanshan`` (bob).

>>> sae_names({"config": {"name": "micius-2020-bright"}})
{'alice': ('delingha',), 'bob': ('nanshan',)}
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from qentangle.kme.config import kme_id_for, prepare_kmes

STATIONS = ("alice", "bob")
KME_NODES = tuple(kme_id_for(station) for station in STATIONS)  # "kme-alice", "kme-bob"
_GROUND_STATIONS = {"alice": "delingha", "bob": "nanshan"}


def register_kme_nodes() -> None:
    """Register the KME node kinds with the network layer (idempotent)."""
    from qentangle.network.nodes import register_node_kind

    for kind in KME_NODES:
        register_node_kind(kind, kme_command)


def with_kme_nodes(config: Any) -> Any:
    """``config`` (a :class:`~qentangle.network.config.NetworkConfig`) with one KME per station.

    Registers the KME node kinds and appends ``kme-alice`` and ``kme-bob`` after the stations,
    so that :func:`qentangle.network.nodes.start_network` runs them too (this is what
    ``qentangle network start`` does unless ``--no-kme``).

    >>> from qentangle.network.config import load_config
    >>> with_kme_nodes(load_config("lab")).nodes[-2:]
    ('kme-alice', 'kme-bob')
    """
    from dataclasses import replace

    register_kme_nodes()
    missing = tuple(kind for kind in KME_NODES if kind not in config.nodes)
    return replace(config, nodes=tuple(config.nodes) + missing)


def sae_names(network: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The SAE IDs each station's KME serves."""
    micius = str(network.get("config", {}).get("name", "")).startswith("micius")
    return {station: ((_GROUND_STATIONS[station] if micius else station),) for station in STATIONS}


def kme_command(network: dict[str, Any], name: str, directory: Path, port: int) -> list[str]:
    """Command line of the KME node ``name`` (``kme-<station>``) of ``network`` (network.json)."""
    root = Path(network["dir"])
    key_bytes = int(network.get("config", {}).get("key_bytes", 32))
    configs = prepare_kmes(
        root,
        {station: root / station / "keys.sqlite" for station in STATIONS},
        sae_ids=sae_names(network),
        default_key_size=8 * key_bytes,
    )
    (config,) = [c for c in configs if c.kme_id == name]
    pki = config.pki
    # network.json lists, beside the node's address (its URL is https://<host>:<port>), what a
    # client needs: the SAE IDs, the CA and each SAE's client certificate and key.
    network["nodes"][name]["kme"] = {
        "kme_id": config.kme_id,
        "station": config.station,
        "scheme": "https",
        "sae_ids": list(config.sae_ids),
        "ca": str(pki.ca),
        "clients": {sae: {"cert": str(pki.cert(sae)), "key": str(pki.key(sae))} for sae in config.sae_ids},
    }
    return [
        sys.executable,
        "-m",
        "qentangle.kme",
        str(config.config_path),
        "--port",
        str(port),
        "--ready-line",
    ]
