"""The committed OpenQASM 3 files in circuits/ load and equal what the package generates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qiskit import qasm3
from qiskit.quantum_info import Operator

from qentangle.circuits_export import (
    check_circuits,
    expected_files,
    export_circuits,
    load_circuit,
    package_circuits,
)
from qentangle.cli.main import main

COMMITTED = Path(__file__).resolve().parents[1] / "circuits"
STEMS = sorted(package_circuits())


def _bound_unitary(circuit, theta_a: float, theta_b: float) -> Operator:
    circuit = circuit.copy()
    circuit.remove_final_measurements()
    values = {p: {"theta_a": theta_a, "theta_b": theta_b}[p.name] for p in circuit.parameters}
    return Operator(circuit.assign_parameters(values) if values else circuit)


def test_committed_files_are_up_to_date():
    assert check_circuits(COMMITTED) == [], "run: qentangle circuits export circuits"


@pytest.mark.parametrize("stem", STEMS)
def test_committed_file_loads_and_equals_the_package_circuit(stem):
    loaded = qasm3.loads((COMMITTED / f"{stem}.qasm").read_text(encoding="utf-8"))
    generated = package_circuits()[stem]
    assert sorted(p.name for p in loaded.parameters) == sorted(p.name for p in generated.parameters)
    for theta_a, theta_b in ((0.0, 0.0), (0.3, -1.2), (np.pi / 2, 3 * np.pi / 4)):
        assert _bound_unitary(loaded, theta_a, theta_b) == _bound_unitary(generated, theta_a, theta_b)
    assert loaded.count_ops().get("measure", 0) == generated.count_ops().get("measure", 0)


def test_export_command_writes_loadable_files(tmp_path, capsys):
    assert main(["circuits", "export", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").glob("*.qasm"))
    assert written == sorted(expected_files())
    assert len(capsys.readouterr().out.splitlines()) == len(written)
    for path in (tmp_path / "out").glob("*.qasm"):
        load_circuit(path)
    assert main(["circuits", "check", str(tmp_path / "out")]) == 0


def test_check_reports_stale_missing_and_extra_files(tmp_path, capsys):
    export_circuits(tmp_path)
    (tmp_path / "bell_phi_plus.qasm").write_text("OPENQASM 3.0;\n", encoding="utf-8")
    (tmp_path / "measure_psi_minus.qasm").unlink()
    (tmp_path / "mine.qasm").write_text("OPENQASM 3.0;\n", encoding="utf-8")
    problems = check_circuits(tmp_path)
    assert any(p.startswith("bell_phi_plus.qasm: differs") for p in problems)
    assert "measure_psi_minus.qasm: missing" in problems
    assert "mine.qasm: not a package circuit" in problems
    assert main(["circuits", "check", str(tmp_path)]) == 1
    assert "differs" in capsys.readouterr().err


def test_export_into_a_file_is_an_error(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    assert main(["circuits", "export", str(target)]) == 2
    assert "DIR" in capsys.readouterr().err
