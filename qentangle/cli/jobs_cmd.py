"""``qentangle jobs``: list recorded backend jobs and rebuild a result from one.

Example::

    qentangle jobs list
    qentangle jobs fetch 3caa4f6b-d385-432e-834a-141e0684cd9f --json

Local (fake-device) jobs are rebuilt from the counts stored in the record (correlators, S,
QBER); jobs on IBM hardware are fetched through QiskitRuntimeService (credentials from the
environment or the saved account). A key is never rebuilt: it needs every round's outcomes,
which the record keeps only when the run was given ``--record-outcomes``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qentangle.cli import common


def register(subparsers: Any) -> None:
    """Add the ``jobs`` sub-command with ``list`` and ``fetch``."""
    parser = subparsers.add_parser(
        "jobs",
        help="list backend jobs and rebuild their results",
        description="Backend jobs recorded in $QENTANGLE_HOME/jobs.jsonl (default ~/.qentangle).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    listing = actions.add_parser("list", help="recorded jobs, oldest first")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=run_list)
    fetch = actions.add_parser("fetch", help="rebuild the result of a recorded job")
    fetch.add_argument("job_id", metavar="JOB_ID")
    fetch.add_argument(
        "--timeout",
        type=common.positive_float,
        default=None,
        metavar="S",
        help="seconds to wait for a hardware job still running",
    )
    fetch.add_argument("--json", action="store_true", help="print one JSON object")
    fetch.set_defaults(handler=run_fetch)


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``qentangle jobs list``."""
    from qentangle.ibm.jobs import list_jobs, record_path

    jobs = list_jobs()
    if args.json:
        common.print_json({"record": str(record_path()), "jobs": jobs})
        return 0
    if not jobs:
        sys.stdout.write(f"no jobs recorded in {record_path()}\n")
        return 0
    for job in jobs:
        qubits = ",".join(map(str, job.get("qubits", [])))
        sys.stdout.write(
            f"{job['job_id']}  {job.get('time', '?'):20}  {job.get('backend', '?'):18}  "
            f"qubits {qubits:8}  {job.get('status', '?')}\n"
        )
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Handler of ``qentangle jobs fetch JOB_ID``."""
    from qentangle.ibm.jobs import fetch

    result = fetch(args.job_id, timeout=args.timeout)
    data = result.to_dict()
    if args.json:
        common.print_json({**data, "key": KEY_NOT_REBUILT} if result.qber_raw else data)
        return 0
    out = sys.stdout
    out.write(
        f"job {result.job_id} on {result.backend} ({result.kind}), qubits {result.qubits}, "
        f"state {result.state}, rebuilt from the {result.source}\n"
    )
    for (a, b), counts, e_raw, e in zip(result.pairs, result.counts, result.E_raw, result.E, strict=True):
        out.write(f"  a={a:.4f} b={b:.4f}  counts {list(counts)}  E_raw {e_raw:+.4f}  E {e:+.4f}\n")
    if result.S is not None:
        out.write(
            f"  S_raw {result.S_raw:.4f}  S {result.S:.4f} ({'mitigated' if result.mitigated else 'raw'})\n"
        )
    for basis, raw in result.qber_raw.items():
        mitigated = result.qber_mitigated.get(basis)
        extra = f", mitigated {mitigated:.4f}" if mitigated is not None else ""
        out.write(f"  QBER {basis}: raw {raw:.4f}{extra}\n")
    for key, kind in (("predicted_S", "raw"), ("predicted_S_mitigated", "mitigated")):
        if data.get(key) is not None and result.S is not None:
            low, high = data[f"{key}_band"]
            out.write(f"  predicted S ({kind}) {data[key]:.4f} (band {low:.4f}..{high:.4f})\n")
    if result.qber_raw:
        out.write(f"  key: {KEY_NOT_REBUILT}\n")
    return 0


#: The one line ``jobs fetch`` prints for a job with key (same-basis) setting pairs.
KEY_NOT_REBUILT = (
    "not rebuilt: a key needs each round's outcomes, and counts (all the record keeps unless the "
    "run had --record-outcomes) cannot give them"
)
