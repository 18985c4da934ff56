"""One declaration per parameter (library and CLI agree), one definition per vocabulary constant."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qentangle.cli.main import main
from qentangle.errors import ValidationError
from qentangle.params import Param

PACKAGE = Path(__file__).resolve().parents[2] / "qentangle"
P = Param("p_z", float, low=0.0, high=1.0, low_open=True, high_open=True, default=0.5, metavar="P")


@pytest.mark.parametrize("value", [0, 1, -0.1, 1.5, float("nan"), float("inf"), "0.5", True, None])
def test_check_refuses_and_names_the_parameter(value):
    with pytest.raises(ValidationError) as info:
        P.check(value)
    assert info.value.param == "p_z"
    assert str(info.value).startswith("p_z=") and "expected 0 < p_z < 1" in str(info.value)
    assert info.value.for_option("--p-z").startswith("--p-z=")


def test_int_kind_accepts_integral_floats_only():
    pairs = Param("pairs", int, low=1)
    assert pairs.check(1e6) == 1_000_000 and isinstance(pairs.check(1e6), int)
    with pytest.raises(ValidationError, match="not an integer"):
        pairs.check(2.5)


def test_parse_names_the_option_and_the_text_as_typed():
    with pytest.raises(argparse.ArgumentTypeError, match=r"^--p-z=1e0 is out of range: expected 0 < --p-z"):
        P.parse("1e0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^--p-z=abc is not a number: expected 0 < --p-z"):
        P.parse("abc")
    assert P.parse("0.25") == 0.25


def test_help_shows_range_and_default():
    parser = argparse.ArgumentParser()
    P.add_to(parser, help="Z probability")
    text = " ".join(parser.format_help().split())
    assert "--p-z P Z probability (0 < P < 1; default 0.5)" in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bbm92", "--eps-sec", "0"], "--eps-sec=0 is out of range: expected 1e-100 <= --eps-sec < 1"),
        (["bbm92", "--p-z", "1"], "--p-z=1 is out of range: expected 0 < --p-z < 1"),
        (["e91", "--qber-abort", "2"], "--qber-abort=2 is out of range: expected 0 <= --qber-abort <= 0.5"),
        (["e91", "--qber-abort", "1"], "--qber-abort=1 is out of range: expected 0 <= --qber-abort <= 0.5"),
        (["chsh", "--depolarizing", "x"], "--depolarizing=x is not a number: expected 0 <= --depolarizing"),
        (["distill", "a", "b", "--eps-cor", "1"],
         "--eps-cor=1 is out of range: expected 1e-100 <= --eps-cor < 1"),
    ],
)
def test_cli_and_library_share_ranges(capsys, argv, expected):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and expected in err, err


def test_library_error_after_parsing_is_shown_with_the_option(capsys):
    """A ValidationError raised inside the library names the option as typed, not the Python name."""
    from qentangle.distill.chain import EPS_SEC
    from qentangle.protocols.keying import KeyOptions

    with pytest.raises(ValidationError) as info:
        KeyOptions(eps_sec=0.0)
    assert info.value.param == EPS_SEC.name == "eps_sec"
    assert "--eps-sec=0.0 is out of range" in info.value.for_option("--eps-sec")


def _definitions(name: str) -> list[str]:
    pattern = re.compile(rf"^{name}\s*(:[^=]*)?=", re.MULTILINE)  # module level, not in docstrings
    return [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if pattern.search(p.read_text())]


VOCABULARY = ["EC_METHODS", "ESTIMATION_METHODS", "CRITERIA", "BASIS_NAMES", "ENGINE_NAMES", "ATTACKS",
              "EPS_SEC", "PAIRS", "SHOTS", "P_Z"]


@pytest.mark.parametrize("name", VOCABULARY)
def test_each_vocabulary_constant_is_defined_once(name):
    assert len(_definitions(name)) == 1, _definitions(name)


def test_one_best_pass_and_its_docstring_names_existing_functions():
    assert len([p for p in PACKAGE.rglob("*.py") if "def best_pass(" in p.read_text()]) == 1
    assert "best_pass_by_loss" not in "".join(p.read_text() for p in PACKAGE.rglob("*.py"))


def test_cli_choices_come_from_the_owning_modules():
    from qentangle.cli.main import build_parser
    from qentangle.distill.chain import EC_METHODS
    from qentangle.engines import ENGINE_NAMES
    from qentangle.protocols.attacks import ATTACKS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {o: a for a in sub.choices["bbm92"]._actions for o in a.option_strings}
    assert tuple(options["--ec"].choices) == EC_METHODS
    assert tuple(options["--engine"].choices) == ENGINE_NAMES
    assert tuple(options["--eve"].choices) == ATTACKS


def test_one_json_sanitizer():
    hits = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
            if re.search(r"def _(clean|json_value)\b", p.read_text())]
    assert hits == []
