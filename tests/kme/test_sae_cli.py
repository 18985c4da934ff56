"""``qentangle sae send`` / ``receive`` between two running KMEs, and ``qentangle kme serve``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kme_harness import STATIONS, KmeNetwork, make_network

from qentangle.cli.main import main
from qentangle.kme.config import kme_entries

pytestmark = pytest.mark.timeout(120)


def test_round_trip_of_one_mebibyte(kme_network: KmeNetwork, tmp_path: Path, capsys) -> None:
    message = os.urandom(1 << 20)
    (tmp_path / "report.bin").write_bytes(message)
    envelope = tmp_path / "report.bin.envelope.json"
    args = ["sae", "send", str(tmp_path / "report.bin"), "--network", str(kme_network.root)]
    assert main([*args, "--from", "delingha", "--to", "nanshan", "--json"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["envelope"] == str(envelope) and sent["bytes"] == 1 << 20
    data = json.loads(envelope.read_bytes())
    assert data["key_IDs"] == sent["key_IDs"] and data["cipher"] == "AES-256-GCM"
    out = tmp_path / "received.bin"
    receive = ["sae", "receive", str(envelope), "--network", str(kme_network.root), "--as", "nanshan"]
    assert main([*receive, "--out", str(out)]) == 0
    assert out.read_bytes() == message
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    capsys.readouterr()
    assert main([*receive, "--out", str(tmp_path / "again.bin")]) == 2  # the key was handed out once
    assert "already delivered" in capsys.readouterr().err
    assert not (tmp_path / "again.bin").exists()


def test_a_flipped_ciphertext_bit_is_refused(kme_network: KmeNetwork, tmp_path: Path, capsys) -> None:
    (tmp_path / "note.txt").write_bytes(b"meet at the ground station at 02:00 UTC")
    send = ["sae", "send", str(tmp_path / "note.txt"), "--network", str(kme_network.root)]
    assert main([*send, "--from", "nanshan", "--to", "delingha", "--out", str(tmp_path / "note.env")]) == 0
    data = json.loads((tmp_path / "note.env").read_bytes())
    import base64

    ciphertext = bytearray(base64.b64decode(data["ciphertext"]))
    ciphertext[5] ^= 0x10
    data["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    (tmp_path / "note.env").write_text(json.dumps(data))
    capsys.readouterr()
    receive = [
        "sae",
        "receive",
        str(tmp_path / "note.env"),
        "--network",
        str(kme_network.root),
        "--as",
        "delingha",
    ]
    assert main([*receive, "--out", str(tmp_path / "note.out")]) == 1
    err = capsys.readouterr().err
    assert "failed authentication" in err and err.count("\n") == 1
    assert not (tmp_path / "note.out").exists()


def test_bad_input_is_one_line_exit_2(kme_network: KmeNetwork, tmp_path: Path, capsys) -> None:
    root = str(kme_network.root)
    (tmp_path / "m.txt").write_bytes(b"x")
    cases = [
        (
            [
                "sae",
                "send",
                str(tmp_path / "missing.txt"),
                "--network",
                root,
                "--from",
                "delingha",
                "--to",
                "nanshan",
            ],
            "missing.txt",
        ),
        (
            ["sae", "send", str(tmp_path / "m.txt"), "--network", root, "--from", "mars", "--to", "nanshan"],
            "mars",
        ),
        (
            [
                "sae",
                "send",
                str(tmp_path / "m.txt"),
                "--network",
                root,
                "--from",
                "delingha",
                "--to",
                "delingha-2",
            ],
            "different stations",
        ),
        (["sae", "receive", str(tmp_path / "m.txt"), "--network", root, "--as", "nanshan"], "not JSON"),
        (
            ["sae", "send", str(tmp_path / "m.txt"), "--network", str(tmp_path), "--from", "a", "--to", "b"],
            "no KME",
        ),
    ]
    for argv, needle in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_kme_serve_configures_and_stops_cleanly(tmp_path: Path) -> None:
    network = make_network(tmp_path / "net", blocks=1, keys_per_block=10)
    for path in (tmp_path / "net" / "kme").glob("*.json"):
        path.unlink()  # as a network directory before any KME was configured
    command = [sys.executable, "-m", "qentangle.cli.main", "kme", "serve", "--dir", str(network.root)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in STATIONS]  # one line per KME once it listens
        assert all("https://127.0.0.1:" in line for line in lines), lines
        entries = kme_entries(network.root)
        assert [e["sae_ids"] for e in entries] == [["delingha"], ["nanshan"]]
        pids = [e["pid"] for e in entries]
        assert all(pids)
        key_mode = stat.S_IMODE((network.root / "pki" / "ca.key").stat().st_mode)
        assert key_mode == 0o600
        with network.client("delingha") as master:
            status = master.get("/api/v1/keys/nanshan/status").json()
            assert status["stored_key_count"] == 5  # its lane: half of the 10 keys
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        for pid in pids:  # the KME processes are gone too
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            assert not _alive(pid)
        assert all(e["url"] is None for e in kme_entries(network.root))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for entry in kme_entries(network.root):
            if entry["pid"]:
                os.kill(entry["pid"], signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_kme_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    network = make_network(tmp_path / "net", blocks=1, keys_per_block=4)
    code = (
        "import sys\n"
        "from qentangle.kme.server import spawn_kme\n"
        f"p = spawn_kme({str(network.root)!r}, 'kme-delingha', die_with_parent=True)\n"
        "print(p.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    kme_pid = None
    try:
        kme_pid = int(parent.stdout.readline())
        assert _alive(kme_pid)
        parent.kill()  # SIGKILL: no clean-up code runs in the parent
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(kme_pid):
            time.sleep(0.05)
        assert not _alive(kme_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=30)
        if kme_pid is not None and _alive(kme_pid):
            os.kill(kme_pid, signal.SIGKILL)
