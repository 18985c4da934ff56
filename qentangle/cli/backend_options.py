"""The IBM backend engine from the command line's ``--backend`` options.

Reading argparse namespaces is the CLI's business; :class:`qentangle.ibm.BackendEngine` takes
plain arguments. The options themselves are declared in :mod:`qentangle.cli.common`.

>>> import argparse
>>> args = argparse.Namespace(backend="fake_manila", qubits=None, yes=False, no_mitigation=True,
...                           timeout=None)
>>> backend_engine_options(args)["mitigate"]
False
"""

from __future__ import annotations

from typing import Any


def backend_engine_options(args: Any) -> dict[str, Any]:
    """Keyword arguments of :class:`~qentangle.ibm.BackendEngine` from ``--qubits``, ``--yes``,
    ``--no-mitigation``, ``--timeout`` and ``--record-outcomes`` (absent options take the
    engine's defaults)."""
    return {
        "qubits": getattr(args, "qubits", None),
        "yes": bool(getattr(args, "yes", False)),
        "mitigate": not getattr(args, "no_mitigation", False),
        "timeout": getattr(args, "timeout", None),
        "record_outcomes": bool(getattr(args, "record_outcomes", False)),
    }


RECORD_OUTCOMES_HELP = (
    "on --backend: also write every round's raw outcomes of both parties, i.e. key material for "
    "bbm92/e91, to the job record $QENTANGLE_HOME/jobs.jsonl (default: counts only)"
)


def add_record_outcomes_option(parser: Any) -> None:
    """``--record-outcomes``: store the raw per-round outcomes (key material) in the job record."""
    parser.add_argument("--record-outcomes", action="store_true", help=RECORD_OUTCOMES_HELP)


def backend_engine_from_cli(args: Any):  # -> qentangle.ibm.BackendEngine
    """The engine for ``--backend NAME [--qubits I,J] [--yes] [--no-mitigation] [--timeout S]``."""
    from qentangle.ibm import BackendEngine

    return BackendEngine(args.backend, **backend_engine_options(args))
