"""The ibm:NAME path with QiskitRuntimeService mocked: credentials, confirmation, failures.

The "hardware" is a fake device object returned by the mocked service, so the executor
Sampler still runs locally; the engine treats it as real hardware (kind "ibm").
"""

from __future__ import annotations

import io
import json
import logging
from typing import ClassVar

import numpy as np
import pytest
import qiskit_ibm_runtime
from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError, RuntimeJobTimeoutError
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qentangle.cli.main import main
from qentangle.errors import BackendError
from qentangle.ibm import BackendEngine, jobs
from qentangle.ibm.engine import BackendEngine as EngineClass
from qentangle.pairs import PairSetup

SECRET = "tok-SECRET-9f8e7d6c5b4a"
SAVED_SECRET = "saved-SECRET-1a2b3c4d5e6f"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/123:inst::"


class FakeService:
    """Stands in for QiskitRuntimeService; remembers what it was given."""

    created: ClassVar[list[dict]] = []
    jobs: ClassVar[dict] = {}
    fail_with: ClassVar[str | None] = None
    saved: ClassVar[dict] = {}

    @staticmethod
    def saved_accounts(**kwargs):
        return dict(FakeService.saved)

    def __init__(self, **kwargs):
        FakeService.created.append(kwargs)
        if FakeService.fail_with:
            raise RuntimeError(FakeService.fail_with)
        logging.getLogger("qiskit_ibm_runtime").debug("service created")

    def backend(self, name):
        return FakeManilaV2()

    def job(self, job_id):
        return FakeService.jobs[job_id]


@pytest.fixture
def service(monkeypatch):
    FakeService.created, FakeService.jobs, FakeService.fail_with, FakeService.saved = [], {}, None, {}
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", FakeService)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", INSTANCE)
    original = EngineClass._submit

    def keep(self, circuits, shots):
        job = original(self, circuits, shots)
        FakeService.jobs[str(job.job_id())] = job
        return job

    monkeypatch.setattr(EngineClass, "_submit", keep)
    return FakeService


def test_no_token_anywhere(service, capsys, caplog, tmp_path, scan_files):
    caplog.set_level(logging.DEBUG)
    code = main(
        [
            "chsh",
            "--backend",
            "ibm:ibm_fake",
            "--yes",
            "--shots",
            "800",
            "--settings",
            "balanced",
            "--seed",
            "1",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert service.created[0] == {"channel": "ibm_quantum_platform", "token": SECRET, "instance": INSTANCE}
    assert "about to submit" in captured.err  # the estimate, on stderr
    info = result["engine_info"]
    assert info["backend"] == "ibm:ibm_fake" and info["backend_kind"] == "ibm" and info["job_ids"]
    job_id = info["job_ids"][0]

    # hardware outcomes are not stored: fetch goes through the (mocked) service
    entries = [e for e in jobs.read_entries() if e["job_id"] == job_id]
    assert [e["event"] for e in entries] == ["submitted", "completed"] and "codes" not in entries[1]
    assert main(["jobs", "fetch", job_id, "--json"]) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert fetched["source"] == "service" and fetched["S_raw"] == pytest.approx(result["S_raw"], abs=1e-9)

    everything = "\n".join(
        [
            captured.out,
            captured.err,
            caplog.text,
            json.dumps(result),
            json.dumps(fetched),
            scan_files(tmp_path),
        ]
    )
    assert SECRET not in everything and "SECRET" not in everything


def test_connection_errors_are_scrubbed(service):
    service.fail_with = f"401 invalid token {SECRET}"
    with pytest.raises(BackendError) as info:
        BackendEngine("ibm:ibm_fake", record=False)
    message = str(info.value)
    assert SECRET not in message and "***" in message and "QISKIT_IBM_TOKEN" in message


def test_saved_account_token_is_scrubbed_too(service, monkeypatch):
    monkeypatch.delenv("QISKIT_IBM_TOKEN")
    service.saved = {"default": {"channel": "ibm_quantum_platform", "token": SAVED_SECRET}}
    service.fail_with = f"403 token {SAVED_SECRET} has expired"
    with pytest.raises(BackendError) as info:
        BackendEngine("ibm:ibm_fake", record=False)
    message = str(info.value)
    assert SAVED_SECRET not in message and "***" in message and "the saved account" in message


def test_saved_account_used_without_environment(service, monkeypatch):
    monkeypatch.delenv("QISKIT_IBM_TOKEN")
    monkeypatch.delenv("QISKIT_IBM_INSTANCE")
    BackendEngine("ibm:ibm_fake", record=False)
    assert service.created[-1] == {"channel": "ibm_quantum_platform"}


def test_confirmation_refused_without_tty(service):
    err = io.StringIO()
    engine = BackendEngine("ibm:ibm_fake", stdin=io.StringIO("y\n"), stderr=err, calibration_shots=10)
    with pytest.raises(BackendError, match="--yes"):
        engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [10], np.random.default_rng(0))
    assert "about to submit 1 job to ibm:ibm_fake" in err.getvalue()
    assert engine.job_ids == () and jobs.read_entries() == []


def test_cli_refuses_without_yes_when_stdin_is_not_a_tty(service, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["chsh", "--backend", "ibm:ibm_fake", "--shots", "40"]) == 2
    err = capsys.readouterr().err
    assert "refusing to submit" in err and "--yes" in err and SECRET not in err


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(("answer", "submits"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_interactive_confirmation(service, answer, submits):
    engine = BackendEngine(
        "ibm:ibm_fake", stdin=_Tty(answer), stderr=io.StringIO(), calibration_shots=10, record=False
    )
    if submits:
        engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [10], np.random.default_rng(0))
        assert len(engine.job_ids) == 1
    else:
        with pytest.raises(BackendError, match="cancelled"):
            engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [10], np.random.default_rng(0))


class _StuckJob:
    def __init__(self, error):
        self.error = error

    def job_id(self):
        return "hw-job-1"

    def result(self, timeout=None):
        raise self.error


@pytest.mark.parametrize(
    ("error", "match", "events"),
    [
        (  # our wait gave up: the job runs on and can be fetched later
            RuntimeJobTimeoutError("Timed out waiting for job to complete after 5 secs."),
            "did not finish within 5 s.*jobs fetch hw-job-1",
            ["submitted"],
        ),
        (  # IBM stopped the job at its maximum execution time: a failure, whatever the name says
            RuntimeJobMaxTimeoutError(f"Job exceeded its max execution time {SECRET}"),
            "hw-job-1 on ibm:ibm_fake failed: it exceeded IBM's maximum execution time",
            ["submitted", "failed"],
        ),
        (RuntimeError(f"job failed: calibration error {SECRET}"), "failed", ["submitted", "failed"]),
    ],
)
def test_timeouts_and_failures_keep_the_job_id(service, monkeypatch, error, match, events):
    engine = BackendEngine("ibm:ibm_fake", yes=True, timeout=5, stderr=io.StringIO(), calibration_shots=10)
    monkeypatch.setattr(engine, "_submit", lambda circuits, shots: _StuckJob(error))
    with pytest.raises(BackendError, match=match) as info:
        engine.sample(PairSetup("phi+"), [(0.0, 0.0)], [10], np.random.default_rng(0))
    assert SECRET not in str(info.value)
    assert engine.job_ids == ("hw-job-1",)
    entries = jobs.read_entries()
    assert [e["event"] for e in entries] == events and entries[0]["kind"] == "ibm"
    assert SECRET not in json.dumps(entries)
    if "failed" in events:
        assert entries[-1]["error"].startswith(type(error).__name__)
