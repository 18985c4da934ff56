"""``qentangle distill ALICE BOB``: distil two files of raw sifted bits into final keys.

Inputs are ``.npy`` arrays of 0/1 or text files of ``0``/``1`` characters (whitespace
ignored). With ``--out DIR`` the final keys are written to ``DIR/alice.key`` and
``DIR/bob.key`` (one ``0``/``1`` character per bit, mode 0600, written atomically) next to
``DIR/report.json``. Key bits are never printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.cli.common import json_default, positive_int, print_json, probability, seed_int
from qentangle.distill.chain import EC_METHODS, distill
from qentangle.errors import QentangleError, ValidationError
from qentangle.files import write_private
from qentangle.rng import spawn_generators


def register(subparsers: Any) -> None:
    """Add the ``distill`` sub-command."""
    parser = subparsers.add_parser(
        "distill",
        help="distil two files of sifted bits into final secret keys",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("alice", type=Path, help="Alice's sifted bits (.npy or text of 0/1)")
    parser.add_argument("bob", type=Path, help="Bob's sifted bits (.npy or text of 0/1)")
    parser.add_argument("--ec", choices=EC_METHODS, default="cascade", help="error correction")
    parser.add_argument("--eps-sec", type=probability, default=1e-10, help="secrecy epsilon")
    parser.add_argument("--eps-cor", type=probability, default=1e-15, help="correctness epsilon")
    parser.add_argument(
        "--sample-fraction", type=probability, default=0.1,
        help="fraction of the sifted key disclosed for QBER estimation (default 0.1)",
    )
    parser.add_argument(
        "--bound", choices=("hypergeometric", "serfling"), default="hypergeometric",
        help="phase-error confidence bound",
    )
    parser.add_argument("--max-qber", type=probability, default=0.11, help="abort above this")
    parser.add_argument("--frame-bits", type=positive_int, default=None, help="LDPC frame size")
    parser.add_argument("--seed", type=seed_int, default=None, help="seed (default: OS entropy)")
    parser.add_argument("--out", type=Path, default=None, help="directory for keys and report")
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.set_defaults(handler=run)


def read_bits(path: Path, name: str) -> np.ndarray:
    """Read sifted bits from ``.npy`` or a text file of 0/1 (whitespace ignored)."""
    if not path.is_file():
        raise ValidationError(f"{name}={str(path)!r} is not a readable file")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValidationError(f"{name}={str(path)!r} is not a valid .npy file") from error
        array = np.asarray(array).ravel()
        if array.size and (array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1))):
            raise ValidationError(f"{name}={str(path)!r} must contain only bits 0 and 1")
        return array.astype(np.uint8)
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    data = data[~np.isin(data, np.frombuffer(b" \t\r\n\f\v", dtype=np.uint8))]
    if data.size and not np.all((data == ord("0")) | (data == ord("1"))):
        raise ValidationError(
            f"{name}={str(path)!r} must contain only the characters 0 and 1 (and whitespace)"
        )
    return (data - ord("0")).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    """Handler of ``qentangle distill``."""
    alice = read_bits(args.alice, "ALICE")
    bob = read_bits(args.bob, "BOB")
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise ValidationError(f"--out={str(args.out)!r} exists and is not a directory")
        try:
            args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise QentangleError(
                f"--out={str(args.out)!r} cannot be created: {error.strerror}"
            ) from None
    rng_channel, rng_alice, rng_bob = spawn_generators(args.seed, 3)
    channel = ClassicalChannel.with_random_key(rng_channel, nbytes=1 << 22)
    result = distill(
        alice, bob, channel, ec=args.ec, eps_sec=args.eps_sec, eps_cor=args.eps_cor,
        sample_fraction=args.sample_fraction, bound=args.bound, max_qber=args.max_qber,
        rng_alice=rng_alice, rng_bob=rng_bob, ldpc_frame_bits=args.frame_bits,
    )
    report = result.to_dict()
    report["alice_file"] = str(args.alice)
    report["bob_file"] = str(args.bob)
    if args.out is not None:
        if not result.aborted:
            write_private(args.out / "alice.key", _key_text(result.alice_key))
            write_private(args.out / "bob.key", _key_text(result.bob_key))
            report["alice_key_file"] = str(args.out / "alice.key")
            report["bob_key_file"] = str(args.out / "bob.key")
        text = json.dumps(report, default=json_default, indent=2) + "\n"
        write_private(args.out / "report.json", text.encode())
    if args.json:
        print_json(report)
    else:
        status = f"aborted: {result.abort_reason}" if result.aborted else "ok"
        print(
            f"distill {status}: {result.final_key_bits} final key bits from "
            f"{result.sifted_bits} sifted bits (leaked {result.leaked_bits}, "
            f"ec={result.ec_method}, eps_sec={result.eps_sec:g}, eps_cor={result.eps_cor:g})"
        )
    return 1 if result.aborted else 0


def _key_text(bits: np.ndarray) -> bytes:
    return (bits.astype(np.uint8) + ord("0")).tobytes() + b"\n"
