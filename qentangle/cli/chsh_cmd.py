"""``qentangle chsh``: a CHSH Bell test with its statistics, as a table or JSON.

Example::

    qentangle chsh --state psi- --shots 100000 --depolarizing 0.1 --seed 7
    qentangle chsh --angles 0,1.5708,0.7854,2.3562 --engine shots --json
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from qentangle.cli import common
from qentangle.cli.backend_options import add_record_outcomes_option
from qentangle.protocols.chsh import SHOTS
from qentangle.states import BELL_STATES


def _angles(text: str) -> tuple[float, float, float, float]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not valid: expected four finite Bloch angles in radians, a,a2,b,b2"
        )
    values = []
    for part in parts:
        try:
            values.append(common.finite_float(part))
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not valid ({error}): expected four finite Bloch angles in radians"
            ) from None
    return tuple(values)  # type: ignore[return-value]


def register(subparsers: Any) -> None:
    """Add the ``chsh`` sub-command."""
    parser = subparsers.add_parser(
        "chsh",
        help="CHSH Bell test of a (noisy) Bell pair",
        description="Measure S for a Bell pair at four setting pairs, with honest statistics.",
    )
    parser.add_argument("--state", choices=BELL_STATES, default="phi+", help="Bell state (default phi+)")
    SHOTS.add_to(parser)
    parser.add_argument("--angles", type=_angles, default=None, metavar="a,a2,b,b2",
                        help="Bloch angles in radians (default: the state's optimal angles)")
    parser.add_argument("--settings", choices=("random", "balanced"), default="random",
                        help="random: i.i.d. uniform setting per round (needed for the rigorous "
                             "p-value); balanced: exactly N/4 rounds per setting pair")
    common.add_noise_options(parser)
    common.add_engine_options(parser)
    add_record_outcomes_option(parser)
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="save a figure (correlators and S); the format from the file's extension: "
                             f"{', '.join(common.FIGURE_FORMATS)} (default: no figure)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``qentangle chsh``."""
    from qentangle.protocols.chsh import run_chsh

    if args.plot is not None:
        common.check_figure_path(args.plot, "--plot")

    result = run_chsh(
        state=args.state,
        angles=args.angles,
        shots=args.shots,
        noise=common.noise_from_args(args),
        engine=common.engine_from_args(args),
        seed=args.seed,
        settings=args.settings,
    )
    if args.plot:
        _plot(result, args.plot)
    if args.json:
        common.print_json(result.to_dict())
    else:
        print(format_report(result))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def _plot(result: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qentangle.plots import plot_correlators, plot_s_value

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained",
                                      gridspec_kw={"width_ratios": [3, 1]})
    plot_correlators(result, ax=left)
    plot_s_value(result, ax=right)
    from qentangle.files import save_figure

    try:
        save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)


def _p(value: float, log10: float) -> str:
    if value > 0:
        return f"{value:.3g}"
    return f"10^{log10:.1f}" if math.isfinite(log10) else "0"


def _noise_line(result: Any) -> str:
    info = result.engine_info
    if "backend" in info:
        qubits = ",".join(str(q) for q in info.get("qubits", []))
        return f"noise: the device's own ({info['backend']}, qubits {qubits})"
    return f"noise: {result.noise.describe()}"


def _theory(result: Any) -> str:
    return "" if "predicted_S_band" in result.extra else f"theory {result.predicted_S:.4f}; "


def _device_prediction(result: Any) -> list[str]:
    """The backend's predicted S (raw, and mitigated when S is), each with its band."""
    extra = result.extra
    if "predicted_S_band" not in extra:
        return []
    keys = ["predicted_S"] + (["predicted_S_mitigated"] if result.mitigated else [])
    parts = [
        "{} {:.4f} [{:.4f}, {:.4f}]".format(
            "mitigated" if key.endswith("mitigated") else "raw", extra[key], *extra[f"{key}_band"]
        )
        for key in keys
    ]
    return ["predicted from the pair's error figures: " + ", ".join(parts)]


def format_report(result: Any) -> str:
    """A readable plain-text report of a :class:`~qentangle.protocols.chsh.ChshResult`."""
    lines = [
        f"CHSH test of {result.state}  ({result.engine} engine, {result.shots} rounds, "
        f"{result.settings} settings)",
        _noise_line(result),
        "",
        f"  {'a':>8} {'b':>8} {'sign':>4} {'N':>9} {'E':>9} {'± stderr':>9}",
    ]
    for c in result.correlators:
        lines.append(f"  {c.a:8.4f} {c.b:8.4f} {c.sign:+4d} {c.n:9d} {c.E:9.4f} {c.stderr:9.4f}")
    mitigated = ""
    if result.mitigated:
        mitigated = f"  (raw {result.S_raw:.4f} ± {result.S_raw_stderr:.4f}, readout-mitigated)"
    lines += [
        "",
        f"S = {result.S:.4f} ± {result.S_stderr:.4f}{mitigated}   "
        f"({_theory(result)}classical bound 2, Tsirelson 2.8284)",
        *_device_prediction(result),
        f"violation: z = {result.z_score:.2f} standard errors, "
        f"normal p-value {_p(result.p_value, result.log10_p_value)}",
        f"CHSH game: {result.wins}/{result.shots} won (w = {result.win_fraction:.4f}, local bound 0.75)",
        f"p-value against local realism (no i.i.d. assumption): "
        f"{_p(result.p_value_rigorous, result.log10_p_value_rigorous)}"
        f"  [Hoeffding bound {result.p_value_hoeffding:.3g}]",
    ]
    if result.settings != "random":
        lines.append(f"  assumption: {result.rigorous_assumption}")
    return "\n".join(lines)
