"""Fuzzing the real command line: generated bad values for every numeric option of every command,
malformed ``--set`` overrides, scenario TOML files and input files for ``distill``.

Each example runs ``qentangle.cli.main.main`` in-process and asserts: a clean run (exit 0 or 1),
or exit 2 with exactly one line on stderr naming the option and stating the accepted range;
never a traceback. Limits are tightened (``QENTANGLE_MAX_RUN_S=0.5``, a 4 GB memory budget) so
a generated size that is valid but large is refused up front instead of running. The suite runs
sixty examples over the options; ``make fuzz`` (``--run-fuzz``) runs the deeper search.
"""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qentangle.cli.main import build_parser, main

pytestmark = pytest.mark.timeout(300)

#: Small, valid base arguments per command, so a value that happens to be valid runs quickly.
BASE = {
    "chsh": ["--shots", "200", "--seed", "1"],
    "e91": ["--pairs", "4000", "--seed", "1", "--no-distill"],
    "bbm92": ["--pairs", "4000", "--seed", "1", "--no-distill"],
    "compare": ["micius-2017"],
}
#: Options whose values are not numbers (or that start long jobs), left to their own tests.
SKIP = {"--backend", "--qubits", "--timeout", "--seeds", "--angles", "--plot", "--out"}


def _numeric_options() -> list[tuple[str, str]]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for command in BASE:
        for action in sub.choices[command]._actions:
            flag = max(action.option_strings, key=len, default="")
            if flag and flag not in SKIP and action.type is not None and action.choices is None:
                found.append((command, flag))
    return found


NUMERIC = _numeric_options()
BAD_TEXT = st.one_of(
    st.sampled_from(["-1", "0", "1e12", "1e20", "-1e308", "1e400", "nan", "inf", "-inf", "", " ", "0x10",
                     "1,5", "1e-400", "2", "1.5", "abc", "--", "1_000", "١"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e3, max_value=1e3).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=12),
)


@pytest.fixture(autouse=True)
def _tight_limits(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("QENTANGLE_MAX_RUN_S", "0.5")
    monkeypatch.setenv("QENTANGLE_MAX_MEMORY_BYTES", "4e9")
    # Generated path options (--out, --export-sifted, --plot-dir, ...) land in a scratch
    # folder, never in the working tree the tests were started from.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def _check(capsys, argv: list[str], option: str | None = None) -> None:
    code = _run(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, (argv, captured.err)
    assert code in (0, 1, 2), (argv, code, captured.err)
    if code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, (argv, captured.err)
        if option is not None and option in lines[0] and "=" in lines[0]:
            assert "expected" in lines[0], (argv, lines[0])  # every value error states the range


FUZZ = settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(NUMERIC), text=BAD_TEXT)
def test_bad_numeric_values(capsys, target, text):
    command, option = target
    _check(capsys, [command, *BASE[command], option, text], option)


@FUZZ
@given(item=st.one_of(
    st.text(max_size=30),
    st.tuples(st.sampled_from(["source", "time", "protocol", "link", "stations.alice", "nope", ""]),
              st.text(max_size=15), st.text(max_size=15)).map(lambda t: f"{t[0]}.{t[1]}={t[2]}"),
    st.tuples(st.sampled_from(["protocol.data_time_s", "source.pair_rate_hz", "protocol.p_z",
                               "protocol.slice_s", "time.step_s", "link.misalignment_deg"]),
              BAD_TEXT).map(lambda t: f"{t[0]}={t[1]}"),
))
def test_malformed_set_overrides(capsys, item):
    _check(capsys, ["pass", "micius-2017", "--seed", "1", "--set", "protocol.data_time_s=0", "--set", item])


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_generated_scenario_files(capsys, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("toml") / "generated.toml"
    path.write_bytes(data)
    _check(capsys, ["pass", str(path), "--seed", "1"])


@FUZZ
@given(alice=st.binary(max_size=200), bob=st.binary(max_size=200),
       suffix=st.sampled_from([".txt", ".npy", ".bin"]))
def test_generated_distill_inputs(capsys, tmp_path_factory, alice, bob, suffix):
    folder = tmp_path_factory.mktemp("bits")
    (folder / f"a{suffix}").write_bytes(alice)
    (folder / f"b{suffix}").write_bytes(bob)
    _check(capsys, ["distill", str(folder / f"a{suffix}"), str(folder / f"b{suffix}"), "--seed", "1"])


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(("command", "option"), NUMERIC)
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=BAD_TEXT)
def test_bad_numeric_values_deep(capsys, command, option, text):
    _check(capsys, [command, *BASE[command], option, text], option)


def test_base_arguments_run_cleanly(capsys):
    for command, base in BASE.items():
        _check(capsys, [command, *base])
    assert math.isfinite(1.0)
