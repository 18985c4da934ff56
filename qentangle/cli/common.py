"""Helpers shared by the command modules: typed option parsers and JSON output."""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.cli.exits import (  # noqa: F401  (re-exported for the command modules)
    EXIT_ABORTED,
    EXIT_BAD_INPUT,
    EXIT_CODES_HELP,
    EXIT_DONE,
    EXIT_INTERRUPTED,
)
from qentangle.errors import QentangleError, ValidationError
from qentangle.files import write_set
from qentangle.jsonout import dumps


def probability(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    value = _number(text, "0 <= value <= 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected 0 <= value <= 1")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite float."""
    return _number(text, "a finite number")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (accepts 1e6 style)."""
    value = _number(text, "an integer >= 1")
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected an integer >= 1")
    return int(value)


def seed_int(text: str) -> int:
    """argparse type: a non-negative integer seed."""
    value = _number(text, "an integer >= 0")
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected an integer >= 0")
    return int(value)


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: expected {expected}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite: expected {expected}")
    return value


def print_json(data: dict[str, Any]) -> None:
    """Print one strict JSON object on stdout (NaN/inf become null; see :mod:`qentangle.jsonout`)."""
    sys.stdout.write(dumps(data, indent=2) + "\n")


def add_noise_options(parser: argparse.ArgumentParser) -> None:
    """The noise options shared by ``chsh``, ``e91`` and ``bbm92`` (ranges from qentangle.noise)."""
    from qentangle.noise import (
        ACCIDENTAL,
        AMPLITUDE_DAMPING,
        DEPHASING,
        DEPOLARIZING,
        MISALIGNMENT,
        READOUT,
    )

    group = parser.add_argument_group("noise")
    DEPOLARIZING.add_to(group)
    DEPHASING.add_to(group)
    AMPLITUDE_DAMPING.add_to(group)
    MISALIGNMENT.add_to(group, help="rotation of Bob's polarization")
    READOUT.add_to(group, help="symmetric readout flip probability at both endpoints")
    ACCIDENTAL.add_to(group)


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
    from qentangle.engines import ENGINE_NAMES

    parser.add_argument("--engine", choices=ENGINE_NAMES, default=None,
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
    "record_outcomes": "--record-outcomes",
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
        from qentangle.cli.backend_options import backend_engine_from_cli

        return backend_engine_from_cli(args)
    if given:
        raise ValidationError(f"{', '.join(given)}: only with --backend NAME; add --backend or drop them")
    from qentangle.engines import get_engine

    return get_engine(args.engine or "exact")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = _number(text, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected a number > 0")
    return value


#: Figure formats a ``--plot PATH`` may name by its extension (matplotlib's Agg backend).
FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def check_figure_path(path: str, option: str) -> str:
    """``path`` if it names a figure file with a known extension, else ValidationError (exit 2)."""
    from pathlib import Path

    suffix = Path(path).suffix.lower().lstrip(".")
    if not path.strip() or Path(path).name in ("", ".", ".."):
        raise ValidationError(f"{option}={path!r} is not a file name: expected e.g. chsh.png")
    if suffix not in FIGURE_FORMATS:
        raise ValidationError(
            f"{option}={path!r} has no known figure extension: expected one of "
            f"{', '.join('.' + f for f in FIGURE_FORMATS)}"
        )
    if Path(path).is_dir():
        raise ValidationError(f"{option}={path!r} is a directory: expected a file name")
    return path


KEY_FILES = ("alice.key", "bob.key")


def prepare_out_dir(out: Path, option: str = "--out") -> None:
    """Create the ``option`` folder (mode 0700) or refuse a path that is not a folder."""
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{option}={str(out)!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise QentangleError(f"{option}={str(out)!r} cannot be created: {error.strerror}") from None


def write_sifted_set(out: Path, sifted: Any) -> dict[str, str]:
    """Write a run's :class:`~qentangle.protocols.sifting.SiftedBits` as ``alice.npy``,
    ``bob.npy`` and ``bases.npy`` (0600) in ``out``, as one set; return the report fields."""
    files = {}
    for name in ("alice", "bob", "bases"):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(getattr(sifted, name), dtype=np.uint8), allow_pickle=False)
        files[f"{name}.npy"] = buffer.getvalue()
    write_set(out, files)
    return {"sifted_export_dir": str(out), "sifted_export_bits": len(sifted)}


def write_key_set(out: Path, keys: Sequence[np.ndarray] | None, report: dict[str, Any]) -> dict[str, str]:
    """Write ``alice.key``, ``bob.key`` (0/1 text, 0600) and ``report.json`` into ``out`` as one set.

    ``keys=None`` (an aborted run) removes the keys of an earlier run, so the folder never pairs
    old keys with a new report. Returns the key-file fields added to the report.
    """
    paths = [out / name for name in KEY_FILES]
    fields = {} if keys is None else {"alice_key_file": str(paths[0]), "bob_key_file": str(paths[1])}
    files: dict[str, bytes | None] = dict.fromkeys(KEY_FILES)
    if keys is not None:
        files.update(zip(KEY_FILES, (_key_text(bits) for bits in keys), strict=True))
    files["report.json"] = (dumps({**report, **fields}, indent=2) + "\n").encode()
    write_set(out, files)
    return fields


def _key_text(bits: np.ndarray) -> bytes:
    return (bits.astype(np.uint8) + ord("0")).tobytes() + b"\n"


def path_arg(text: str) -> Path:
    """argparse type: a file or folder path; an empty text is refused (it would mean "here")."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty: expected a path")
    return Path(text)
