import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest

from qentangle.cli import main as cli_main
from qentangle.cli.main import main


def _write(tmp_path, n=20_000, q=0.02, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    np.save(tmp_path / "alice.npy", a)
    text = "\n".join("".join(map(str, b[i : i + 80])) for i in range(0, n, 80))
    (tmp_path / "bob.txt").write_text(text)
    return tmp_path / "alice.npy", tmp_path / "bob.txt"


@contextlib.contextmanager
def _as_other_user():
    """Run the block as an unprivileged user when we are root (permissions bind root otherwise)."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.setegid(65534)
        os.seteuid(65534)
    except OSError as error:  # e.g. a user namespace without uid 65534
        os.setegid(0)
        pytest.skip(f"cannot drop privileges to test file permissions: {error}")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_dir():
    """A folder another user can enter (pytest's tmp_path is private to its owner)."""
    with tempfile.TemporaryDirectory(prefix="qentangle-cli-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


def _one_line_error(capsys, *needles):
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    for needle in needles:
        assert needle in captured.err, (needle, captured.err)
    return captured


def test_cli_writes_private_keys_and_report(tmp_path, capsys):
    alice, bob = _write(tmp_path)
    out = tmp_path / "out"
    code = main(["distill", str(alice), str(bob), "--seed", "1", "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys_match"] is True and report["final_key_bits"] > 0
    assert report["phase_error_source"] == "key-sample"
    for name in ("alice.key", "bob.key", "report.json"):
        mode = stat.S_IMODE((out / name).stat().st_mode)
        assert mode == 0o600, name
    key_a = (out / "alice.key").read_text().strip()
    assert len(key_a) == report["final_key_bits"]
    assert key_a == (out / "bob.key").read_text().strip()
    assert key_a not in json.dumps(report)


def test_cli_bad_input_one_line_exit_2(tmp_path, capsys):
    alice, _ = _write(tmp_path)
    (tmp_path / "bad.txt").write_text("0101x")
    assert main(["distill", str(alice), str(tmp_path / "bad.txt")]) == 2
    _one_line_error(capsys, "BOB")


def test_cli_rejects_two_dimensional_npy(tmp_path, capsys):
    _, bob = _write(tmp_path, n=2000)
    np.save(tmp_path / "square.npy", np.zeros((40, 50), dtype=np.uint8))
    assert main(["distill", str(tmp_path / "square.npy"), str(bob)]) == 2
    _one_line_error(capsys, "ALICE", "(40, 50)", "1-D")


def test_cli_abort_exit_1(tmp_path, capsys):
    alice, bob = _write(tmp_path, n=2000, q=0.2)
    assert main(["distill", str(alice), str(bob), "--seed", "2"]) == 1
    assert "aborted" in capsys.readouterr().out


def test_cli_abort_removes_the_keys_of_an_earlier_run(tmp_path, capsys):
    alice, bob = _write(tmp_path)
    out = tmp_path / "out"
    assert main(["distill", str(alice), str(bob), "--seed", "1", "--out", str(out)]) == 0
    assert (out / "alice.key").exists() and (out / "bob.key").exists()
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    alice2, bob2 = _write(noisy, n=2000, q=0.2)
    assert main(["distill", str(alice2), str(bob2), "--seed", "2", "--out", str(out)]) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["aborted"] and "alice_key_file" not in report
    assert not (out / "alice.key").exists() and not (out / "bob.key").exists()


def test_cli_unreadable_input_one_line_exit_2(shared_dir, capsys):
    alice, bob = _write(shared_dir, n=2000)
    os.chmod(alice, 0o000)
    with _as_other_user():
        code = main(["distill", str(alice), str(bob)])
    assert code == 2
    _one_line_error(capsys, "ALICE", str(alice), "Permission denied")


def test_cli_unwritable_out_folder_one_line_exit_2(shared_dir, capsys):
    alice, bob = _write(shared_dir, n=20_000)
    os.chmod(alice, 0o644)
    os.chmod(bob, 0o644)
    out = shared_dir / "out"
    out.mkdir(mode=0o755)  # exists, but not writable by the user who runs the command
    with _as_other_user():
        code = main(["distill", str(alice), str(bob), "--seed", "1", "--out", str(out)])
    assert code == 2
    _one_line_error(capsys, "alice.key", "Permission denied")
    assert list(out.iterdir()) == []


def test_cli_write_error_on_a_key_file_one_line_exit_2(tmp_path, capsys):
    """Whoever runs it: a folder where bob.key should go makes the write fail."""
    alice, bob = _write(tmp_path)
    out = tmp_path / "out"
    (out / "bob.key").mkdir(parents=True)
    assert main(["distill", str(alice), str(bob), "--seed", "1", "--out", str(out)]) == 2
    _one_line_error(capsys, "bob.key")
    assert not (out / "alice.key").exists()  # no new key left beside a missing one


def test_cli_backstop_prints_any_os_error_on_one_line(tmp_path, capsys, monkeypatch):
    alice, bob = _write(tmp_path, n=2000)

    def broken(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("qentangle.cli.distill_cmd",))
    monkeypatch.setattr("qentangle.cli.distill_cmd.ClassicalChannel.with_random_key", broken)
    assert main(["distill", str(alice), str(bob)]) == 2
    _one_line_error(capsys, "Permission denied")


def test_cli_bases_file_bounds_phase_error_from_the_other_basis(tmp_path, capsys):
    alice, bob = _write(tmp_path, n=20_000, q=0.02)
    labels = np.random.default_rng(5).integers(0, 2, 20_000, dtype=np.uint8)
    (tmp_path / "bases.txt").write_text("".join(map(str, labels)))
    args = ["distill", str(alice), str(bob), "--bases", str(tmp_path / "bases.txt"), "--seed", "3"]
    assert main([*args, "--qber-hint", "0.02", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["phase_error_source"] == "other-basis-after-ec"
    assert report["sample_bits"] == 0 and report["keys_match"] and report["final_key_bits"] > 0
    assert report["bases_file"].endswith("bases.txt")
    assert main([*args, "--sample-fraction", "0.1"]) == 2
    _one_line_error(capsys, "--sample-fraction")
    assert main(["distill", str(alice), str(bob), "--qber-hint", "0.02"]) == 2
    _one_line_error(capsys, "--bases")


def test_cli_help_states_the_basis_symmetry_assumption(capsys):
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "basis symmetry" in text and "--bases" in text and "assumption" in text
