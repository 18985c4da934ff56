"""qentangle compare [PRESET ...] [--seeds N]: preset figures beside the published ones.

The model column is the link model's deterministic expectation (qentangle.scenarios.compare);
--seeds N adds the mean and standard deviation of N simulated passes (seeds 1..N) of each
preset. "ok" judges the model column; [T] marks a model input tuned to that published figure;
NO* is a documented miss (its note says why).
"""

from __future__ import annotations

import argparse

from qentangle.errors import check_choice
from qentangle.params import Param

SEEDS = Param("seeds", int, low=2, high=1000, default=None, metavar="N",
              help="also simulate N passes (seeds 1..N) and show their mean and standard deviation; "
                   "without it, the model only")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    from qentangle.scenarios.compare import PUBLISHED

    parser = subparsers.add_parser(
        "compare", help="compare the presets' figures with the published Micius figures",
        description=__doc__,
    )
    parser.add_argument("presets", nargs="*", metavar="PRESET",
                        help=f"presets to compare: {', '.join(PUBLISHED)} (default: all)")
    SEEDS.add_to(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``qentangle compare``: print one table per preset."""
    from qentangle.report import comparison_table
    from qentangle.scenarios.compare import PUBLISHED, compare
    from qentangle.scenarios.simulate import seed_spread

    for name in args.presets:
        check_choice("PRESET", name, PUBLISHED)
    for name in args.presets or list(PUBLISHED):
        spread = seed_spread(name, range(1, args.seeds + 1)) if args.seeds else None
        print(comparison_table(name, compare(name, spread=spread)))
        print()
    return 0
