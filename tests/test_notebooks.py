"""The tutorials are jupytext pairs, and they use the library as a user would.

Each tutorial's source of truth is ``notebooks/NN_name.py`` (jupytext percent format); the
``NN_name.ipynb`` beside it is generated from it (``jupytext --update --to notebook``, see
notebooks/README.md) and stored without outputs. These tests fail when a pair is out of sync,
when a tutorial has only one half, when a stored notebook carries outputs, or when a notebook
imports the command line (``qentangle.cli``) instead of the library. Executing the notebooks is
nbmake's job (``pytest --nbmake notebooks``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FORBIDDEN_PREFIX = "qentangle.cli"
PERCENT_MARKER = "# %%"


def tutorial_sources(directory: Path) -> list[Path]:
    """The jupytext sources of a notebook directory: every ``.py`` file whose name starts with digits."""
    return sorted(p for p in directory.glob("*.py") if p.name[:1].isdigit())


def pair_problems(directory: Path) -> list[str]:
    """Everything that breaks the pairing rule in ``directory``, one line each (empty: all good)."""
    problems = []
    sources = {p.stem: p for p in tutorial_sources(directory)}
    notebooks = {p.stem: p for p in directory.glob("*.ipynb")}
    for stem in sorted(notebooks.keys() - sources.keys()):
        problems.append(f"{stem}.ipynb has no jupytext source {stem}.py")
    for stem in sorted(sources.keys() - notebooks.keys()):
        problems.append(f"{stem}.py has no generated {stem}.ipynb")
    for stem in sorted(sources.keys() & notebooks.keys()):
        problems += [f"{stem}: {problem}" for problem in _pair_differences(sources[stem], notebooks[stem])]
    return problems


def _pair_differences(source: Path, notebook: Path) -> list[str]:
    text = source.read_text(encoding="utf-8")
    if PERCENT_MARKER not in text:
        return [f"{source.name} is not in jupytext percent format (no '{PERCENT_MARKER}' cells)"]
    from_source = jupytext.reads(text, fmt="py:percent").cells
    stored = nbformat.read(notebook, as_version=4)
    problems = []
    if len(from_source) != len(stored.cells):
        problems.append(f"{len(from_source)} cells in the .py, {len(stored.cells)} in the .ipynb")
    for index, (ours, theirs) in enumerate(zip(from_source, stored.cells, strict=False)):
        if (ours.cell_type, ours.source) != (theirs.cell_type, theirs.source):
            first_line = ours.source.splitlines()[0] if ours.source else ""
            problems.append(f"cell {index} differs ({ours.cell_type} cell starting {first_line[:60]!r})")
    for index, cell in enumerate(stored.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {index} of {notebook.name} has stored outputs")
    return problems


def cli_imports(source: str) -> list[str]:
    """The ``qentangle.cli`` modules a notebook source imports (jupytext keeps magics as comments)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "qentangle":  # from qentangle import cli
                names += [f"qentangle.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]  # importlib.import_module("qentangle.cli...")
        else:
            continue
        found += [n for n in names if n == FORBIDDEN_PREFIX or n.startswith(FORBIDDEN_PREFIX + ".")]
    return sorted(set(found))


def test_every_tutorial_is_a_pair_in_sync() -> None:
    assert len(tutorial_sources(NOTEBOOKS)) >= 7
    assert pair_problems(NOTEBOOKS) == []


@pytest.mark.parametrize("source", tutorial_sources(NOTEBOOKS), ids=lambda p: p.stem)
def test_notebook_imports_the_library_not_the_cli(source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    assert cli_imports(text) == []
    assert "qentangle" in text


def test_no_notebook_generator_script() -> None:
    scripts = [p.name for p in NOTEBOOKS.glob("*.py") if not p.name[:1].isdigit()]
    assert scripts == []


# The checks themselves, on a scratch directory: each must catch what it is there for.


def _write_pair(directory: Path, stem: str, code: str) -> Path:
    source = directory / f"{stem}.py"
    source.write_text(f"# %% [markdown]\n# # Title\n\n# %%\n{code}\n", encoding="utf-8")
    notebook = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    nbformat.write(notebook, directory / f"{stem}.ipynb")
    return source


def test_pair_check_accepts_a_fresh_pair(tmp_path: Path) -> None:
    _write_pair(tmp_path, "01_x", "x = 1")
    assert pair_problems(tmp_path) == []


def test_pair_check_catches_an_edit_to_one_half(tmp_path: Path) -> None:
    source = _write_pair(tmp_path, "01_x", "x = 1")
    source.write_text(source.read_text(encoding="utf-8").replace("x = 1", "x = 2"), encoding="utf-8")
    assert pair_problems(tmp_path) == ["01_x: cell 1 differs (code cell starting 'x = 2')"]
    source.write_text(source.read_text(encoding="utf-8") + "\n# %%\ny = 3\n", encoding="utf-8")
    assert "01_x: 3 cells in the .py, 2 in the .ipynb" in pair_problems(tmp_path)


def test_pair_check_catches_a_missing_half_and_stored_outputs(tmp_path: Path) -> None:
    _write_pair(tmp_path, "01_x", "x = 1")
    _write_pair(tmp_path, "02_y", "y = 1")
    (tmp_path / "01_x.py").unlink()
    (tmp_path / "02_y.ipynb").unlink()
    _write_pair(tmp_path, "03_z", "z = 1")
    notebook = nbformat.read(tmp_path / "03_z.ipynb", as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(notebook, tmp_path / "03_z.ipynb")
    (tmp_path / "04_w.py").write_text("w = 1\n", encoding="utf-8")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "04_w.ipynb")
    assert pair_problems(tmp_path) == [
        "01_x.ipynb has no jupytext source 01_x.py",
        "02_y.py has no generated 02_y.ipynb",
        "03_z: cell 1 of 03_z.ipynb has stored outputs",
        "04_w: 04_w.py is not in jupytext percent format (no '# %%' cells)",
    ]


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("import qentangle as q\nq.run_chsh", []),
        ("from qentangle import run_chsh", []),
        ("from qentangle.distill import distill", []),
        ("from qentangle.client import x", []),
        ("from qentangle.cli.chsh_cmd import format_report", ["qentangle.cli.chsh_cmd"]),
        ("import qentangle.cli.main", ["qentangle.cli.main"]),
        ("from qentangle import cli", ["qentangle.cli"]),
        ("import importlib\nimportlib.import_module('qentangle.cli.common')", ["qentangle.cli.common"]),
        ("# %matplotlib inline\nfrom qentangle.cli import main", ["qentangle.cli"]),
    ],
)
def test_cli_import_check(code: str, found: list[str]) -> None:
    assert cli_imports(code) == found
