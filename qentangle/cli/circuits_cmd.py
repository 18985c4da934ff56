"""``qentangle circuits export DIR`` / ``qentangle circuits check DIR``: OpenQASM 3 files."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``circuits`` sub-command with its ``export`` and ``check`` actions."""
    parser = subparsers.add_parser(
        "circuits",
        help="export the package's circuits as OpenQASM 3",
        description="Write or verify OpenQASM 3 files of the Bell-state and measurement circuits.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    export = actions.add_parser("export", help="write the .qasm files into DIR")
    export.add_argument("directory", metavar="DIR", help="output folder (created if missing)")
    export.set_defaults(handler=run_export)
    check = actions.add_parser("check", help="verify the .qasm files in DIR match the package")
    check.add_argument("directory", metavar="DIR", help="folder holding the .qasm files")
    check.set_defaults(handler=run_check)


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``qentangle circuits export``."""
    from qentangle.circuits_export import export_circuits

    for path in export_circuits(args.directory):
        print(path)
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Handler of ``qentangle circuits check``: exit 1 when the files are out of date."""
    from qentangle.circuits_export import check_circuits

    problems = check_circuits(args.directory)
    for problem in problems:
        sys.stderr.write(f"qentangle circuits check: {problem}\n")
    if not problems:
        print(f"{args.directory}: all circuits up to date")
    return 1 if problems else 0
