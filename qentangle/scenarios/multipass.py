"""Keys from several passes: sifted data accumulated over N passes before one distillation.

A finite key pays for its statistics: the phase-error bound of n sifted bits exceeds the QBER by
a margin that shrinks like 1/sqrt(n), and the hashes cost a fixed number of bits. Accumulating
the sifted bits of N similar passes (nights) before distilling lets the finite-key rate approach
the asymptotic one, the figure satellite-QKD studies use to size a mission.

:func:`run_passes` simulates N passes of a scenario (its pass repeated N times, see
:meth:`qentangle.link.physics.LinkSlices.tile`) and distils once. :func:`key_rate_curve` gives
the link model's expected finite-key and asymptotic rates for each N (no seed, BBM92 with
error-correction estimation, as :func:`qentangle.scenarios.compare.expected_key`), and
:func:`asymptotic_key_rate` the closed-form limit ``R_sift (1 - f h(Q) - h(Q))`` (Shor-Preskill
with the phase error equal to the QBER, as for a symmetric channel).

>>> points = key_rate_curve("micius-2020", (16, 256))
>>> [p.passes for p in points], points[0].finite_rate_bps < points[1].finite_rate_bps
([16, 256], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qentangle.distill.estimate import binary_entropy
from qentangle.errors import ValidationError
from qentangle.params import Param
from qentangle.scenarios.compare import PAPER_EC_EFFICIENCY, expected_key
from qentangle.scenarios.loader import apply_overrides, load_scenario
from qentangle.scenarios.model import Scenario

__all__ = ["KeyRatePoint", "asymptotic_key_rate", "key_rate_curve", "run_passes", "save_key_rate_figure",
           "with_passes"]

MAX_PASSES = 100_000
PASSES = Param("passes", int, low=1, high=MAX_PASSES, default=1, metavar="N",
               help="accumulate the sifted data of N passes of the scenario before distilling")


def _scenario(scenario: str | Scenario, overrides: Sequence[str] = ()) -> Scenario:
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return apply_overrides(base, list(overrides)) if overrides else base


def pass_duration_s(scenario: str | Scenario) -> float:
    """Data time of one pass of the scenario (its double-visibility window, s)."""
    return float(_scenario(scenario).physics(accumulate=False).total_duration_s)


def with_passes(scenario: str | Scenario, passes: int, overrides: Sequence[str] = ()) -> Scenario:
    """The scenario with ``protocol.data_time_s`` set to ``passes`` whole passes.

    >>> one = pass_duration_s("micius-2020")
    >>> with_passes("micius-2020", 4).protocol.data_time_s == 4 * one
    True
    """
    passes = PASSES.check(passes)
    base = _scenario(scenario, overrides)
    return apply_overrides(base, [f"protocol.data_time_s={passes * pass_duration_s(base)!r}"])


def run_passes(
    scenario: str | Scenario, passes: int, *, overrides: Sequence[str] = (), **run_options: Any
) -> Any:
    """Simulate ``passes`` passes and distil their sifted bits together (a ``PassResult``).

    ``run_options`` go to :func:`qentangle.scenarios.simulate.run_pass` (seed, engine, progress).
    """
    from qentangle.scenarios.simulate import run_pass

    return run_pass(with_passes(scenario, passes, overrides), **run_options)


def asymptotic_key_rate(
    sifted_rate_hz: float, qber: float, ec_efficiency: float = PAPER_EC_EFFICIENCY
) -> float:
    """Closed-form limit of the key rate: R_sift (1 - f h(Q) - h(Q)), 0 when negative (bit/s).

    >>> round(asymptotic_key_rate(1.1, 0.045), 3)
    0.462
    """
    h = float(binary_entropy(qber))
    return max(0.0, sifted_rate_hz * (1.0 - ec_efficiency * h - h))


@dataclass(frozen=True)
class KeyRatePoint:
    """Expected key figures after ``passes`` accumulated passes."""

    passes: int
    data_time_s: float
    sifted_bits: int
    qber: float
    final_key_bits: int
    finite_rate_bps: float
    asymptotic_rate_bps: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures."""
        return asdict(self)


def key_rate_curve(
    scenario: str | Scenario,
    passes: Sequence[int] = (1, 4, 16, 64, 256, 1024),
    *,
    overrides: Sequence[str] = (),
) -> list[KeyRatePoint]:
    """The link model's expected finite-key and asymptotic rates after each number of passes.

    The passes repeat one pass of the scenario, so the sifted rate and QBER are the same for
    every N; only the statistics change. BBM92 scenarios only (the finite key of
    :func:`~qentangle.scenarios.compare.expected_key`, f = 1.19).
    """
    base = _scenario(scenario, overrides)
    if base.protocol.kind != "bbm92" or base.protocol.resolved_estimation != "ec":
        raise ValidationError(
            f"scenario {base.name!r}: protocol.kind={base.protocol.kind!r} has no two-basis key to "
            "accumulate: expected a bbm92 scenario with error-correction estimation"
        )
    one = base.physics(accumulate=False).summary(base.protocol.p_z)
    points = []
    for n in passes:
        n = PASSES.check(n)
        summary = {**one, "duration_s": n * one["duration_s"]}
        enough = round(one["sifted_rate_hz"] * summary["duration_s"]) >= 2
        key = expected_key(summary, base.protocol) if enough else {}
        points.append(
            KeyRatePoint(
                passes=n,
                data_time_s=summary["duration_s"],
                sifted_bits=int(key.get("expected_sifted_bits", 0)),
                qber=one["qber"],
                final_key_bits=int(key.get("final_key_bits", 0)),
                finite_rate_bps=float(key.get("finite_key_rate_bps", 0.0)),
                asymptotic_rate_bps=asymptotic_key_rate(one["sifted_rate_hz"], one["qber"]),
            )
        )
    return points


def save_key_rate_figure(points: Sequence[KeyRatePoint], path: str | Path, title: str = "") -> Path:
    """Finite-key rate against accumulated data time, with the asymptotic rate, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not points:
        raise ValidationError("points is empty: expected at least one KeyRatePoint")
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    hours = [p.data_time_s / 3600.0 for p in points]
    ax.semilogx(hours, [p.finite_rate_bps for p in points], "o-", label="finite key (scenario's eps_sec)")
    ax.axhline(points[0].asymptotic_rate_bps, color="k", ls="--",
               label=f"asymptotic R_sift (1 - f h(Q) - h(Q)) = {points[0].asymptotic_rate_bps:.3g} bit/s")
    for p, x in zip(points, hours, strict=True):
        ax.annotate(f"{p.passes}", (x, p.finite_rate_bps), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=7)
    ax.set_xlabel("accumulated data time (h); labels: passes")
    ax.set_ylabel("secret key rate (bit/s)")
    ax.set_title(title or "Finite-key rate vs accumulated passes")
    ax.legend(fontsize=7)
    ax.set_ylim(bottom=0.0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
