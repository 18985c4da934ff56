"""The local job record and `qentangle jobs list/fetch`."""

from __future__ import annotations

import json
import os
import stat
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qentangle.cli.main import main
from qentangle.errors import BackendError, ValidationError
from qentangle.ibm import jobs


def test_record_written_with_private_modes_and_fetch_rebuilds(chsh_on_fake):
    engine, home = chsh_on_fake["engine"], chsh_on_fake["home"]
    path = home / "jobs.jsonl"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    job_id = engine.job_ids[-1]
    entries = [e for e in jobs.read_entries(path) if e["job_id"] == job_id]
    assert [e["event"] for e in entries] == ["submitted", "completed"]
    assert entries[0]["qubits"] == list(engine.qubits) and "codes" not in entries[1]

    rebuilt = jobs.fetch(job_id, path=path)
    assert rebuilt.source == "record counts" and rebuilt.backend == engine.resolved.name
    assert np.array_equal(np.array(rebuilt.counts), chsh_on_fake["counts"])
    assert rebuilt.S_raw == pytest.approx(chsh_on_fake["S_raw"], abs=1e-12)
    assert rebuilt.S == pytest.approx(chsh_on_fake["S"], abs=1e-9)
    assert rebuilt.mitigated


def test_cli_list_and_fetch(chsh_on_fake, monkeypatch, capsys):
    monkeypatch.setenv("QENTANGLE_HOME", str(chsh_on_fake["home"]))
    job_id = chsh_on_fake["engine"].job_ids[-1]
    assert main(["jobs", "list"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["jobs", "fetch", job_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["job_ids"] == [job_id] and data["S_raw"] == pytest.approx(chsh_on_fake["S_raw"])
    for key in ("backend", "qubits", "S", "predicted_S", "predicted_S_band"):
        assert key in data
    assert main(["jobs", "fetch", job_id]) == 0
    assert "S_raw" in capsys.readouterr().out


def test_fetch_unknown_job_is_one_line_exit_2(capsys):
    assert main(["jobs", "fetch", "no-such-job"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-job" in err


def test_local_job_without_outcomes_cannot_be_fetched():
    jobs.append_entry(
        {
            "event": "submitted",
            "job_id": "j1",
            "kind": "fake",
            "backend": "fake_manila",
            "wanted": [0],
            "shots": [1],
            "pairs": [[0, 0]],
        }
    )
    with pytest.raises(BackendError, match="local jobs cannot be fetched later"):
        jobs.fetch("j1")
    with pytest.raises(ValidationError):
        jobs.fetch("j2")


def test_torn_lines_are_skipped_and_listing_survives():
    path = jobs.append_entry({"event": "submitted", "job_id": "a", "backend": "fake_x"})
    with open(path, "a") as handle:
        handle.write('{"event": "completed", "job_id": "a", "cou')
    assert [j["job_id"] for j in jobs.list_jobs()] == ["a"]


def test_an_entry_after_a_cut_off_line_starts_a_line_of_its_own():
    path = jobs.append_entry({"event": "submitted", "job_id": "a", "backend": "fake_x"})
    with open(path, "a") as handle:  # a crash mid-write: no newline
        handle.write('{"event": "completed", "job_id": "a", "cou')
    jobs.append_entry({"event": "submitted", "job_id": "b", "backend": "fake_x"})
    jobs.append_entry({"event": "completed", "job_id": "b", "counts": []})
    assert path.read_bytes().count(b"\n") == 4  # the fragment was closed, not glued
    assert [(e["job_id"], e["event"]) for e in jobs.read_entries()] == [
        ("a", "submitted"),
        ("b", "submitted"),
        ("b", "completed"),
    ]
    assert jobs.job_entries("b")["events"] == ["submitted", "completed"]
    assert [j["status"] for j in jobs.list_jobs()] == ["submitted", "completed"]


def test_an_entry_glued_to_a_fragment_by_older_versions_is_recovered():
    whole = '{"version":1,"event":"submitted","job_id":"b","pair_errors":{"qubits":[1,2]},"backend":"x"}'
    text = '{"event":"submitted","job_id":"a"}\n{"event":"completed","job_id":"a","pair_errors":{"q' + whole
    path = jobs.record_path()
    path.parent.mkdir(parents=True)
    path.write_text(text + "\n" + "not json\n" + '{"event":"completed","job_id":"b"}\n')
    entries = jobs.read_entries()
    assert [(e["job_id"], e["event"]) for e in entries] == [
        ("a", "submitted"),
        ("b", "submitted"),
        ("b", "completed"),
    ]
    assert entries[1]["pair_errors"] == {"qubits": [1, 2]}


def test_fetch_timeout_must_be_positive(capsys):
    for value in ("0", "-5"):
        with pytest.raises(SystemExit) as info:
            main(["jobs", "fetch", "some-job", "--timeout", value])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--timeout" in err and "> 0" in err


def test_concurrent_appends_never_interleave():
    payload = "x" * 20000

    def writer(k):
        for i in range(20):
            jobs.append_entry({"event": "submitted", "job_id": f"{k}-{i}", "blob": payload})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(jobs.read_entries()) == 80


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=200))
def test_code_packing_round_trips(codes):
    array = np.array(codes, dtype=np.uint8)
    assert np.array_equal(jobs.decode_codes(jobs.encode_codes(array), array.size), array)


# ------------------------------------------------------------ no raw outcomes unless asked (issue 13)
def _completed(home) -> list[dict]:
    return [e for e in jobs.read_entries(home / "jobs.jsonl") if e.get("event") == "completed"]


def _outcome_arrays(entry: dict) -> list[str]:
    """Every field of an entry that could hold per-round outcomes: long strings or long lists."""
    found = []
    for key, value in entry.items():
        if isinstance(value, str) and len(value) > 64:
            found.append(key)
        elif isinstance(value, list) and (len(value) > 64 or any(isinstance(v, str) for v in value)):
            found.append(key)
        elif isinstance(value, list) and any(isinstance(v, list) and len(v) > 4 for v in value):
            found.append(key)
    return found


@pytest.mark.timeout(240)
@pytest.mark.parametrize("record_outcomes", [False, True], ids=["counts-only", "record-outcomes"])
def test_backend_runs_record_raw_outcomes_only_when_asked(record_outcomes, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("QENTANGLE_HOME", str(home))
    extra = ["--record-outcomes"] if record_outcomes else []
    bbm92_args = ["bbm92", "--backend", "fake_manila", "--pairs", "1500", "--seed", "3", "--json", *extra]
    assert main(bbm92_args) in (0, 1)
    bbm92_run = json.loads(capsys.readouterr().out)
    assert main(["chsh", "--backend", "fake_manila", "--shots", "2000", "--seed", "3", "--json", *extra]) == 0
    chsh_run = json.loads(capsys.readouterr().out)
    completed = _completed(home)
    assert len(completed) == 2
    for entry in completed:
        if record_outcomes:
            assert entry["stores"] == jobs.OUTCOMES_STORED and "key material" in entry["stores"]
            assert len(entry["codes"]) == len(entry["counts"])
        else:
            assert _outcome_arrays(entry) == [] and "stores" not in entry
            assert {"counts", "setting_counts", "calibration_counts"} <= set(entry)
            assert len(entry["calibration_counts"]) == 4

    # what re-analysis needs is there: the CHSH result is rebuilt exactly from counts
    chsh_id = completed[1]["job_id"]
    rebuilt = jobs.fetch(chsh_id)
    assert rebuilt.source == ("record outcomes" if record_outcomes else "record counts")
    assert rebuilt.S == pytest.approx(chsh_run["S"], abs=1e-9)
    assert sum(map(sum, rebuilt.counts)) == 2000
    # the BBM92 job: its QBERs are rebuilt, its key is not, and the CLI says so in one line
    bbm92_id = completed[0]["job_id"]
    assert main(["jobs", "fetch", bbm92_id]) == 0
    out = capsys.readouterr().out
    assert out.count("key: not rebuilt") == 1 and "QBER z" in out
    assert jobs.fetch(bbm92_id).qber_raw["z"] == pytest.approx(bbm92_run["qber_z_raw"], abs=1e-12)


def test_record_outcomes_needs_a_backend(capsys):
    assert main(["chsh", "--shots", "100", "--record-outcomes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--record-outcomes" in err


def test_record_outcomes_help_says_it_writes_key_material(capsys):
    for command in ("chsh", "bbm92", "e91"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--record-outcomes" in text and "key material" in text and "job record" in text
