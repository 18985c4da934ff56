"""qentangle distill ALICE BOB: distil two files of raw sifted bits into final keys.

Inputs are 1-D .npy arrays of 0/1 or text files of 0/1 characters (whitespace ignored),
regular files only (not devices or pipes). They are read and distilled in blocks of at most
2^22 bits, as the protocols do: each of B blocks gets eps_sec/B and eps_cor/B, so memory stays
bounded whatever the file size. With --out DIR the final keys are written to DIR/alice.key and
DIR/bob.key (one 0/1 character per bit, mode 0600) next to DIR/report.json, the three as one
set: an interrupted run leaves the complete old set or the complete new one, never a mix and
never a temporary file; an aborted run removes the keys of an earlier run there, so the folder
never pairs old keys with a new report. Key bits are never printed.

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
import math
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.channel import ClassicalChannel
from qentangle.cli.common import (
    EXIT_ABORTED,
    path_arg,
    positive_int,
    prepare_out_dir,
    print_json,
    probability,
    seed_int,
    write_key_set,
)
from qentangle.distill.chain import EC_METHODS, EPS_COR, EPS_SEC, MAX_QBER, distill, distill_two_basis
from qentangle.errors import ValidationError
from qentangle.files import check_regular_file, file_error, open_binary
from qentangle.progress import progress_bar
from qentangle.rng import party_streams

BLOCK_BITS = 1 << 22  # the protocols' block size (qentangle.protocols.keying.DEFAULT_BLOCK_BITS)
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
    parser.add_argument("alice", type=path_arg, help="Alice's sifted bits (.npy or text of 0/1)")
    parser.add_argument("bob", type=path_arg, help="Bob's sifted bits (.npy or text of 0/1)")
    parser.add_argument(
        "--bases", type=path_arg, default=None, metavar="FILE",
        help="public basis of each sifted bit (0 = Z, 1 = X; .npy or text): every bit is key and "
        "each basis's bit errors bound the other's phase errors (no basis-symmetry assumption)",
    )
    parser.add_argument("--ec", choices=EC_METHODS, default="cascade", help="error correction")
    EPS_SEC.add_to(parser)
    EPS_COR.add_to(parser)
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
    MAX_QBER.add_to(parser)
    parser.add_argument("--frame-bits", type=positive_int, default=None, help="LDPC frame size")
    parser.add_argument("--seed", type=seed_int, default=None, help="seed (default: OS entropy)")
    parser.add_argument("--out", type=path_arg, default=None, help="directory for keys and report")
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.set_defaults(handler=run)


def read_bits(path: Path, name: str) -> np.ndarray:
    """Read a whole 1-D array of bits from ``.npy`` or a text file of 0/1 (whitespace ignored)."""
    source = BitFile(path, name)
    return source.block(0, source.size)


class BitFile:
    """A file of bits read in blocks: ``.npy`` (memory-mapped) or text of 0/1 characters.

    Opening checks that the path is a regular file and finds the number of bits (``size``) in
    one streamed pass for text; :meth:`block` reads bits ``[start, stop)``.
    """

    READ_BYTES = 1 << 24

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        check_regular_file(path, name)
        self._array: np.ndarray | None = None
        self._offsets: list[tuple[int, int]] = []  # text: (bit index, byte offset) checkpoints
        if path.suffix == ".npy":
            self._array = self._open_npy()
            self.size = int(self._array.shape[0])
        else:
            self.size = self._scan_text()

    def _open_npy(self) -> np.ndarray:
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            if isinstance(error, PermissionError):
                raise file_error(self.path, "read", error, self.name) from error
            raise ValidationError(f"{self.name}={str(self.path)!r} is not a valid .npy file") from error
        if not isinstance(array, np.ndarray) or array.ndim != 1:
            shape = getattr(array, "shape", None)
            raise ValidationError(
                f"{self.name}={str(self.path)!r} holds an array of shape {shape}: "
                "expected a 1-D array of bits"
            )
        if array.size and array.dtype.kind not in "biuf":
            raise ValidationError(f"{self.name}={str(self.path)!r} must contain only bits 0 and 1")
        return array

    def _scan_text(self) -> int:
        count = 0
        with open_binary(self.path, label=self.name) as handle:
            while True:
                offset = handle.tell()
                try:
                    chunk = handle.read(self.READ_BYTES)
                except OSError as error:
                    raise file_error(self.path, "read", error, self.name) from error
                if not chunk:
                    return count
                self._offsets.append((count, offset))
                count += self._text_bits(chunk).size

    def _text_bits(self, chunk: bytes) -> np.ndarray:
        data = np.frombuffer(chunk, dtype=np.uint8)
        data = data[~np.isin(data, _WHITESPACE)]
        if data.size and not np.all((data == ord("0")) | (data == ord("1"))):
            raise ValidationError(
                f"{self.name}={str(self.path)!r} must contain only the characters 0 and 1 (and whitespace)"
            )
        return data - ord("0")

    def block(self, start: int, stop: int) -> np.ndarray:
        """Bits ``[start, stop)`` as a ``uint8`` array."""
        if self._array is not None:
            part = np.asarray(self._array[start:stop])
            if part.size and not np.all((part == 0) | (part == 1)):
                raise ValidationError(f"{self.name}={str(self.path)!r} must contain only bits 0 and 1")
            return part.astype(np.uint8)
        first = max(i for i, (bit, _) in enumerate(self._offsets) if bit <= start) if self._offsets else 0
        parts = []
        with open_binary(self.path, label=self.name) as handle:
            for bit, offset in self._offsets[first:]:
                if bit >= stop:
                    break
                handle.seek(offset)
                bits = self._text_bits(handle.read(self.READ_BYTES))
                lo, hi = max(start - bit, 0), min(stop - bit, bits.size)
                if hi > lo:
                    parts.append(bits[lo:hi])
        return np.concatenate(parts).astype(np.uint8) if parts else np.zeros(0, dtype=np.uint8)


_WHITESPACE = np.frombuffer(b" \t\r\n\f\v", dtype=np.uint8)


def run(args: argparse.Namespace) -> int:
    """Handler of ``qentangle distill``."""
    if args.bases is not None and args.sample_fraction is not None:
        raise ValidationError("--sample-fraction is not used with --bases: no sample is disclosed")
    if args.bases is None and args.qber_hint is not None:
        raise ValidationError("--qber-hint needs --bases (otherwise the disclosed sample sets it)")
    if args.frame_bits is not None and args.ec != "ldpc":
        raise ValidationError(f"--frame-bits is an LDPC setting: it needs --ec ldpc (not --ec {args.ec})")
    alice = BitFile(args.alice, "ALICE")
    bob = BitFile(args.bob, "BOB")
    bases = None if args.bases is None else BitFile(args.bases, "--bases")
    for other in (bob, bases):
        if other is not None and other.size != alice.size:
            raise ValidationError(
                f"{other.name}={str(other.path)!r} holds {other.size} bits and ALICE={str(alice.path)!r} "
                f"{alice.size}: expected the same number of bits"
            )
    if args.out is not None:
        prepare_out_dir(args.out)
    streams = party_streams(args.seed)
    rng_alice, rng_bob = streams.alice, streams.bob
    channel = ClassicalChannel.with_random_key(streams.channel, nbytes=1 << 22)
    blocks = max(1, math.ceil(alice.size / BLOCK_BITS))
    common = dict(
        ec=args.ec, eps_sec=args.eps_sec / blocks, eps_cor=args.eps_cor / blocks, bound=args.bound,
        max_qber=args.max_qber, rng_alice=rng_alice, ldpc_frame_bits=args.frame_bits,
    )
    results = []
    with progress_bar(blocks, progress=None, label="distil", unit="block") as bar:
        for index in range(blocks):
            start, stop = alice.size * index // blocks, alice.size * (index + 1) // blocks
            a, b = alice.block(start, stop), bob.block(start, stop)
            if bases is None:
                fraction = DEFAULT_SAMPLE_FRACTION if args.sample_fraction is None else args.sample_fraction
                result = distill(a, b, channel, sample_fraction=fraction, rng_bob=rng_bob, **common)
            else:
                hint = DEFAULT_QBER_HINT if args.qber_hint is None else args.qber_hint
                result = distill_two_basis(a, b, bases.block(start, stop), channel, qber_hint=hint, **common)
            results.append(result)
            bar.update(1)
            if result.aborted:
                break
    report = _combined_report(results, blocks, args.eps_sec, args.eps_cor)
    report["alice_file"] = str(args.alice)
    report["bob_file"] = str(args.bob)
    if bases is not None:
        report["bases_file"] = str(args.bases)
    aborted = report["aborted"]
    if args.out is not None:
        keys = None if aborted else [np.concatenate([r.alice_key for r in results]),
                                     np.concatenate([r.bob_key for r in results])]
        report.update(write_key_set(args.out, keys, report))
    if args.json:
        print_json(report)
    else:
        status = f"aborted: {report['abort_reason']}" if aborted else "ok"
        print(
            f"distill {status}: {report['final_key_bits']} final key bits from "
            f"{report['sifted_bits']} sifted bits in {blocks} block(s) (leaked {report['leaked_bits']}, "
            f"ec={report['ec_method']}, eps_sec={args.eps_sec:g}, eps_cor={args.eps_cor:g})"
        )
    return EXIT_ABORTED if aborted else 0


#: Report fields that add up over blocks.
_SUMMED = (
    "sifted_bits", "sample_bits", "reconciled_bits", "final_key_bits", "ec_leaked_bits",
    "verification_bits", "leaked_bits", "corrected_bits", "discarded_bits", "asymptotic_key_bits",
    "finite_key_bits", "auth_key_bits_used", "messages",
)


def _combined_report(results: list, blocks: int, eps_sec: float, eps_cor: float) -> dict[str, Any]:
    """One block: its report. Several: totals, worst bounds, and each block's report."""
    reports = [result.to_dict() for result in results]
    if blocks == 1:
        return reports[0]
    report = dict(reports[-1])
    for key in _SUMMED:
        if key in report:
            report[key] = sum(r.get(key) or 0 for r in reports)
    for key in ("qber_estimate", "phase_error_estimate"):
        weighted = [(r[key], r.get("sample_bits") or r.get("sifted_bits") or 0) for r in reports
                    if r.get(key) is not None]
        total = sum(weight for _, weight in weighted)
        report[key] = sum(value * weight for value, weight in weighted) / total if total else None
    for key in ("qber_upper_bound", "phase_error_bound"):
        values = [r[key] for r in reports if r.get(key) is not None]
        report[key] = max(values) if values else None
    aborted = [r for r in reports if r["aborted"]]
    report["aborted"] = bool(aborted)
    report["abort_reason"] = (
        f"block {len(reports)} of {blocks}: {aborted[0]['abort_reason']}" if aborted else None
    )
    report["keys_match"] = all(r.get("keys_match") for r in reports) if not aborted else None
    if not aborted:
        fed = sum((r.get("sifted_bits") or 0) for r in reports)
        report["secret_fraction"] = report["final_key_bits"] / fed if fed else 0.0
    report.update(eps_sec=eps_sec, eps_cor=eps_cor, blocks=blocks, block_bits=BLOCK_BITS,
                  block_reports=reports)
    return report
