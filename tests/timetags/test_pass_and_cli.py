"""The pass through click streams against the rate-based pass; the timetags command line."""

from __future__ import annotations

import json
import math
import stat
import tracemalloc

import numpy as np
import pytest

from qentangle.cli.main import main
from qentangle.protocols.clicks import coincide, open_parties
from qentangle.scenarios.simulate import run_pass
from qentangle.scenarios.timetags import click_model, run_pass_timetags, write_streams
from qentangle.timetags.formats import open_clicks

SIGMAS = 4.0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
def test_micius_2020_through_clicks_agrees_with_the_rate_based_pass(seed):
    overrides = ["protocol.data_time_s=340"]
    clicks = run_pass_timetags("micius-2020", overrides=overrides, seed=seed).to_dict()
    rates = run_pass("micius-2020", overrides=overrides, seed=seed).to_dict()
    duration = clicks["duration_s"]
    expected = clicks["expected"]
    n = expected["coincidence_rate_hz"] * duration
    for run in (clicks, rates):  # each against the link model
        assert abs(run["coincidence_rate_hz"] * duration - n) <= SIGMAS * math.sqrt(n), run[
            "coincidence_rate_hz"
        ]
    # and against each other: two independent draws, so sqrt(2) standard errors
    assert abs(clicks["coincidences"] - rates["coincidences"]) <= SIGMAS * math.sqrt(2 * n)
    sifted = expected["sifted_rate_hz"] * duration
    assert abs(clicks["sifted_bits"] - rates["sifted_bits"]) <= SIGMAS * math.sqrt(2 * sifted)
    q = expected["qber"]
    qber_se = math.sqrt(q * (1 - q) / sifted)
    assert abs(clicks["qber"] - q) <= SIGMAS * qber_se, clicks["qber"]
    assert abs(clicks["qber"] - rates["qber"]) <= SIGMAS * math.sqrt(2) * qber_se
    timing = clicks["protocol_result"]["timetags"]
    assert timing["multi_click_rule"].startswith("random setting")
    assert abs(timing["accidentals"] - expected["accidental_rate_hz"] * duration) <= SIGMAS * math.sqrt(
        expected["accidental_rate_hz"] * duration
    )


@pytest.mark.timeout(300)
def test_micius_2017_bell_test_through_clicks_gives_S_within_its_error():
    result = run_pass_timetags("micius-2017", overrides=["protocol.data_time_s=230"], seed=3).to_dict()
    assert result["protocol"] == "chsh"
    assert abs(result["S"] - result["expected"]["chsh"]) <= SIGMAS * result["S_stderr"], (
        result["S"],
        result["S_stderr"],
        result["expected"]["chsh"],
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("fmt", ["qcrypto", "native"])
def test_command_line_simulate_sync_key(tmp_path, capsys, fmt):
    out = tmp_path / "streams"
    assert (
        main(
            [
                "timetags",
                "simulate",
                "lab",
                "--duration",
                "1",
                "--out",
                str(out),
                "--format",
                fmt,
                "--offset-s",
                "-0.6",
                "--drift-ppm",
                "8",
                "--seed",
                "4",
                "--json",
            ]
        )
        == 0
    )
    written = json.loads(capsys.readouterr().out)
    alice, bob = written["files"]["alice"], written["files"]["bob"]
    assert main(["timetags", "sync", alice, bob, "--json"]) == 0
    sync = json.loads(capsys.readouterr().out)
    assert abs(sync["offset_s"] + 0.6) < 1e-10 and abs(sync["drift_ppm"] - 8.0) < 1e-3
    for key in ("offset_s", "drift_ppm", "coincidences", "accidentals", "window_s", "car"):
        assert key in sync
    keys = tmp_path / "keys"
    status = main(["timetags", "key", alice, bob, "--out", str(keys), "--seed", "1", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and not data["aborted"] and data["keys_match"], data.get("abort_reason")
    assert (keys / "alice.key").read_bytes() == (keys / "bob.key").read_bytes()
    assert stat.S_IMODE((keys / "alice.key").stat().st_mode) == 0o600
    assert data["timetags"]["coincidences"] > 5000 and data["final_key_bits"] > 1000


def _status(argv: list[str]) -> int:
    """Exit status of the command line (argparse errors exit through SystemExit)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def test_command_line_refuses_bad_input(tmp_path, capsys):
    status = _status(
        ["timetags", "simulate", "lab", "--duration", "-1", "--out", str(tmp_path), "--seed", "1"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "--duration" in err[0]
    status = _status(
        [
            "timetags",
            "simulate",
            "lab",
            "--protocol",
            "e91",
            "--format",
            "qcrypto",
            "--duration",
            "0.1",
            "--out",
            str(tmp_path),
            "--seed",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "qcrypto" in err[0]
    assert not list(tmp_path.glob("*.raw")) and not list(tmp_path.glob(".*"))  # nothing half-written
    status = _status(["timetags", "simulate", "nowhere", "--out", str(tmp_path), "--seed", "1"])
    assert status == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.timeout(300)
def test_files_are_processed_in_bounded_memory(tmp_path):
    """The peak memory of sync + coincidences does not grow with the length of the files.

    (Only the coincidences' own patterns and delays accumulate, 6 bytes each: 1 % of the clicks.)
    """
    peaks = []
    for duration in (1.5, 3.0):
        folder = tmp_path / str(duration)
        setup = click_model("lab", duration_s=duration, offset_s=0.2)
        write_streams(setup, folder, format="qcrypto", seed=1)
        alice, bob = open_clicks(folder / "alice.raw"), open_clicks(folder / "bob.raw")
        tracemalloc.start()
        matched = coincide(
            open_parties(1),
            alice,
            bob,
            epoch_s=0.05,
            sync_span_s=0.3,
            sync_options={"max_offset_s": 0.5, "max_drift_ppm": 1.0},
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert matched.stats["coincidences"] > 9000 * duration
    assert peaks[1] < 1.25 * peaks[0], peaks
    assert np.isfinite(peaks).all()


@pytest.mark.timeout(300)
def test_satellite_files_carry_their_predicted_path_difference(tmp_path, capsys):
    """Two minutes of a Micius pass: the native header's path difference and bounds make sync work."""
    out = tmp_path / "pass"
    assert (
        main(["timetags", "simulate", "micius-2020", "--duration", "120", "--out", str(out), "--seed", "5"])
        == 0
    )
    capsys.readouterr()
    assert main(["timetags", "sync", str(out / "alice.qtt"), str(out / "bob.qtt"), "--json"]) == 0
    sync = json.loads(capsys.readouterr().out)
    jitter = 300.0  # ps rms per detector in the pass model
    assert abs(sync["offset_s"]) * 1e12 <= jitter and sync["peak_sigma_ps"] < 2 * jitter, sync
    assert sync["car"] > 3
