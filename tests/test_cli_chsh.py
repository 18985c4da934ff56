"""``qentangle chsh`` from the command line: JSON, the report, plots and one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from qentangle.cli.main import main


def _json(capsys, *argv: str) -> dict:
    assert main(["chsh", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_fields(capsys):
    data = _json(capsys, "--shots", "4000", "--seed", "3", "--state", "psi-")
    for key in ("state", "engine", "shots", "S", "S_stderr", "z_score", "p_value", "p_value_rigorous"):
        assert key in data
    assert data["state"] == "psi-" and data["engine"] == "exact" and data["shots"] == 4000
    assert len(data["correlators"]) == 4
    assert sum(c["n"] for c in data["correlators"]) == 4000
    assert all({"a", "b", "E", "n"} <= set(c) for c in data["correlators"])
    assert abs(abs(data["S"]) - 2 * math.sqrt(2)) < 4 * data["S_stderr"]


def test_noise_options_reach_the_experiment(capsys):
    data = _json(capsys, "--shots", "20000", "--seed", "1", "--depolarizing", "0.3", "--readout", "0.05",
                 "--misalignment", "5", "--dephasing", "0.1", "--amplitude-damping", "0.05")
    noise = data["noise"]
    assert noise["depolarizing"] == 0.3 and noise["misalignment_b_deg"] == 5.0
    assert noise["readout_a"] == [0.05, 0.05] and noise["dephasing_b"] == 0.1
    assert abs(data["S"] - data["predicted_S"]) < 4 * data["S_stderr"]
    assert data["predicted_S"] < 2


def test_angles_option_and_seed_reproducibility(capsys):
    first = _json(capsys, "--angles", "0,1.5,0.7,2.3", "--shots", "400", "--seed", "9")
    again = _json(capsys, "--angles", "0,1.5,0.7,2.3", "--shots", "400", "--seed", "9")
    assert first == again
    assert [c["a"] for c in first["correlators"]] == [0.0, 0.0, 1.5, 1.5]
    assert [c["b"] for c in first["correlators"]] == [0.7, 2.3, 0.7, 2.3]


def test_engines_from_the_command_line(capsys):
    for engine in ("shots", "statevector"):
        data = _json(capsys, "--engine", engine, "--shots", "800", "--seed", "2")
        assert data["engine"] == engine


def test_readable_report_and_plot(capsys, tmp_path):
    plot = tmp_path / "figs" / "chsh.png"
    assert main(["chsh", "--shots", "2000", "--seed", "1", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "S = " in out and "p-value against local realism" in out and "E" in out
    assert plot.is_file() and plot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "option", "range_text"),
    [
        (["--shots", "0"], "--shots", ">= 4"),
        (["--shots", "2.5"], "--shots", ">= 4"),
        (["--depolarizing", "1.5"], "--depolarizing", "0 <= --depolarizing <= 1"),
        (["--readout", "-0.1"], "--readout", "0 <= --readout <= 1"),
        (["--misalignment", "400"], "--misalignment", "-360 <= --misalignment <= 360 degrees"),
        (["--angles", "1,2,3"], "--angles", "four finite Bloch angles"),
        (["--angles", "1,2,inf,3"], "--angles", "four finite Bloch angles"),
        (["--state", "bell"], "--state", "phi+"),
        (["--engine", "magic"], "--engine", "exact"),
        (["--seed", "-3"], "--seed", ">= 0"),
    ],
)
def test_invalid_values_exit_2_with_one_line(argv, option, range_text):
    proc = subprocess.run([sys.executable, "-m", "qentangle.cli.main", "chsh", *argv],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert option in lines[0] and range_text in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_runtime_errors_are_one_line_too(capsys):
    # statevector is the noiseless reference: asking it for noise is an error of the run itself.
    assert main(["chsh", "--engine", "statevector", "--depolarizing", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "statevector" in err[0]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--qubits", "1,2"], ["--qubits"]),
        (["--yes", "--timeout", "5"], ["--yes", "--timeout"]),
        (["--no-mitigation"], ["--no-mitigation"]),
        (["--engine", "shots", "--backend", "fake_manila"], ["--engine", "--backend"]),
    ],
)
def test_backend_options_need_backend_and_exclude_engine(capsys, argv, names):
    # Never silently ignored: one line, exit 2, before anything runs or is submitted.
    assert main(["chsh", "--shots", "40", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and all(name in lines[0] for name in names) and captured.out == ""


def test_timeout_must_be_positive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["chsh", "--timeout", "0"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "--timeout" in err and "> 0" in err
