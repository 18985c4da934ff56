"""``qentangle e91`` and ``qentangle bbm92`` from the command line: JSON keys and one-line errors."""

import json

import pytest

from qentangle.cli.main import main

COMMON_KEYS = {
    "protocol", "pairs", "sifted_bits", "qber", "aborted", "abort_reason", "elapsed_s",
    "final_key_bits", "keys_match", "leaked_bits", "ec_efficiency", "secret_fraction",
    "asymptotic_key_bits", "eps_sec", "eps_cor",
}


def _json(capsys, *argv: str, code: int = 0) -> dict:
    assert main([*argv, "--json"]) == code
    captured = capsys.readouterr()
    return json.loads(captured.out)


def test_e91_json_has_the_documented_keys(capsys):
    data = _json(capsys, "e91", "--pairs", "300000", "--seed", "3", "--depolarizing", "0.04")
    assert COMMON_KEYS | {"S", "S_stderr"} <= set(data)
    assert data["protocol"] == "e91" and data["pairs"] == 300_000
    assert not data["aborted"] and data["keys_match"] and data["final_key_bits"] > 0
    assert data["ec_efficiency"] > 1.0 and data["leaked_bits"] > 0
    assert data["eps_sec"] == 1e-10 and data["eps_cor"] == 1e-15 and data["elapsed_s"] > 0


def test_bbm92_json_has_the_documented_keys_and_options_reach_the_run(capsys):
    data = _json(
        capsys, "bbm92", "--pairs", "200000", "--seed", "2", "--depolarizing", "0.04", "--p-z", "0.7",
        "--eps-sec", "1e-9", "--eps-cor", "1e-12", "--ec", "cascade",
    )
    assert COMMON_KEYS | {"qber_x", "qber_z"} <= set(data)
    assert data["protocol"] == "bbm92" and data["p_z"] == 0.7 and data["key_bases"] == "z"
    assert data["eps_sec"] == 1e-9 and data["eps_cor"] == 1e-12
    assert not data["aborted"] and data["keys_match"] and data["ec_efficiency"] > 1.0


def test_eavesdropper_options_reach_the_run(capsys):
    data = _json(
        capsys, "bbm92", "--pairs", "100000", "--seed", "1", "--no-distill",
        "--eve", "intercept-resend", "--eve-fraction", "0.4", "--eve-arm", "both", code=1,
    )
    assert "fraction 0.4, arm both" in data["attack"]
    assert data["eve_information"] == pytest.approx(0.4 - 0.4**2 / 2)
    fake = _json(capsys, "e91", "--pairs", "100000", "--seed", "1", "--eve", "fake-source", code=1)
    assert fake["aborted"] and fake["final_key_bits"] == 0  # an abort is exit 1, as in distill


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["bbm92", "--pairs", "0"], "--pairs"),
        (["bbm92", "--p-z", "1"], "--p-z=1 is out of range: expected 0 < --p-z < 1"),
        (["bbm92", "--p-z", "0"], "--p-z=0 is out of range: expected 0 < --p-z < 1"),
        (["bbm92", "--p-z", "1.5"], "--p-z"),
        (["e91", "--eve-fraction", "0.5"], "without --eve"),
        (["bbm92", "--eve-arm", "both"], "without --eve"),
        (["bbm92", "--eve", "fake-source", "--eve-fraction", "0.5"], "fake-source"),
        (["e91", "--eve", "fake-source", "--eve-arm", "alice"], "fake-source"),
        (["e91", "--eps-sec", "0"], "--eps-sec=0 is out of range: expected 1e-100 <= --eps-sec < 1"),
        (["bbm92", "--ec", "turbo"], "--ec"),
        (["e91", "--s-sigmas", "-1"], "--s-sigmas"),
        (["bbm92", "--qber-abort", "0.7"], "--qber-abort=0.7 is out of range: expected 0 <= --qber-abort"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, argv, words):
    try:
        code = main([*argv, "--seed", "1"])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and words in lines[0], captured.err
    assert captured.out == ""
