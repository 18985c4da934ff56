"""A network of real processes on loopback: keys on both sides, identical; stop leaves nothing."""

from __future__ import annotations

import os
import sqlite3

import pytest
from netutil import Network, assert_stores_agree, small_config

from qentangle.cli.main import main
from qentangle.network import nodes

pytestmark = pytest.mark.timeout(180)


def test_start_gives_identical_keys_on_both_stations_and_stop_leaves_no_process(network):
    started = network.start()
    assert [n for n in started["nodes"]] == ["source", "bob", "alice"]
    assert all(entry["state"] == "running" for entry in started["nodes"].values())
    network.wait_blocks(2)
    status = network.status()
    assert status["nodes"]["alice"]["state"] == "running"
    stopped = nodes.stop_network(network.dir)
    assert all(entry["state"] == "stopped" for entry in stopped["nodes"].values())
    for pid in network.pids:
        assert not nodes._alive(pid)
    assert_stores_agree(network)
    store = network.dir / "alice" / "keys.sqlite"
    assert os.stat(store).st_mode & 0o777 == 0o600
    log = (network.dir / "alice" / "node.log").read_text()
    assert "stored" in log


def test_cli_start_status_stop(tmp_path, capsys):
    config = small_config(tmp_path, seed=2)
    path = tmp_path / "small.toml"
    directory = tmp_path / "cli-net"
    net = None
    try:
        assert main(["network", "start", "--config", str(path), "--dir", str(directory)]) == 0
        net = Network(directory, config)
        net.pids |= {e["pid"] for e in nodes.read_network(directory)["nodes"].values()}
        net.wait_blocks(1)
        assert main(["network", "status", "--dir", str(directory)]) == 0
        out = capsys.readouterr().out
        assert "alice" in out and "bob" in out and "keys" in out
    finally:
        assert main(["network", "stop", "--dir", str(directory)]) == 0
        if net is not None:
            net.stop()


def _one_line_error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "Traceback" not in err
    return err


def test_faults_are_one_line_and_non_zero(tmp_path, capsys, network):
    # A port in use.
    busy = __import__("socket").create_server(("127.0.0.1", 0))
    try:
        path = tmp_path / "busy.toml"
        port = busy.getsockname()[1]
        path.write_text(
            (tmp_path / "small.toml").read_text().replace("[link]", f"ports = {{ source = {port} }}\n[link]")
        )
        err = _one_line_error(
            capsys, ["network", "start", "--config", str(path), "--dir", str(tmp_path / "n1")]
        )
        assert "cannot bind" in err and str(port) in err
    finally:
        busy.close()
    # A corrupt store.
    network.start(node="source")
    (network.dir / "bob").mkdir(exist_ok=True)
    (network.dir / "bob" / "keys.sqlite").write_bytes(b"this is not a database" * 100)
    err = _one_line_error(
        capsys,
        [
            "network",
            "start",
            "--config",
            str(tmp_path / "small.toml"),
            "--dir",
            str(network.dir),
            "--node",
            "bob",
        ],
    )
    assert "bob" in err
    # A directory locked by another node: Alice's store held open by another station process.
    from qentangle.network.keystore import KeyStore

    with KeyStore.open(network.dir / "alice" / "keys.sqlite", owner="station"):
        os.remove(network.dir / "bob" / "keys.sqlite")
        network.start(node="bob")
        err = _one_line_error(
            capsys,
            [
                "network",
                "start",
                "--config",
                str(tmp_path / "small.toml"),
                "--dir",
                str(network.dir),
                "--node",
                "alice",
            ],
        )
    assert "locked" in err
    with pytest.raises(sqlite3.Error):
        sqlite3.connect(f"file:{tmp_path / 'none.sqlite'}?mode=ro", uri=True).execute("SELECT 1 FROM blocks")
