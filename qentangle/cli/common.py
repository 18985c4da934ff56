"""Helpers shared by the command modules: typed option parsers and JSON output."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np

from qentangle.errors import ValidationError


def probability(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected 0 <= value <= 1")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite float."""
    return _number(text)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (accepts 1e6 style)."""
    value = _number(text)
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected an integer >= 1")
    return int(value)


def seed_int(text: str) -> int:
    """argparse type: a non-negative integer seed."""
    value = _number(text)
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected an integer >= 0")
    return int(value)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return value


def json_default(value: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(data: dict[str, Any]) -> None:
    """Print one JSON object (NaN/inf become null) on stdout."""
    sys.stdout.write(json.dumps(_clean(data), default=json_default, indent=2) + "\n")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def add_noise_options(parser: argparse.ArgumentParser) -> None:
    """The noise options shared by ``chsh``, ``e91`` and ``bbm92``."""
    group = parser.add_argument_group("noise")
    group.add_argument("--depolarizing", type=probability, default=0.0, metavar="P",
                       help="two-qubit depolarizing probability, rho -> (1-P) rho + P I/4")
    group.add_argument("--dephasing", type=probability, default=0.0, metavar="P",
                       help="phase-flip probability on each arm")
    group.add_argument("--amplitude-damping", type=probability, default=0.0, metavar="G",
                       help="amplitude-damping probability on each arm")
    group.add_argument("--misalignment", type=_misalignment, default=0.0, metavar="DEG",
                       help="rotation of Bob's polarization in degrees (-360..360)")
    group.add_argument("--readout", type=probability, default=0.0, metavar="P",
                       help="symmetric readout flip probability at both endpoints")
    group.add_argument("--accidental", type=probability, default=0.0, metavar="W",
                       help="fraction of accidental (white-noise) coincidences")


def noise_from_args(args: argparse.Namespace):  # -> NoiseConfig (import kept lazy)
    """The NoiseConfig the noise options describe."""
    from qentangle.noise import NoiseConfig

    return NoiseConfig(
        depolarizing=args.depolarizing,
        accidental=args.accidental,
        dephasing_a=args.dephasing,
        dephasing_b=args.dephasing,
        amplitude_damping_a=args.amplitude_damping,
        amplitude_damping_b=args.amplitude_damping,
        misalignment_b_deg=args.misalignment,
        readout_a=(args.readout, args.readout),
        readout_b=(args.readout, args.readout),
    )


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` or ``--backend`` (with its own options), and ``--seed``."""
    parser.add_argument("--engine", choices=("exact", "shots", "statevector"), default=None,
                        help="how circuits become outcomes on the simulator (default: exact)")
    parser.add_argument("--backend", default=None, metavar="NAME",
                        help="IBM backend instead of --engine: a fake device (fake_sherbrooke, ...) "
                             "or ibm:NAME")
    parser.add_argument("--qubits", default=None, metavar="I,J",
                        help="on --backend: physical qubits of the pair (default: best pair)")
    parser.add_argument("--yes", action="store_true",
                        help="on --backend: submit to real hardware without asking for confirmation")
    parser.add_argument("--no-mitigation", action="store_true",
                        help="on --backend: skip the readout calibration and report raw values only")
    parser.add_argument("--timeout", type=positive_float, default=None, metavar="S",
                        help="on --backend: give up waiting for the job after S seconds")
    parser.add_argument("--seed", type=seed_int, default=None, help="seed of every generator")


#: Options that only mean something with --backend, by their attribute name.
BACKEND_ONLY = {
    "qubits": "--qubits",
    "yes": "--yes",
    "no_mitigation": "--no-mitigation",
    "timeout": "--timeout",
}


def engine_from_args(args: argparse.Namespace):  # -> Engine
    """The engine the options select: ``--backend NAME`` or ``--engine NAME`` (default exact).

    Backend options without ``--backend``, or ``--engine`` with it, are usage errors
    (ValidationError: one line on stderr, exit status 2) rather than silently ignored.
    """
    given = [flag for attr, flag in BACKEND_ONLY.items() if getattr(args, attr, None) not in (None, False)]
    if getattr(args, "backend", None):
        if args.engine is not None:
            raise ValidationError(
                f"--engine {args.engine} and --backend {args.backend} exclude each other: the backend is "
                "the engine; drop one"
            )
        from qentangle.ibm import backend_engine_from_cli

        return backend_engine_from_cli(args)
    if given:
        raise ValidationError(f"{', '.join(given)}: only with --backend NAME; add --backend or drop them")
    from qentangle.engines import get_engine

    return get_engine(args.engine or "exact")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected a number > 0")
    return value


def _misalignment(text: str) -> float:
    value = _number(text)
    if not -360.0 <= value <= 360.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected -360 <= DEG <= 360")
    return value
