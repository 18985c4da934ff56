"""A network of real processes on loopback: keys on both sides, identical; stop leaves nothing;
faults at start are one line and a non-zero exit."""

from __future__ import annotations

import os
import socket

import pytest
from netutil import Network, assert_stores_agree, small_config

from qentangle.cli.main import main
from qentangle.network import nodes
from qentangle.network.keystore import KeyStore

pytestmark = pytest.mark.timeout(180)


def test_cli_start_status_stop_gives_identical_keys_and_leaves_no_process(tmp_path, capsys):
    config = small_config(tmp_path, seed=2)
    directory = tmp_path / "cli-net"
    net = Network(directory, config)
    try:
        assert (
            main(["network", "start", "--config", str(tmp_path / "small.toml"), "--dir", str(directory)]) == 0
        )
        started = nodes.read_network(directory)["nodes"]
        net.pids |= {entry["pid"] for entry in started.values()}
        assert list(started)[:3] == ["source", "bob", "alice"]  # then the KMEs, when registered
        assert all(entry["state"] == "running" for entry in started.values())
        net.wait_blocks(2)
        assert main(["network", "status", "--dir", str(directory)]) == 0
        out = capsys.readouterr().out
        assert "alice" in out and "bob" in out and "keys" in out and "auth pads" in out
    finally:
        assert main(["network", "stop", "--dir", str(directory)]) == 0
        net.stop()
    for pid in net.pids:
        assert not nodes._alive(pid)
    assert_stores_agree(net)
    assert os.stat(directory / "alice" / "keys.sqlite").st_mode & 0o777 == 0o600
    assert os.stat(directory / "bob" / "auth.key").st_mode & 0o777 == 0o600
    assert "stored" in (directory / "alice" / "node.log").read_text()


def _one_line_error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "Traceback" not in err
    return err


def test_faults_are_one_line_and_non_zero(tmp_path, capsys, network):
    small = str(tmp_path / "small.toml")
    # A port in use.
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        path = tmp_path / "busy.toml"
        path.write_text(
            (tmp_path / "small.toml").read_text().replace("[link]", f"ports = {{ source = {port} }}\n[link]")
        )
        err = _one_line_error(
            capsys, ["network", "start", "--config", str(path), "--dir", str(tmp_path / "n1")]
        )
    assert "cannot bind" in err and str(port) in err
    # A corrupt store (Bob fails before he needs the source: its address is a placeholder).
    state = nodes.create_network(network.config, network.dir)
    state["nodes"]["source"]["address"] = ["127.0.0.1", 9]
    nodes.write_network(state)
    (network.dir / "bob" / "keys.sqlite").write_bytes(b"this is not a database" * 100)
    err = _one_line_error(
        capsys, ["network", "start", "--config", small, "--dir", str(network.dir), "--node", "bob"]
    )
    assert "bob" in err
    # A directory locked by another node: Bob's store held by another station process.
    os.remove(network.dir / "bob" / "keys.sqlite")
    with KeyStore.open(network.dir / "bob" / "keys.sqlite", owner="station"):
        err = _one_line_error(
            capsys, ["network", "start", "--config", small, "--dir", str(network.dir), "--node", "bob"]
        )
    assert "locked" in err
