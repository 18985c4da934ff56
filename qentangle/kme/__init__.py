"""Keys for applications: an ETSI GS QKD 014 v1.1.1 key management entity (KME) per station.

Each station's KME serves its secure application entities (SAEs) from the station's key store
(:mod:`qentangle.network.keystore`) over HTTPS with mutual TLS, and agrees with the other KME
over their own mutually authenticated HTTPS channel which keys belong to which SAE pair.

Modules: :mod:`~qentangle.kme.pki` (the network's CA and certificates),
:mod:`~qentangle.kme.config` (where KMEs live in a network directory),
:mod:`~qentangle.kme.service` (the key delivery logic), :mod:`~qentangle.kme.app` (the HTTP API),
:mod:`~qentangle.kme.server` (uvicorn with mTLS, spawning and stopping KME processes),
:mod:`~qentangle.kme.client` (an SAE's client) and :mod:`~qentangle.kme.envelope` (the
AES-256-GCM message format of ``qentangle sae send``).

For ``qentangle network start``: call :func:`prepare_kmes` with the stations' key stores, then
:func:`start_kmes`; :func:`kme_entries` gives what ``network.json`` lists for each KME.
"""

from __future__ import annotations

from pathlib import Path

from qentangle.kme.config import KmeConfig, kme_entries, load_kmes, prepare_kmes
from qentangle.kme.server import KmeProcess, spawn_kme, spawn_kmes, stop_pid

__all__ = [
    "KmeConfig",
    "KmeProcess",
    "kme_entries",
    "load_kmes",
    "prepare_kmes",
    "spawn_kme",
    "spawn_kmes",
    "start_kmes",
    "stop_kmes",
    "stop_pid",
]


def start_kmes(network_dir: str | Path, *, timeout: float = 30.0) -> list[KmeProcess]:
    """Start every KME configured in ``network_dir`` (see :func:`prepare_kmes`); return them running.

    If one fails to start, those already started are stopped and the error is raised.
    """
    return spawn_kmes(network_dir, [config.kme_id for config in load_kmes(network_dir)], timeout=timeout)


def stop_kmes(processes: list[KmeProcess]) -> None:
    """Stop KME processes (SIGTERM, then SIGKILL after 10 s)."""
    for process in processes:
        process.stop()
