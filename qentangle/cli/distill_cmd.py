"""qentangle distill ALICE BOB: distil two files of raw sifted bits into final keys.

Inputs are 1-D .npy arrays of 0/1 or text files of 0/1 characters (whitespace ignored).
With --out DIR the final keys are written to DIR/alice.key and DIR/bob.key (one 0/1
character per bit, mode 0600, written atomically) next to DIR/report.json; an aborted run
removes the alice.key and bob.key of an earlier run there, so the folder never pairs old keys
with a new report. Key bits are never printed.

Phase error. Without --bases, a random sample of the key (--sample-fraction) is disclosed
and its error rate also bounds the phase error of the key. That is an assumption of basis
symmetry (the key bits would show the same error rate in the conjugate basis): it holds for a
symmetric source and channel, but for real data nothing measured supports it. With
--bases FILE (the public basis of every sifted bit, 0 = Z and 1 = X, in the format of ALICE),
every bit is key and the bit errors that error correction finds in each basis bound the phase
errors of the other basis: a measured bound, valid when each round's basis was chosen at
random.
"""

from __future__ import annotations

import argparse
import stat
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.cli.common import positive_int, print_json, probability, seed_int
from qentangle.distill.chain import EC_METHODS, distill, distill_two_basis
from qentangle.errors import QentangleError, ValidationError
from qentangle.files import file_error, open_binary, read_bytes, remove_file, write_private
from qentangle.jsonout import dumps
from qentangle.rng import party_streams

KEY_FILES = ("alice.key", "bob.key")
DEFAULT_SAMPLE_FRACTION = 0.1
DEFAULT_QBER_HINT = 0.05


def register(subparsers: Any) -> None:
    """Add the ``distill`` sub-command."""
    parser = subparsers.add_parser(
        "distill",
        help="distil two files of sifted bits into final secret keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("alice", type=Path, help="Alice's sifted bits (.npy or text of 0/1)")
    parser.add_argument("bob", type=Path, help="Bob's sifted bits (.npy or text of 0/1)")
    parser.add_argument(
        "--bases", type=Path, default=None, metavar="FILE",
        help="public basis of each sifted bit (0 = Z, 1 = X; .npy or text): every bit is key and "
        "each basis's bit errors bound the other's phase errors (no basis-symmetry assumption)",
    )
    parser.add_argument("--ec", choices=EC_METHODS, default="cascade", help="error correction")
    parser.add_argument("--eps-sec", type=probability, default=1e-10, help="secrecy epsilon")
    parser.add_argument("--eps-cor", type=probability, default=1e-15, help="correctness epsilon")
    parser.add_argument(
        "--sample-fraction", type=probability, default=None,
        help="fraction of the sifted key disclosed to estimate the QBER and, by basis symmetry, "
        f"the phase error (default {DEFAULT_SAMPLE_FRACTION}; not with --bases)",
    )
    parser.add_argument(
        "--qber-hint", type=probability, default=None,
        help=f"with --bases: QBER that tunes error correction (default {DEFAULT_QBER_HINT})",
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
    """Read a 1-D array of bits from ``.npy`` or a text file of 0/1 (whitespace ignored)."""
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except FileNotFoundError:
        raise ValidationError(f"{name}={str(path)!r} does not exist") from None
    except OSError as error:
        raise file_error(path, "read", error, name) from error
    if is_dir:
        raise ValidationError(f"{name}={str(path)!r} is a directory: expected a file of bits")
    if path.suffix == ".npy":
        with open_binary(path, label=name) as handle:
            try:
                array = np.load(handle, allow_pickle=False)
            except (ValueError, OSError, EOFError) as error:
                raise ValidationError(f"{name}={str(path)!r} is not a valid .npy file") from error
        if not isinstance(array, np.ndarray) or array.ndim != 1:
            shape = getattr(array, "shape", None)
            raise ValidationError(
                f"{name}={str(path)!r} holds an array of shape {shape}: expected a 1-D array of bits"
            )
        if array.size and (array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1))):
            raise ValidationError(f"{name}={str(path)!r} must contain only bits 0 and 1")
        return array.astype(np.uint8)
    data = np.frombuffer(read_bytes(path, label=name), dtype=np.uint8)
    data = data[~np.isin(data, np.frombuffer(b" \t\r\n\f\v", dtype=np.uint8))]
    if data.size and not np.all((data == ord("0")) | (data == ord("1"))):
        raise ValidationError(
            f"{name}={str(path)!r} must contain only the characters 0 and 1 (and whitespace)"
        )
    return (data - ord("0")).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    """Handler of ``qentangle distill``."""
    if args.bases is not None and args.sample_fraction is not None:
        raise ValidationError("--sample-fraction is not used with --bases: no sample is disclosed")
    if args.bases is None and args.qber_hint is not None:
        raise ValidationError("--qber-hint needs --bases (otherwise the disclosed sample sets it)")
    alice = read_bits(args.alice, "ALICE")
    bob = read_bits(args.bob, "BOB")
    bases = None if args.bases is None else read_bits(args.bases, "--bases")
    if args.out is not None:
        _prepare_out(args.out)
    streams = party_streams(args.seed)  # the one seed layout (qentangle.rng)
    rng_channel, rng_alice, rng_bob = streams.channel, streams.alice, streams.bob
    channel = ClassicalChannel.with_random_key(rng_channel, nbytes=1 << 22)
    common = dict(
        ec=args.ec, eps_sec=args.eps_sec, eps_cor=args.eps_cor, bound=args.bound,
        max_qber=args.max_qber, rng_alice=rng_alice, ldpc_frame_bits=args.frame_bits,
    )
    if bases is None:
        fraction = DEFAULT_SAMPLE_FRACTION if args.sample_fraction is None else args.sample_fraction
        result = distill(alice, bob, channel, sample_fraction=fraction, rng_bob=rng_bob, **common)
    else:
        hint = DEFAULT_QBER_HINT if args.qber_hint is None else args.qber_hint
        result = distill_two_basis(alice, bob, bases, channel, qber_hint=hint, **common)
    report = result.to_dict()
    report["alice_file"] = str(args.alice)
    report["bob_file"] = str(args.bob)
    if bases is not None:
        report["bases_file"] = str(args.bases)
    if args.out is not None:
        report.update(_write_outputs(args.out, result, report))
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


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValidationError(f"--out={str(out)!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise QentangleError(f"--out={str(out)!r} cannot be created: {error.strerror}") from None


def _write_outputs(out: Path, result: Any, report: dict[str, Any]) -> dict[str, str]:
    """Write both keys (or remove stale ones on abort), then the report; return file fields."""
    paths = [out / name for name in KEY_FILES]
    fields: dict[str, str] = {}
    if result.aborted:
        for path in paths:  # an earlier run's keys must not sit next to this report
            remove_file(path)
    else:
        try:
            for path, bits in zip(paths, (result.alice_key, result.bob_key), strict=True):
                write_private(path, _key_text(bits))
        except QentangleError:
            for path in paths:  # never leave one new key beside an old one
                remove_file(path)
            raise
        fields = {"alice_key_file": str(paths[0]), "bob_key_file": str(paths[1])}
    text = dumps({**report, **fields}, indent=2) + "\n"
    write_private(out / "report.json", text.encode())
    return fields


def _key_text(bits: np.ndarray) -> bytes:
    return (bits.astype(np.uint8) + ord("0")).tobytes() + b"\n"
