"""Matplotlib figures of qentangle results. Every function returns the Figure.

Pass ``path`` to also save the figure (the folder is created). Functions take result objects
(or plain arrays), never run experiments themselves.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from qentangle.protocols.chsh import run_chsh
>>> fig = plot_correlators(run_chsh(shots=400, seed=0))
>>> len(fig.axes)
1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qentangle.analysis import CLASSICAL_BOUND, TSIRELSON_BOUND

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from qentangle.protocols.chsh import ChshResult, ChshSweep

CLASSICAL = CLASSICAL_BOUND  # short names for the figures below
TSIRELSON = TSIRELSON_BOUND
OUTCOME_LABELS = ("00", "01", "10", "11")  # bit_a bit_b


def _figure(ax: Axes | None, size: tuple[float, float] = (6.0, 4.0)) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        from qentangle.files import save_figure

        save_figure(fig, path, dpi=120)
    return fig


def _fmt_angle(theta: float) -> str:
    ratio = theta / math.pi
    for den in (1, 2, 4, 8):
        num = ratio * den
        if abs(num - round(num)) < 1e-9:
            num = round(num)
            if num == 0:
                return "0"
            top = {1: "π", -1: "-π"}.get(num, f"{num}π")
            return top if den == 1 else f"{top}/{den}"
    return f"{theta:.2f}"


def plot_correlators(
    result: ChshResult, *, ax: Axes | None = None, path: str | Path | None = None
) -> Figure:
    """Bars of the four correlators with ±1 standard error, and the theory value as markers.

    The theory markers are the closed form of the result's noise (none when the noise varied
    along the run, as in a satellite pass's Bell test).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from qentangle.protocols.chsh import run_chsh
    >>> fig = plot_correlators(run_chsh(shots=400, seed=0))
    >>> fig.axes[0].get_ylabel()
    'correlator E = P(equal) - P(different)'
    """
    from qentangle.theory import predicted_correlator

    fig, ax = _figure(ax)
    labels = [f"E({_fmt_angle(c.a)}, {_fmt_angle(c.b)})" for c in result.correlators]
    values = np.array([c.E for c in result.correlators])
    errors = np.array([c.stderr for c in result.correlators])
    colors = ["tab:blue" if c.sign > 0 else "tab:orange" for c in result.correlators]
    x = np.arange(len(values))
    ax.bar(x, values, yerr=errors, color=colors, capsize=6, alpha=0.85, label="measured")
    if result.noise is not None:
        theory = [predicted_correlator(result.state, c.a, c.b, result.noise) for c in result.correlators]
        ax.scatter(x, theory, marker="_", s=900, color="crimson", zorder=3, label="theory")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, labels)
    ax.set_ylim(-1.1, 1.1)
    ax.set_ylabel("correlator E = P(equal) - P(different)")
    ax.set_title(f"{result.state}: S = {result.S:.3f} ± {result.S_stderr:.3f}")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_s_value(
    results: ChshResult | Sequence[ChshResult],
    labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """S of one or several results with error bars, the classical bound 2 and Tsirelson's 2√2.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from qentangle.protocols.chsh import run_chsh
    >>> fig = plot_s_value([run_chsh(shots=400, seed=s) for s in range(3)])
    >>> len(fig.axes[0].lines) >= 2
    True
    """
    items = [results] if not isinstance(results, Sequence) else list(results)
    labels = list(labels) if labels is not None else [f"{r.state} ({r.engine})" for r in items]
    fig, ax = _figure(ax)
    x = np.arange(len(items))
    s = np.array([r.orientation * r.S for r in items])
    err = np.array([r.S_stderr for r in items])
    ax.errorbar(x, s, yerr=err, fmt="o", capsize=6, color="tab:blue", label="measured S (±1σ)")
    ax.axhline(CLASSICAL, color="tab:red", ls="--", label="classical bound 2")
    ax.axhline(TSIRELSON, color="tab:green", ls=":", label="Tsirelson bound 2√2")
    ax.set_xticks(x, labels, rotation=20 if len(items) > 3 else 0)
    ax.set_xlim(-0.6, len(items) - 0.4)
    ax.set_ylim(min(1.5, float(np.nanmin(s - 2 * err)) - 0.1), 3.0)
    ax.set_ylabel("S")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_sweep(
    sweep: ChshSweep, *, ax: Axes | None = None, path: str | Path | None = None
) -> Figure:
    """S1(θ) and S2(θ) with error bars, their theory curves and the bounds ±2 and ±2√2.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from qentangle.protocols.chsh import chsh_sweep
    >>> fig = plot_sweep(chsh_sweep(thetas=np.linspace(0, np.pi, 5), shots=200, seed=0))
    >>> fig.axes[0].get_ylabel()
    'S'
    """
    from qentangle.theory import predicted_correlator

    fig, ax = _figure(ax, (7.0, 4.5))
    fine = np.linspace(float(sweep.thetas.min()), float(sweep.thetas.max()), 400)
    a = np.array([0.0, 0.0, np.pi / 2, np.pi / 2])
    b = fine[:, None] + np.array([0.0, np.pi / 2, 0.0, np.pi / 2])
    theory = predicted_correlator(sweep.state, np.broadcast_to(a, b.shape), b, sweep.noise)
    ax.plot(fine, theory @ np.array([1, -1, 1, 1]), color="tab:blue", lw=1, label="S1 theory")
    ax.plot(fine, theory @ np.array([1, 1, -1, 1]), color="tab:orange", lw=1, label="S2 theory")
    ax.errorbar(sweep.thetas, sweep.S1, yerr=sweep.S1_stderr, fmt="o", ms=4, capsize=3,
                color="tab:blue", label="S1 measured")
    ax.errorbar(sweep.thetas, sweep.S2, yerr=sweep.S2_stderr, fmt="s", ms=4, capsize=3,
                color="tab:orange", label="S2 measured")
    for sign in (1, -1):
        ax.axhline(sign * CLASSICAL, color="tab:red", ls="--", lw=1,
                   label="classical bound ±2" if sign > 0 else None)
        ax.axhline(sign * TSIRELSON, color="tab:green", ls=":", lw=1,
                   label="Tsirelson bound ±2√2" if sign > 0 else None)
    ax.fill_between(fine, -CLASSICAL, CLASSICAL, color="grey", alpha=0.08)
    ax.set_xlabel("Bob's angle θ (Bloch radians)")
    ax.set_ylabel("S")
    ax.set_title(f"CHSH sweep, {sweep.state}: Alice {{0, π/2}}, Bob {{θ, θ+π/2}}")
    ax.set_ylim(-3.2, 4.4)
    ax.legend(loc="upper center", fontsize=7, ncol=3)
    return _save(fig, path)


def plot_counts(
    counts: Mapping[str, Sequence[int] | np.ndarray] | ChshResult,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Grouped histograms of joint outcomes 00, 01, 10, 11 (bit_a bit_b).

    ``counts`` maps a label to four counts in code order, or is a ChshResult (one group per
    setting pair).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = plot_counts({"ideal": [50, 0, 0, 50], "noisy": [40, 10, 10, 40]})
    >>> len(fig.axes[0].patches)
    8
    """
    if not isinstance(counts, Mapping):
        counts = {f"({_fmt_angle(c.a)}, {_fmt_angle(c.b)})": c.counts for c in counts.correlators}
    fig, ax = _figure(ax)
    groups = list(counts.items())
    width = 0.8 / max(len(groups), 1)
    x = np.arange(4)
    for i, (label, values) in enumerate(groups):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, np.asarray(values), width, label=label)
    ax.set_xticks(x, OUTCOME_LABELS)
    ax.set_xlabel("outcome (Alice bit, Bob bit)")
    ax.set_ylabel("counts")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_s_vs_noise(
    parameter: Sequence[float] | np.ndarray,
    s_values: Sequence[float] | np.ndarray,
    s_errors: Sequence[float] | np.ndarray,
    theory: Sequence[float] | np.ndarray | None = None,
    *,
    theory_x: Sequence[float] | np.ndarray | None = None,
    xlabel: str = "noise parameter",
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Measured S against a noise parameter with error bars, a theory line and both bounds.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = plot_s_vs_noise([0, 0.5], [2.8, 1.4], [0.02, 0.02], [2.83, 1.41])
    >>> fig.axes[0].get_ylabel()
    'S'
    """
    fig, ax = _figure(ax)
    if theory is not None:
        tx = parameter if theory_x is None else theory_x
        ax.plot(tx, theory, color="black", lw=1, label="theory")
    ax.errorbar(parameter, s_values, yerr=s_errors, fmt="o", capsize=4, color="tab:blue",
                label="measured S (±1σ)")
    ax.axhline(CLASSICAL, color="tab:red", ls="--", label="classical bound 2")
    ax.axhline(TSIRELSON, color="tab:green", ls=":", label="Tsirelson bound 2√2")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("S")
    ax.legend(fontsize=8)
    return _save(fig, path)


# ---------------------------------------------------------------------------------- satellite pass
#: Bar colour of each verdict of :func:`qentangle.scenarios.compare.verdict`.
VERDICT_COLOURS = {"yes": "tab:green", "NO*": "tab:orange", "NO": "tab:red"}
VERDICT_MEANINGS = {"yes": "within margin", "NO*": "documented miss", "NO": "miss"}


def plot_pass_comparison(
    data: Mapping,
    rows: Sequence | None = None,
    path: str | Path | None = None,
    *,
    judged: str | None = None,
) -> Figure:
    """The judged figures against the published ones, as ratios with the accepted margin.

    ``data`` is ``PassResult.to_dict()``; ``rows`` are :func:`qentangle.scenarios.compare.compare`
    rows, by default :func:`~qentangle.scenarios.compare.pass_comparison` (the rows of the pass
    report's table). Bars show each row's judged (``model``) value and are coloured by
    :func:`~qentangle.scenarios.compare.verdict`, the verdict the table prints; a row's
    ``simulated`` value, when given, is an unjudged black cross. A bar at 1 equals the paper.
    ``judged`` names, in the title, what the rows' ``model`` values are (default: the link
    model's expected figures for the default rows; say what your own ``rows`` judge).
    """
    from matplotlib.patches import Patch

    from qentangle.scenarios.compare import pass_comparison, verdict

    if judged is None:
        judged = "the link model's expected figures" if rows is None else "the rows' model column"
    rows = pass_comparison(data) if rows is None else list(rows)
    verdicts = [verdict(row) for row in rows]
    fig, ax = _figure(None, (7.5, 0.45 * max(len(rows), 3) + 1.8))
    names = [row.quantity for row in rows]
    ratios = [row.model / row.published if row.published else float("nan") for row in rows]
    y = np.arange(len(rows))
    bars = ax.barh(y, ratios, color=[VERDICT_COLOURS[v] for v in verdicts], alpha=0.75)
    for bar, row_verdict in zip(bars, verdicts, strict=True):
        bar.set_gid(f"verdict:{row_verdict}")
    for i, row in enumerate(rows):
        if row.margin.endswith("%"):
            half = float(row.margin.strip("+-%")) / 100
        else:
            half = float(row.margin.strip("+-")) / abs(row.published) if row.published else 0.0
        ax.errorbar(1.0, i, xerr=half, color="black", capsize=3, lw=1)
    simulated = [row.simulated / row.published if row.simulated is not None and row.published
                 else float("nan") for row in rows]
    handles = [Patch(color=VERDICT_COLOURS[v], alpha=0.75, label=f"{v}: {VERDICT_MEANINGS[v]}")
               for v in VERDICT_COLOURS if v in verdicts]
    if any(row.simulated is not None for row in rows):
        handles.append(ax.scatter(simulated, y, marker="x", color="black", zorder=3,
                                  label="this simulated run (not judged)"))
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("value / published (black bar: accepted margin)")
    ax.set_title(f"{data['scenario']}: judged: {judged}\n(bar colour = the comparison table's ok column)",
                 fontsize=9)
    ax.legend(handles=handles, fontsize=7, ncol=2, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.6 / fig.get_figheight() - 0.06))
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def save_pass_figures(result, directory: str | Path) -> list[Path]:
    """Write every figure of a simulated pass (link geometry and rates, comparison) as PNG."""
    import matplotlib.pyplot as plt

    from qentangle.link.plots import save_pass_plots
    from qentangle.scenarios.compare import PUBLISHED

    directory = Path(directory)
    paths = save_pass_plots(result.slices, result.stations, directory)
    data = result.to_dict()
    if data["scenario"] in PUBLISHED:
        path = directory / "comparison.png"
        plt.close(plot_pass_comparison(data, path=path))  # the rows of the pass report's table
        paths.append(path)
    return paths
