"""The ``qentangle`` command line: one sub-command per module in this package.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler=function(args) -> int``. Errors a user can fix print one line on stderr and exit
with status 2, never a traceback; so does any ``OSError`` a command did not convert (the file
and the reason, on one line). A library ``ValidationError`` about a parameter is printed with
the option as the user typed it (``--eps-sec``), not the Python name.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from qentangle import __version__
from qentangle.cli import running_as_program
from qentangle.cli.exits import (
    EXIT_ABORTED,
    EXIT_BAD_INPUT,
    EXIT_CODES_HELP,
    EXIT_DONE,
    EXIT_INTERRUPTED,
)
from qentangle.errors import ProtocolAbort, QentangleError, ValidationError

COMMAND_MODULES = (
    "qentangle.cli.chsh_cmd",
    "qentangle.cli.circuits_cmd",
    "qentangle.cli.protocol_cmd",
    "qentangle.cli.distill_cmd",
    "qentangle.cli.pass_cmd",
    "qentangle.cli.compare_cmd",
    "qentangle.cli.jobs_cmd",
    "qentangle.cli.plan_cmd",
    "qentangle.cli.kme_cmd",
    "qentangle.cli.sae_cmd",
    "qentangle.cli.network_cmd",
    "qentangle.cli.timetags_cmd",
)




class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written, defaults shown (unless the help already states one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False) or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2.

    Every command's ``--help`` ends with the exit-code rule and shows each option's default.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {_one_line(_drop_repeated_option(message))}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _drop_repeated_option(message: str) -> str:
    """``argument --p-z: --p-z=1 is ...`` -> ``--p-z=1 is ...`` (the option is already named)."""
    if message.startswith("argument "):
        head, _, rest = message.partition(": ")
        options = head[len("argument "):].split("/")
        if any(rest.startswith(option + "=") for option in options):
            return rest
    return message


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available sub-command."""
    parser = OneLineParser(
        prog="qentangle",
        description="Entanglement-based QKD (E91, BBM92) and CHSH Bell tests on Qiskit.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qentangle {__version__}")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                        help="progress bars on stderr: auto shows them when stderr is a terminal or a "
                             "notebook and a phase lasts over 2 s (default: auto)")
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
    """Entry point of the ``qentangle`` console script (returns the exit status)."""
    command, parser, args = "qentangle", None, None
    previous_term = _terminate_as_interrupt()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = f"qentangle {args.command}"
        from qentangle import progress

        progress.configure(enabled={"auto": None, "on": True, "off": False}[args.progress])
        return int(args.handler(args) or EXIT_DONE)
    except ValidationError as error:
        option = _option_of(parser, args, error.param)
        text = str(error) if option is None else error.for_option(option)
        sys.stderr.write(f"{command}: error: {_one_line(text)}\n")
        return EXIT_BAD_INPUT
    except ProtocolAbort as error:
        sys.stderr.write(f"{command}: aborted: {_one_line(error)}\n")
        return EXIT_ABORTED
    except QentangleError as error:
        sys.stderr.write(f"{command}: error: {_one_line(error)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"{command}: interrupted\n")
        if running_as_program():
            # Everything was unwound (temporary files removed); leave now, so a module that was
            # interrupted half-imported cannot turn the exit into a second interrupt at shutdown.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader closed the pipe (e.g. `| head`): not an error; silence the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        # Backstop: a file error that no command turned into a QentangleError.
        sys.stderr.write(f"{command}: error: {_os_error_line(error)}\n")
        return EXIT_BAD_INPUT
    finally:
        if running_as_program() and previous_term is not None:
            # The command is over (its files complete): an interrupt during shutdown changes nothing.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _terminate_as_interrupt():
    """Make SIGTERM unwind like Ctrl-C (temporary files removed, one line, exit 130).

    Returns the previous handler, or None when not in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # set while loading
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return signal.signal(signal.SIGTERM, interrupt)


def _option_of(
    parser: argparse.ArgumentParser | None, args: argparse.Namespace | None, param: str | None
) -> str | None:
    """The option (as typed on this command) whose value is the library parameter ``param``."""
    if param is None or parser is None or args is None:
        return None
    subparsers = next(
        (action for action in parser._actions if isinstance(action, argparse._SubParsersAction)), None
    )
    command = subparsers.choices.get(args.command) if subparsers is not None else None
    for action in command._actions if command is not None else ():
        if action.dest == param or param.endswith("." + action.dest):
            if action.option_strings:
                return max(action.option_strings, key=len)
            return str(action.metavar or action.dest.upper())
    return None


def _os_error_line(error: OSError) -> str:
    """``reason: 'file'`` on one line, without the errno prefix."""
    reason = error.strerror or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    text = f"{reason}: {' -> '.join(repr(name) for name in names)}" if names else reason
    return " ".join(text.split())


if __name__ == "__main__":
    raise SystemExit(main())
