"""Keys for applications: an ETSI GS QKD 014 v1.1.1 key management entity (KME) per station.

Each station's KME serves its secure application entities (SAEs) from the station's key store
(:mod:`qentangle.network.keystore`) over HTTPS with mutual TLS, and agrees with the other KME
over their own mutually authenticated HTTPS channel which keys belong to which SAE pair.

Modules: :mod:`~qentangle.kme.pki` (the network's CA and certificates),
:mod:`~qentangle.kme.config` (where KMEs live in a network directory),
:mod:`~qentangle.kme.service` (the key delivery logic), :mod:`~qentangle.kme.app` (the HTTP API),
:mod:`~qentangle.kme.server` (uvicorn with mTLS, spawning and stopping KME processes),
:mod:`~qentangle.kme.client` (an SAE's client), :mod:`~qentangle.kme.envelope` and
:mod:`~qentangle.kme.messages` (AES-256-GCM messages, ``qentangle sae send/receive``),
:mod:`~qentangle.kme.network_hook` (KMEs as nodes of ``qentangle network start``).

Running KMEs over existing station stores: :func:`prepare_kmes` (CA, certificates,
configurations), then :func:`start_kmes`; :func:`kme_entries` lists URL, SAE IDs and
certificates of each KME. Names are imported lazily (the server's dependencies load only when
a KME runs).

>>> from qentangle.kme import prepare_kmes, send_message
>>> callable(prepare_kmes) and callable(send_message)
True
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

_EXPORTS = {
    "KmeConfig": "qentangle.kme.config",
    "prepare_kmes": "qentangle.kme.config",
    "load_kmes": "qentangle.kme.config",
    "kme_entries": "qentangle.kme.config",
    "KmeProcess": "qentangle.kme.server",
    "spawn_kme": "qentangle.kme.server",
    "spawn_kmes": "qentangle.kme.server",
    "stop_pid": "qentangle.kme.server",
    "SaeClient": "qentangle.kme.client",
    "send_message": "qentangle.kme.messages",
    "receive_message": "qentangle.kme.messages",
    "register_kme_nodes": "qentangle.kme.network_hook",
}

__all__ = sorted([*_EXPORTS, "start_kmes", "stop_kmes"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qentangle.kme' has no attribute {name!r}")


def start_kmes(network_dir: str | Path, *, timeout: float = 30.0) -> list[Any]:
    """Start every KME configured in ``network_dir`` (see :func:`prepare_kmes`); return them running
    (:class:`~qentangle.kme.server.KmeProcess`). If one fails to start, all are stopped."""
    from qentangle.kme.config import load_kmes
    from qentangle.kme.server import spawn_kmes

    return spawn_kmes(network_dir, [config.kme_id for config in load_kmes(network_dir)], timeout=timeout)


def stop_kmes(processes: list[Any]) -> None:
    """Stop KME processes (SIGTERM, then SIGKILL after 10 s)."""
    for process in processes:
        process.stop()
