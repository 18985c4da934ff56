"""The ``qentangle`` command line: one sub-command per module in this package.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler=function(args) -> int``. Errors a user can fix print one line on stderr and exit
with status 2, never a traceback; so does any ``OSError`` a command did not convert (the file
and the reason, on one line).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from qentangle import __version__
from qentangle.errors import QentangleError

COMMAND_MODULES = (
    "qentangle.cli.chsh_cmd",
    "qentangle.cli.circuits_cmd",
    "qentangle.cli.protocol_cmd",
    "qentangle.cli.distill_cmd",
    "qentangle.cli.pass_cmd",
    "qentangle.cli.jobs_cmd",
)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available sub-command."""
    parser = OneLineParser(
        prog="qentangle",
        description="Entanglement-based QKD (E91, BBM92) and CHSH Bell tests on Qiskit.",
    )
    parser.add_argument("--version", action="version", version=f"qentangle {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qentangle`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except QentangleError as error:
        sys.stderr.write(f"qentangle {args.command}: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"qentangle {args.command}: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (e.g. `| head`): not an error; silence the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        # Backstop: a file error that no command turned into a QentangleError.
        sys.stderr.write(f"qentangle {args.command}: error: {_os_error_line(error)}\n")
        return 2


def _os_error_line(error: OSError) -> str:
    """``reason: 'file'`` on one line, without the errno prefix."""
    reason = error.strerror or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    text = f"{reason}: {' -> '.join(repr(name) for name in names)}" if names else reason
    return " ".join(text.split())


if __name__ == "__main__":
    raise SystemExit(main())
