"""`chsh`, `e91` and `bbm92 --backend fake_manila --json`: the backend fields, one job per run."""

from __future__ import annotations

import json

import pytest

from qentangle.cli.main import main

BACKEND_KEYS = (
    "backend",
    "qubits",
    "S_raw",
    "S",
    "predicted_S",
    "predicted_S_band",
    "predicted_S_mitigated",
    "predicted_S_mitigated_band",
    "job_ids",
)
COMMANDS = {
    "chsh": ["chsh", "--shots", "2000"],
    "e91": ["e91", "--pairs", "3000", "--no-distill"],
    "bbm92": ["bbm92", "--pairs", "3000", "--no-distill"],
}


def _run(capsys, argv) -> dict:
    code = main([*argv, "--backend", "fake_manila", "--seed", "1", "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    # Exit codes: 0 done, 1 the protocol aborted (3000 pairs are too few for a key: a result).
    assert code == (1 if data.get("aborted") else 0), captured.err
    return data


def _assert_predictions(data) -> None:
    for key in ("predicted_S", "predicted_S_mitigated"):
        low, high = data[f"{key}_band"]
        assert low <= data[key] <= high
    assert data["predicted_S"] < data["predicted_S_mitigated"]  # raw includes readout error


@pytest.mark.parametrize("command", ["chsh", "e91", "bbm92"])
def test_json_has_the_backend_fields_and_one_job(capsys, command):
    data = _run(capsys, COMMANDS[command])
    missing = [key for key in BACKEND_KEYS if key not in data]
    assert not missing
    assert data["backend"] == "fake_manila" and len(data["qubits"]) == 2
    assert len(data["job_ids"]) == 1  # the whole run is one job with one calibration
    _assert_predictions(data)
    if command == "bbm92":
        # BBM92 measures Z and X only: no CHSH S, the QBER raw and mitigated instead
        assert data["S_raw"] is None and data["S"] is None
        for basis in ("z", "x"):
            assert 0 < data[f"qber_{basis}_raw"] < 0.5
            assert isinstance(data[f"qber_{basis}_mitigated"], float)
    else:
        assert 2 < data["S_raw"] < data["S"]


def test_bbm92_qber_matches_the_rebuilt_job(capsys):
    data = _run(capsys, COMMANDS["bbm92"])
    job_id = data["job_ids"][0]
    assert main(["jobs", "fetch", job_id, "--json"]) == 0
    fetched = json.loads(capsys.readouterr().out)
    for key in ("qber_z_raw", "qber_x_raw", "qber_z_mitigated", "qber_x_mitigated"):
        assert fetched[key] == pytest.approx(data[key], abs=1e-12)  # same rounds, same calibration
    assert main(["jobs", "fetch", job_id]) == 0
    out = capsys.readouterr().out
    assert "QBER z: raw" in out and "QBER x: raw" in out and "mitigated" in out


def test_no_mitigation_reports_raw_only(capsys):
    data = _run(capsys, [*COMMANDS["bbm92"], "--no-mitigation"])
    assert data["qber_z_mitigated"] is None and data["mitigation"] == "none"
    data = _run(capsys, [*COMMANDS["chsh"], "--no-mitigation"])
    assert data["S"] == data["S_raw"] and not data["mitigated"]


def test_protocol_runs_longer_than_a_chunk_are_one_job():
    from qentangle.ibm import BackendEngine
    from qentangle.protocols.bbm92 import run_bbm92
    from qentangle.protocols.e91 import run_e91
    from qentangle.protocols.keying import KeyOptions

    engine = BackendEngine("fake_manila", record=False, calibration_shots=200)
    options = KeyOptions(distill=False)
    run_e91(3000, chunk_size=1000, engine=engine, seed=1, key_options=options, progress=False)
    assert len(engine.job_ids) == 1
    result = run_bbm92(3000, chunk_size=1000, engine=engine, seed=1, key_options=options, progress=False)
    assert len(engine.job_ids) == 2 and result.to_dict()["job_ids"] == list(engine.job_ids)
