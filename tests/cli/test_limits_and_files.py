"""Issue 13: each listed failure reproduced (limits up front, bad files, atomic output sets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qentangle.cli.main import main
from qentangle.files import write_set
from qentangle.scenarios import preset_text

pytestmark = pytest.mark.timeout(120)


def _one_line(capsys, code, *needles, expected_code=2):
    err = capsys.readouterr().err
    assert code == expected_code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _run(capsys, argv):
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["chsh", "--shots", "1e12"], "--shots"),
        (["chsh", "--shots", "1e20"], "--shots"),
        (["bbm92", "--pairs", "1e12"], "--pairs"),
        (["bbm92", "--pairs", "1e20"], "--pairs"),
        (["e91", "--pairs", "1e12"], "--pairs"),
        (["e91", "--pairs", "1e20"], "--pairs"),
    ],
)
def test_sizes_that_cannot_fit_are_refused_up_front_with_the_estimate(capsys, argv, option):
    started = time.perf_counter()
    err = _one_line(capsys, _run(capsys, argv), option, "too large", "GB", "on this machine")
    assert time.perf_counter() - started < 30
    assert f"expected {option} <= " in err


def test_pass_data_time_is_refused_when_it_cannot_finish(capsys, monkeypatch):
    monkeypatch.setenv("QENTANGLE_MAX_RUN_S", "60")
    code = _run(capsys, ["pass", "micius-2020", "--set", "protocol.data_time_s=1e7"])
    _one_line(capsys, code, "protocol.data_time_s=1e+07", "too large", "expected protocol.data_time_s <= ")


def test_distill_refuses_devices_and_pipes(capsys, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(100, dtype=np.uint8))
    _one_line(capsys, _run(capsys, ["distill", str(tmp_path / "a.npy"), "/dev/zero"]),
              "BOB='/dev/zero' is not a regular file")


def test_distill_streams_blocks_of_2_22_bits(capsys, tmp_path, monkeypatch):
    """A file larger than one block is distilled block by block (smaller blocks here, same code)."""
    from qentangle.cli import distill_cmd

    monkeypatch.setattr(distill_cmd, "BLOCK_BITS", 30_000)
    monkeypatch.setattr(distill_cmd.BitFile, "READ_BYTES", 7_001)  # text read in odd-sized pieces
    rng = np.random.default_rng(5)
    alice = rng.integers(0, 2, 100_000, dtype=np.uint8)
    bob = alice ^ (rng.random(alice.size) < 0.02).astype(np.uint8)
    np.save(tmp_path / "a.npy", alice)
    lines = ((bob[i:i + 80] + 48).tobytes() for i in range(0, bob.size, 80))
    (tmp_path / "b.txt").write_bytes(b"\n".join(lines))
    assert main(["distill", str(tmp_path / "a.npy"), str(tmp_path / "b.txt"), "--seed", "2", "--json",
                 "--out", str(tmp_path / "out")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["blocks"] == 4 and len(report["block_reports"]) == 4
    assert report["sifted_bits"] == 100_000 and report["keys_match"]
    assert sum(r["final_key_bits"] for r in report["block_reports"]) == report["final_key_bits"] > 0
    assert sum(r["eps_sec"] for r in report["block_reports"]) == pytest.approx(1e-10)
    key_a = (tmp_path / "out" / "alice.key").read_text().strip()
    assert len(key_a) == report["final_key_bits"]
    assert key_a == (tmp_path / "out" / "bob.key").read_text().strip()


@pytest.mark.parametrize("path", ["out.xyz", "noext", "", "."])
def test_plot_paths_without_a_figure_format_are_refused_before_running(capsys, tmp_path, path):
    code = _run(capsys, ["chsh", "--shots", "100", "--plot", path])
    _one_line(capsys, code, "--plot=")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (preset_text("micius-2020").replace("Nanshan", "Nansh\u00e1n").encode("latin-1"), "not UTF-8"),
        (bytes(range(256)) * 4, "not UTF-8"),
        (preset_text("micius-2020").replace("pair_rate_hz = 5.9e6", "").encode(),
         "source.pair_rate_hz is missing"),
        (b"[time]\nstep_s = 5.0\n", "is missing"),
        (b'extends = "micius-2020"\n[source]\ncolour = 1\n', "source.colour is not a known key"),
    ],
)
def test_scenario_files_get_one_line_naming_the_field_and_file(capsys, tmp_path, content, needle):
    path = tmp_path / "mine.toml"
    path.write_bytes(content)
    code = _run(capsys, ["pass", str(path)])
    _one_line(capsys, code, needle, "mine.toml")


def test_scenario_extends_a_preset(tmp_path):
    from qentangle.scenarios import load_scenario

    path = tmp_path / "brighter.toml"
    path.write_text('extends = "micius-2020"\n[source]\npair_rate_hz = 1.2e7\n')
    scenario = load_scenario(path)
    assert scenario.source.pair_rate_hz == 1.2e7
    assert scenario.alice == load_scenario("micius-2020").alice


def test_list_keys_shows_every_settable_key(capsys):
    from qentangle.scenarios import schema

    assert main(["pass", "--list-keys"]) == 0
    out = capsys.readouterr().out
    for section, keys in schema().items():
        for key in keys:
            assert f"{section}.{key} " in out
    assert "source.pair_rate_hz" in out and " Hz " in out


@pytest.mark.parametrize("command", ["chsh", "e91", "bbm92", "distill", "pass", "compare"])
def test_every_command_and_option_has_help(capsys, command):
    from qentangle.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    parser = sub.choices[command]
    assert parser.description, command
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, (command, action.option_strings)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "exit status: 0 done; 1 the protocol aborted" in " ".join(capsys.readouterr().out.split())


def test_protocol_out_writes_the_keys_that_distill_reads(capsys, tmp_path):
    assert main(["bbm92", "--pairs", "50000", "--seed", "4", "--out", str(tmp_path / "k"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    key = (tmp_path / "k" / "alice.key").read_text().strip()
    assert len(key) == report["final_key_bits"] > 0
    assert key == (tmp_path / "k" / "bob.key").read_text().strip()
    assert oct((tmp_path / "k" / "alice.key").stat().st_mode & 0o777) == "0o600"
    # an abort is exit 1 (the same rule as distill) and removes the earlier keys
    argv = ["bbm92", "--pairs", "50000", "--seed", "4", "--depolarizing", "0.4", "--out", str(tmp_path / "k")]
    assert main(argv) == 1
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["report.json"]


# ------------------------------------------------------------------------- atomic output sets
def _old_set(folder: Path) -> dict[str, bytes]:
    files = {"alice.key": b"0101\n", "bob.key": b"0101\n", "report.json": b'{"old": true}\n'}
    write_set(folder, files)
    return files


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("step", range(8))
def test_an_interrupt_at_any_step_leaves_the_old_or_the_new_set(tmp_path, monkeypatch, step):
    """SIGINT delivered at each file-system step of write_set: complete old or new set, no temp file."""
    old = _old_set(tmp_path)
    new = {"alice.key": b"1111\n", "bob.key": b"1111\n", "report.json": b'{"new": true}\n'}
    calls = {"n": 0}
    real = {name: getattr(os, name) for name in ("fsync", "replace", "fchmod")}

    def wrap(name):
        def step_then_maybe_interrupt(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == step + 1:
                signal.raise_signal(signal.SIGINT)
            return real[name](*args, **kwargs)
        return step_then_maybe_interrupt

    for name in real:
        monkeypatch.setattr(os, name, wrap(name))
    try:
        write_set(tmp_path, new)
    except KeyboardInterrupt:
        pass
    after = _contents(tmp_path)
    assert after in (old, new), after
    assert not [name for name in after if name.startswith(".")]


def test_an_error_on_one_file_leaves_the_old_set(tmp_path):
    old = _old_set(tmp_path)
    (tmp_path / "bob.key").unlink()
    (tmp_path / "bob.key").mkdir()
    with pytest.raises(Exception, match=r"bob\.key"):
        write_set(tmp_path, {"alice.key": b"1\n", "bob.key": b"1\n", "report.json": b"{}\n"})
    assert (tmp_path / "alice.key").read_bytes() == old["alice.key"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _signal_run(tmp_path: Path, argv: list[str], signum: int, delay: float) -> subprocess.CompletedProcess:
    process = subprocess.Popen([sys.executable, "-m", "qentangle.cli.main", *argv], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(delay)  # the interrupt time under test, not a synchronisation
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@pytest.mark.parametrize(
    ("signum", "delay"), [(signal.SIGINT, 0.6), (signal.SIGINT, 1.5), (signal.SIGTERM, 2.5)]
)
def test_interrupt_at_any_moment_is_one_line_and_exit_130(tmp_path, signum, delay):
    done = _signal_run(tmp_path, ["bbm92", "--pairs", "3e6", "--seed", "1", "--out", "k"], signum, delay)
    if done.returncode == 0:  # finished before the signal: nothing to check
        return
    assert done.returncode == 130, done.stderr
    assert done.stderr.count("\n") == 1 and "interrupted" in done.stderr and "Traceback" not in done.stderr
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
def test_distill_out_interrupted_at_random_times_keeps_a_complete_set(tmp_path):
    """`make fuzz`: SIGINT/SIGTERM at random moments of `distill --out` over an earlier set."""
    rng = np.random.default_rng(13)
    alice = rng.integers(0, 2, 400_000, dtype=np.uint8)
    np.save(tmp_path / "a.npy", alice)
    np.save(tmp_path / "b.npy", alice ^ (rng.random(alice.size) < 0.02).astype(np.uint8))
    argv = ["distill", "a.npy", "b.npy", "--seed", "1", "--out", "out"]
    assert subprocess.run([sys.executable, "-m", "qentangle.cli.main", *argv], cwd=tmp_path,
                          capture_output=True, timeout=300).returncode == 0
    complete = _contents(tmp_path / "out")
    for _ in range(30):
        old = _old_set(tmp_path / "out")
        signum = signal.SIGINT if rng.random() < 0.5 else signal.SIGTERM
        done = _signal_run(tmp_path, argv, signum, float(rng.uniform(0.2, 8.0)))
        after = _contents(tmp_path / "out")
        assert after in (old, complete), (done.returncode, sorted(after))
        assert done.returncode in (0, 130) and "Traceback" not in done.stderr, done.stderr
        assert not [p.name for p in tmp_path.rglob(".*")]
