"""KMEs as nodes of ``qentangle network start``: the command builder, and a whole lab network."""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from etsi_qkd_014_client import QKD014Client

from qentangle.kme.config import kme_entries
from qentangle.kme.network_hook import KME_NODES, kme_command, register_kme_nodes


def test_kme_command_prepares_pki_and_lists_the_kme_in_network_json(tmp_path: Path) -> None:
    network = {
        "dir": str(tmp_path),
        "config": {"name": "micius-2020", "key_bytes": 16},
        "nodes": {name: {"kind": name} for name in ("source", "bob", "alice", *KME_NODES)},
    }
    command = kme_command(network, "kme-bob", tmp_path / "kme-bob", 0)
    assert command[1:4] == ["-m", "qentangle.kme", str(tmp_path / "kme" / "kme-bob.json")]
    assert command[-3:] == ["--port", "0", "--ready-line"]
    info = network["nodes"]["kme-bob"]["kme"]
    assert info["sae_ids"] == ["nanshan"] and info["scheme"] == "https"
    for path in (Path(info["clients"]["nanshan"]["key"]), tmp_path / "pki" / "ca.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = {e["kme_id"]: e for e in kme_entries(tmp_path)}
    assert entries["kme-alice"]["sae_ids"] == ["delingha"] and entries["kme-alice"]["url"] is None
    assert '"default_key_size": 128' in (tmp_path / "kme" / "kme-alice.json").read_text()


@pytest.mark.fuzz
@pytest.mark.timeout(400)
def test_lab_network_with_kmes(tmp_path: Path) -> None:
    """Acceptance against a running ``lab`` network: etsi-qkd-014-client gets keys from the master
    KME and the same keys by ID from the slave KME; a second dec_keys is refused; a message
    goes from alice to bob; stop leaves no process behind."""
    from qentangle.kme.messages import receive_message, send_message
    from qentangle.network.config import load_config
    from qentangle.network.nodes import start_network, stop_network

    register_kme_nodes()
    config = load_config("lab")
    config = dataclasses.replace(config, nodes=("source", "bob", "alice", *KME_NODES))
    network = start_network(config, tmp_path / "net")
    pids = [entry["pid"] for entry in network["nodes"].values()]
    try:
        entries = {e["station"]: e for e in kme_entries(tmp_path / "net")}
        a, b = entries["alice"], entries["bob"]
        master = QKD014Client(
            a["url"][8:], a["clients"]["alice"]["cert"], a["clients"]["alice"]["key"], a["ca"]
        )
        slave = QKD014Client(b["url"][8:], b["clients"]["bob"]["cert"], b["clients"]["bob"]["key"], b["ca"])
        deadline = time.monotonic() + 180
        while master.get_status("bob")[1].stored_key_count < 4:  # keys arrive block by block
            assert time.monotonic() < deadline, "no keys in the stores after 180 s"
            time.sleep(0.5)
        code, container = master.get_key("bob", number=2, size=256)
        assert code == 200
        ids = [key.key_id for key in container.keys]
        code, same = slave.get_key_with_key_IDs("alice", ids)
        assert code == 200 and [k.key for k in same.keys] == [k.key for k in container.keys]
        assert slave.get_key_with_key_IDs("alice", ids)[0] == 400
        envelope = send_message(tmp_path / "net", "alice", "bob", b"hello bob")
        assert receive_message(tmp_path / "net", "bob", envelope) == b"hello bob"
    finally:
        stop_network(tmp_path / "net")
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"process {pid} survived network stop")
