"""Two real KMEs on loopback (ephemeral ports, mutual TLS) over two station stores that hold
identical blocks, as the stations would commit them."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from qentangle.kme.config import kme_entries, prepare_kmes
from qentangle.kme.server import KmeProcess, spawn_kmes
from qentangle.network.keystore import KeyStore

STATIONS = ("Delingha", "Nanshan")
SAES = {"Delingha": ("delingha", "delingha-2"), "Nanshan": ("nanshan", "nanshan-2")}


@dataclass
class KmeNetwork:
    """A network directory with two KMEs running (and the means to restart them)."""

    root: Path
    processes: dict[str, KmeProcess] = field(default_factory=dict)

    def fill(self, blocks: int, keys_per_block: int, key_bytes: int = 32) -> None:
        """Commit the same random blocks to both stations' stores."""
        stores = [KeyStore.open(self.store(station)) for station in STATIONS]
        try:
            for index in range(blocks):
                payload = os.urandom(keys_per_block * key_bytes)
                block_id = f"block-{os.urandom(4).hex()}-{index}"
                for store in stores:
                    store.commit_block(block_id, payload, key_bytes=key_bytes, params={"eps_sec": 1e-10})
        finally:
            for store in stores:
                store.close()

    def store(self, station: str) -> Path:
        return self.root / station.lower() / "keys.sqlite"

    def start(self, kme_id: str | None = None) -> None:
        names = [
            e["kme_id"]
            for e in kme_entries(self.root)
            if kme_id in (None, e["kme_id"]) and e["kme_id"] not in self.processes
        ]
        for process in spawn_kmes(self.root, names, synchronous="NORMAL", die_with_parent=True):
            self.processes[process.kme_id] = process

    def stop(self, kme_id: str | None = None) -> None:
        for name in list(self.processes):
            if kme_id in (None, name):
                self.processes.pop(name).stop()

    def url(self, sae: str) -> str:
        for entry in kme_entries(self.root):
            if sae in entry["sae_ids"]:
                return str(entry["url"])
        raise KeyError(sae)

    def ca(self) -> str:
        return str(self.root / "pki" / "ca.pem")

    def identity(self, sae: str) -> tuple[str, str]:
        return str(self.root / "pki" / f"sae-{sae}.pem"), str(self.root / "pki" / f"sae-{sae}.key")

    def ssl_context(self, sae: str | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca())
        if sae is not None:
            context.load_cert_chain(*self.identity(sae))
        return context

    def client(self, sae: str, *, at: str | None = None, cert_of: str | None = "self") -> httpx.Client:
        """An httpx client of ``sae`` to its KME (or to the KME of ``at``)."""
        identity = sae if cert_of == "self" else cert_of
        return httpx.Client(base_url=self.url(at or sae), verify=self.ssl_context(identity), timeout=20.0)


def make_network(root: Path, *, blocks: int = 2, keys_per_block: int = 500) -> KmeNetwork:
    network = KmeNetwork(root)
    stores = {station: network.store(station) for station in STATIONS}
    prepare_kmes(root, stores, sae_ids=SAES)
    network.fill(blocks, keys_per_block)
    return network
