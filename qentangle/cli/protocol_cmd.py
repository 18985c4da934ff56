"""``qentangle e91`` and ``qentangle bbm92``: key distribution between two endpoints."""

from __future__ import annotations

import argparse
import sys

from qentangle.cli.common import (
    add_engine_options,
    add_noise_options,
    engine_from_args,
    noise_from_args,
    positive_int,
    print_json,
    probability,
)
from qentangle.errors import ValidationError

EVE_CHOICES = ("intercept-resend", "probe", "fake-source")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``e91`` and ``bbm92`` sub-commands."""
    e91 = subparsers.add_parser("e91", help="E91 key distribution with a CHSH test")
    e91.add_argument("--state", choices=("phi+", "phi-", "psi+", "psi-"), default="phi+")
    e91.add_argument("--s-sigmas", type=_non_negative, default=3.0, metavar="K",
                     help="abort unless S is K standard errors above 2 (default 3)")
    bbm92 = subparsers.add_parser("bbm92", help="BBM92 key distribution")
    bbm92.add_argument("--state", choices=("phi+", "phi-", "psi+", "psi-"), default="phi+")
    bbm92.add_argument("--p-z", type=probability, default=0.5, metavar="P",
                       help="probability of measuring Z at each endpoint, 0 < P < 1 (default 0.5)")
    for parser, protocol in ((e91, "e91"), (bbm92, "bbm92")):
        parser.add_argument("--pairs", type=positive_int, default=1_000_000, metavar="N",
                            help="entangled pairs distributed (default 1e6)")
        add_noise_options(parser)
        eve = parser.add_argument_group("eavesdropper")
        eve.add_argument("--eve", choices=EVE_CHOICES, default=None)
        eve.add_argument("--eve-fraction", type=probability, default=None, metavar="F",
                         help="intercepted fraction, or probe strength as a fraction of pi "
                              "(default 1; not for fake-source)")
        eve.add_argument("--eve-arm", choices=("alice", "bob", "both"), default=None,
                         help="attacked arm (default bob; not for fake-source)")
        key = parser.add_argument_group("key distillation")
        key.add_argument("--ec", choices=("cascade", "ldpc"), default="cascade")
        key.add_argument("--eps-sec", type=probability, default=1e-10)
        key.add_argument("--eps-cor", type=probability, default=1e-15)
        key.add_argument("--sample-fraction", type=probability, default=0.1, metavar="F",
                         help="fraction of sifted bits disclosed for QBER estimation")
        key.add_argument("--qber-abort", type=probability, default=0.11, metavar="Q",
                         help="abort when the QBER upper bound exceeds Q (default 0.11)")
        key.add_argument("--no-distill", action="store_true", help="stop after estimation")
        add_engine_options(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(handler=_run, protocol=protocol)


def _run(args: argparse.Namespace) -> int:
    from qentangle.protocols.attacks import make_attack
    from qentangle.protocols.keying import KeyOptions
    from qentangle.report import protocol_report

    attacks = ()
    given = [name for name in ("eve_fraction", "eve_arm") if getattr(args, name) is not None]
    if given and args.eve in (None, "fake-source"):
        options = " and ".join("--" + name.replace("_", "-") for name in given)
        target = "without --eve" if args.eve is None else "with --eve fake-source (it replaces the source)"
        raise ValidationError(f"{options} cannot be used {target}: give --eve intercept-resend or probe")
    if args.eve:
        fraction = 1.0 if args.eve_fraction is None else args.eve_fraction
        attacks = (make_attack(args.eve, fraction=fraction, arm=args.eve_arm or "bob"),)
    options = KeyOptions(
        sample_fraction=args.sample_fraction, qber_abort=args.qber_abort, ec=args.ec,
        eps_sec=args.eps_sec, eps_cor=args.eps_cor, distill=not args.no_distill,
    )
    common = dict(
        state=args.state, noise=noise_from_args(args), attacks=attacks,
        engine=engine_from_args(args), seed=args.seed, key_options=options,
        progress=None if sys.stderr.isatty() else False,
    )
    if args.protocol == "e91":
        from qentangle.protocols.e91 import run_e91

        result = run_e91(args.pairs, s_sigmas=args.s_sigmas, **common)
    else:
        from qentangle.protocols.bbm92 import run_bbm92

        result = run_bbm92(args.pairs, p_z=args.p_z, **common)
    data = result.to_dict()
    if args.json:
        print_json(data)
    else:
        print(protocol_report(data))
    return 0


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected 0 <= K <= 100")
    return value
