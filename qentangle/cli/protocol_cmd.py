"""``qentangle e91`` and ``qentangle bbm92``: key distribution between two endpoints."""

from __future__ import annotations

import argparse

from qentangle.cli.backend_options import add_record_outcomes_option
from qentangle.cli.common import (
    EXIT_ABORTED,
    add_engine_options,
    add_noise_options,
    engine_from_args,
    noise_from_args,
    path_arg,
    prepare_out_dir,
    print_json,
    write_key_set,
    write_sifted_set,
)
from qentangle.errors import ValidationError
from qentangle.params import Param

_DESCRIPTION = {
    "e91": (
        "E91 (Ekert 1991) between two endpoints that own their data: Alice measures at 0, pi/4, pi/2 "
        "and Bob at pi/4, pi/2, 3pi/4 (Bloch angles); equal angles give key bits, the other four "
        "setting pairs a CHSH test. The run aborts unless S is --s-sigmas standard errors above 2, "
        "or when the QBER upper bound exceeds --qber-abort; then distils the key (error correction, "
        "verification, privacy amplification with finite-key security)."
    ),
    "bbm92": (
        "BBM92 (Bennett, Brassard, Mermin 1992) between two endpoints that own their data: each "
        "measures Z with probability --p-z and X otherwise; matching bases are kept, one basis's "
        "errors bound the other's phase errors. The run aborts when the QBER upper bound exceeds "
        "--qber-abort; then distils the key (error correction, verification, privacy amplification "
        "with finite-key security)."
    ),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``e91`` and ``bbm92`` sub-commands."""
    from qentangle.distill.chain import EC_METHODS, EPS_COR, EPS_SEC
    from qentangle.protocols.attacks import ARMS, ATTACKS
    from qentangle.protocols.bbm92 import P_Z
    from qentangle.protocols.e91 import S_SIGMAS
    from qentangle.protocols.keying import QBER_ABORT, SAMPLE_FRACTION
    from qentangle.protocols.session import PAIRS
    from qentangle.states import BELL_STATES

    e91 = subparsers.add_parser("e91", help="E91 key distribution with a CHSH test",
                                description=_DESCRIPTION["e91"])
    bbm92 = subparsers.add_parser("bbm92", help="BBM92 key distribution", description=_DESCRIPTION["bbm92"])
    S_SIGMAS.add_to(e91)
    P_Z.add_to(bbm92)
    for parser, protocol in ((e91, "e91"), (bbm92, "bbm92")):
        parser.add_argument("--state", choices=BELL_STATES, default="phi+",
                            help="Bell state the source emits (default: phi+)")
        PAIRS.add_to(parser)
        add_noise_options(parser)
        eve = parser.add_argument_group("eavesdropper")
        eve.add_argument("--eve", choices=ATTACKS, default=None,
                         help="attack: intercept-resend, probe (entangling) or fake-source "
                              "(default: none)")
        eve.add_argument("--eve-fraction", type=_EVE_FRACTION.parse, default=None, metavar="F",
                         help=_EVE_FRACTION.help_text(default="1") + "; not for fake-source")
        eve.add_argument("--eve-arm", choices=ARMS, default=None,
                         help="attacked arm (default: bob; not for fake-source)")
        key = parser.add_argument_group("key distillation")
        key.add_argument("--ec", choices=EC_METHODS, default="cascade",
                         help="error correction (default: cascade)")
        EPS_SEC.add_to(key)
        EPS_COR.add_to(key)
        SAMPLE_FRACTION.add_to(key)
        QBER_ABORT.add_to(key)
        key.add_argument("--no-distill", action="store_true",
                         help="stop after estimation (default: distil the key)")
        add_engine_options(parser)
        add_record_outcomes_option(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
        parser.add_argument("--out", type=path_arg, default=None, metavar="DIR",
                            help="write the final keys (DIR/alice.key, DIR/bob.key: 0/1 text, mode 0600) "
                                 "and DIR/report.json, as one set (default: write nothing)")
        if protocol == "bbm92":
            parser.add_argument(
                "--export-sifted", type=path_arg, default=None, metavar="DIR",
                help="also write both endpoints' raw sifted bits (DIR/alice.npy, DIR/bob.npy) and "
                     "their public bases (DIR/bases.npy, 0 = Z, 1 = X), mode 0600, as one set: the "
                     "input of `qentangle distill DIR/alice.npy DIR/bob.npy --bases DIR/bases.npy`. "
                     "They are key material (default: write nothing)",
            )
        parser.set_defaults(handler=_run, protocol=protocol)


_EVE_FRACTION = Param("eve_fraction", float, low=0.0, high=1.0, metavar="F",
                      help="intercepted fraction, or probe strength as a fraction of pi")


def _run(args: argparse.Namespace) -> int:
    from qentangle.protocols.attacks import make_attack

    export = getattr(args, "export_sifted", None)
    for folder in (args.out, export):
        if folder is not None:
            prepare_out_dir(folder, option="--out" if folder is args.out else "--export-sifted")
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
        progress=None,  # qentangle --progress (progress.configure) decides
    )
    if args.protocol == "e91":
        from qentangle.protocols.e91 import run_e91

        result = run_e91(args.pairs, s_sigmas=args.s_sigmas, **common)
    else:
        from qentangle.protocols.bbm92 import run_bbm92

        result = run_bbm92(args.pairs, p_z=args.p_z, keep_sifted=export is not None, **common)
    data = result.to_dict()
    if export is not None:
        data.update(write_sifted_set(export, result.sifted))
    if args.out is not None:
        chain = result.key.distillation
        keys = None
        if not result.aborted and chain is not None and chain.alice_key is not None:
            keys = [chain.alice_key, chain.bob_key]
        data.update(write_key_set(args.out, keys, data))
    if args.json:
        print_json(data)
    else:
        print(protocol_report(data))
    return EXIT_ABORTED if result.aborted else 0
