"""The pass comparison figure judges what the pass report's table judges (issue 13, point 6).

The table (``qentangle.report.pass_report``) judges the link model's expected figures; the
figure (``comparison.png`` of ``save_pass_figures``) used to colour its rows by the simulated
run, so in notebook 06 the two gave opposite verdicts on two rows. Seeds 1 are chosen so that
the simulated run and the model disagree on at least one row of each preset (checked below),
which is where an old-style figure would differ from the table.
"""

from __future__ import annotations

import re

import matplotlib
import pytest
from matplotlib.colors import to_rgb

matplotlib.use("Agg")

from qentangle import plots
from qentangle.report import pass_report
from qentangle.scenarios.compare import PUBLISHED, pass_comparison, verdict
from qentangle.scenarios.simulate import run_pass

_OK = re.compile(r"\s(yes|NO\*|NO)(?: \[T\])?(?: \([0-9,]+\))?$")


def _table_verdicts(text: str, scenario: str) -> dict[str, str]:
    """Quantity -> the ``ok`` column of the comparison table in a pass report."""
    table = text.split("beside the published figures\n", 1)[1]
    verdicts = {}
    for item in PUBLISHED[scenario]:
        line = next(line for line in table.splitlines() if line.startswith(item.quantity + " "))
        verdicts[item.quantity] = _OK.search(line).group(1)
    return verdicts


def _figure_verdicts(fig) -> dict[str, str]:
    """Quantity -> verdict of each bar, read back from the bar's colour (and its gid)."""
    ax = fig.axes[0]
    colour_to_verdict = {to_rgb(colour): v for v, colour in plots.VERDICT_COLOURS.items()}
    bars = [patch for patch in ax.patches if (patch.get_gid() or "").startswith("verdict:")]
    names = [label.get_text() for label in ax.get_yticklabels()]
    assert len(bars) == len(names)
    out = {}
    for name, bar in zip(names, bars, strict=True):
        by_colour = colour_to_verdict[to_rgb(bar.get_facecolor())]
        assert bar.get_gid() == f"verdict:{by_colour}"
        out[name] = by_colour
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", ["micius-2020", "micius-2017"])
def test_figure_verdict_per_row_equals_the_table(scenario, tmp_path, monkeypatch):
    result = run_pass(scenario, seed=1)
    data = result.to_dict()
    drawn = []
    original = plots.plot_pass_comparison

    def capture(*args, **kwargs):
        fig = original(*args, **kwargs)
        drawn.append((fig, fig.axes[0].get_title()))
        return fig

    monkeypatch.setattr(plots, "plot_pass_comparison", capture)
    paths = plots.save_pass_figures(result, tmp_path)
    assert (tmp_path / "comparison.png") in paths and (tmp_path / "comparison.png").stat().st_size > 0
    assert len(drawn) == 1
    fig, title = drawn[0]

    table = _table_verdicts(pass_report(result, data), scenario)
    assert _figure_verdicts(fig) == table
    # the figure says what it judges, and it is what the table's ok column judges
    assert "judged: the link model's expected figures" in title and "ok column" in title
    assert "ok judges the model column" in pass_report(result, data)

    # the run disagrees with the model on some row: an old-style figure would differ here
    rows = pass_comparison(data)
    by_run = {
        row.quantity: abs(row.simulated - row.published) <= next(
            item.limit for item in PUBLISHED[scenario] if item.quantity == row.quantity
        )
        for row in rows
    }
    assert any(by_run[row.quantity] != row.within for row in rows)
    assert [verdict(row) for row in rows] == list(table.values())
