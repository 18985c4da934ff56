"""``qentangle sae send`` / ``qentangle sae receive``: a secure-message application on QKD keys.

``send`` takes one fresh 256-bit key from the sender's KME (``enc_keys``: the sender is the
master SAE), encrypts the file with AES-256-GCM and writes a self-describing JSON envelope (key
IDs, nonce, ciphertext, tag). ``receive`` fetches the same key by its ID from the receiver's KME
(``dec_keys``), which hands each key out once, and decrypts. A key is never used twice.

Exit status: 0 done; 1 the envelope failed authentication (altered, or not meant for this key:
a security result, like a protocol abort; the key it named is used up); 2 bad input (a missing
file, a malformed envelope, an unknown SAE, a KME refusal, which is printed as one line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``qentangle sae send`` and ``qentangle sae receive``."""
    parser = subparsers.add_parser(
        "sae",
        help="send and receive files encrypted under QKD keys from the KMEs (AES-256-GCM)",
        description=__doc__.split("\n\n", 1)[1],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    send = actions.add_parser(
        "send",
        help="encrypt FILE for another SAE with a fresh key from the sender's KME",
    )
    send.add_argument("file", metavar="FILE", type=Path, help="the file to send ('-' reads standard input)")
    send.add_argument("--network", required=True, type=Path, metavar="DIR", help="the network directory")
    send.add_argument("--from", dest="sender", required=True, metavar="SAE", help="the sending SAE (master)")
    send.add_argument("--to", dest="receiver", required=True, metavar="SAE", help="the receiving SAE (slave)")
    send.add_argument(
        "--out",
        type=Path,
        metavar="ENVELOPE",
        help="where to write the envelope (none: FILE.envelope.json)",
    )
    send.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    send.set_defaults(handler=run_send)
    receive = actions.add_parser(
        "receive",
        help="decrypt an ENVELOPE with the key fetched by ID from the receiver's KME",
    )
    receive.add_argument("envelope", metavar="ENVELOPE", type=Path, help="the envelope written by send")
    receive.add_argument("--network", required=True, type=Path, metavar="DIR", help="the network directory")
    receive.add_argument(
        "--as", dest="receiver", required=True, metavar="SAE", help="the receiving SAE (slave)"
    )
    receive.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the message, mode 0600 (none: standard output)",
    )
    receive.add_argument("--json", action="store_true", help="print a JSON summary on stderr")
    receive.set_defaults(handler=run_receive)


def run_send(args: argparse.Namespace) -> int:
    """Handler of ``qentangle sae send``."""
    from qentangle.cli.common import print_json
    from qentangle.files import read_bytes, write_atomic
    from qentangle.kme.messages import dump, send_message

    message = sys.stdin.buffer.read() if str(args.file) == "-" else read_bytes(args.file, label="FILE")
    out = args.out or Path(f"{'message' if str(args.file) == '-' else args.file}.envelope.json")
    envelope = send_message(args.network, args.sender, args.receiver, message)
    write_atomic(out, dump(envelope))
    key_ids = list(envelope.key_ids)
    summary = {
        "envelope": str(out),
        "bytes": len(message),
        "key_IDs": key_ids,
        "from": args.sender,
        "to": args.receiver,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"{out}: {len(message)} bytes for {args.receiver}, AES-256-GCM under QKD key {key_ids[0]}")
    return 0


def run_receive(args: argparse.Namespace) -> int:
    """Handler of ``qentangle sae receive``."""
    import json

    from qentangle.errors import AuthenticationError
    from qentangle.files import read_bytes, write_atomic
    from qentangle.kme.messages import parse, receive_message

    envelope = parse(read_bytes(args.envelope, label="ENVELOPE"), name=f"ENVELOPE={str(args.envelope)!r}")
    try:
        message = receive_message(args.network, args.receiver, envelope)
    except AuthenticationError as error:
        sys.stderr.write(f"qentangle sae receive: refused: {error}\n")
        return 1
    if args.out is None:
        sys.stdout.buffer.write(message)
        sys.stdout.buffer.flush()
    else:
        write_atomic(args.out, message, mode=0o600)
    summary = {"bytes": len(message), "from": envelope.sender, "key_IDs": list(envelope.key_ids)}
    if args.json:
        sys.stderr.write(json.dumps(summary) + "\n")
    elif args.out is not None:
        print(f"{args.out}: {len(message)} bytes from {envelope.sender}, authenticated")
    return 0
