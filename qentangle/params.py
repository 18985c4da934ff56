"""One declaration per parameter, used by the library to validate and by the CLI to parse.

A :class:`Param` states a parameter's name (as the library spells it), its kind (int or float),
its accepted range with open or closed ends, its default, unit and help. The module that owns
the concept declares it once, for example in ``qentangle.distill.chain``::

    EPS_SEC = Param("eps_sec", float, low=0.0, high=1.0, low_open=True, high_open=True,
                    default=1e-10, help="secrecy parameter of the final key")

The library calls ``EPS_SEC.check(eps_sec)``, which returns the value or raises a
:class:`~qentangle.errors.ValidationError` naming the parameter, the value and the range. The
command line calls ``EPS_SEC.add_to(parser)``: the option ``--eps-sec`` parses the text with the
same check, so the CLI and the library can never disagree, and its help shows the range, the unit
and the default. A ``ValidationError`` carries the parameter name, so an error the library raises
after parsing is printed with the option as the user typed it (``--eps-sec``), see
:meth:`~qentangle.errors.ValidationError.for_option`.

>>> P_Z = Param("p_z", float, low=0.0, high=1.0, low_open=True, high_open=True, default=0.5,
...             help="probability of the Z basis")
>>> P_Z.check(0.25)
0.25
>>> P_Z.check(1)
Traceback (most recent call last):
...
qentangle.errors.ValidationError: p_z=1 is out of range: expected 0 < p_z < 1
>>> P_Z.flag, P_Z.range_text()
('--p-z', '0 < p_z < 1')
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

from qentangle.errors import ValidationError
from qentangle.limits import Cost

__all__ = ["Param", "format_number"]


def format_number(value: float | int) -> str:
    """A bound or default as a person writes it: ``1e-10``, ``0.5``, ``1000000``, ``inf``.

    >>> format_number(1e-10), format_number(0.5), format_number(1_000_000), format_number(3.0)
    ('1e-10', '0.5', '1000000', '3')
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One parameter's declaration: name, kind, accepted range, default, unit and help.

    ``low``/``high`` bound the value (``None``: unbounded on that side); ``low_open`` and
    ``high_open`` make an end exclusive. ``option`` is the CLI spelling (default: ``--`` and the
    name with ``-`` for ``_``); ``metavar`` names the value in ``--help`` (default: the name
    upper-cased). ``kind=int`` accepts integral floats such as ``1e6``. ``cost`` (a
    :class:`~qentangle.limits.Cost`) refuses, up front, sizes that cannot fit on this machine.

    >>> Param("pairs", int, low=1, default=1_000_000).check(1e6)
    1000000
    """

    name: str
    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    default: Any = None
    unit: str = ""
    help: str = ""
    option: str | None = None
    metavar: str | None = None
    cost: Cost | None = None

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise TypeError(f"Param {self.name}: kind must be int or float, not {self.kind!r}")

    # -- spelling ---------------------------------------------------------------------------
    @property
    def flag(self) -> str:
        """The command-line option, e.g. ``--eps-sec``."""
        return self.option or "--" + self.name.replace("_", "-")

    def range_text(self, label: str | None = None) -> str:
        """The accepted range as an inequality on ``label`` (default: the name).

        >>> Param("eps_sec", low=0.0, high=1.0, low_open=True).range_text("--eps-sec")
        '0 < --eps-sec <= 1'
        >>> Param("shots", int, low=1).range_text()
        'an integer shots >= 1'
        """
        label = label or self.name
        left = "" if self.low is None else f"{format_number(self.low)} {'<' if self.low_open else '<='} "
        right = "" if self.high is None else f" {'<' if self.high_open else '<='} {format_number(self.high)}"
        if self.low is not None and self.high is None:
            text = f"{label} {'>' if self.low_open else '>='} {format_number(self.low)}"
        else:
            text = f"{left}{label}{right}"
        if self.kind is int:
            text = f"an integer {text}"
        if self.unit:
            text += f" {self.unit}"
        return text

    # -- validation -------------------------------------------------------------------------
    def check(self, value: Any, *, label: str | None = None) -> Any:
        """Return ``value`` as this parameter's kind, or raise ``ValidationError`` naming it.

        The error carries ``param=self.name`` so the CLI can show the option as typed.
        """
        return self._validate(value, label or self.name, repr(value))

    def _validate(self, value: Any, label: str, shown: str) -> int | float:
        if isinstance(value, (bool, str)):
            self._fail(shown, "is not a number", label)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self._fail(shown, "is not a number", label)
        if not math.isfinite(number):
            self._fail(shown, "is not finite", label)
        if self.kind is int and not (isinstance(value, int) or number.is_integer()):
            self._fail(shown, "is not an integer", label)
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if too_low or too_high:
            self._fail(shown, "is out of range", label)
        if self.cost is not None:
            self.cost.check(self.name, number, label=label, shown=shown)
        if self.kind is int:
            return int(value) if isinstance(value, int) else int(number)
        return number

    def _fail(self, shown: str, problem: str, label: str) -> None:
        template = f"{{name}}={shown} {problem}: expected {self.range_text('{name}')}"
        raise ValidationError(template.replace("{name}", label), param=self.name, template=template)

    # -- command line -----------------------------------------------------------------------
    def parse(self, text: str) -> int | float:
        """Parse command-line ``text`` (``1e6`` is fine for an int) and check it.

        Raises ``argparse.ArgumentTypeError`` whose message names the option and the text as
        typed, e.g. ``--p-z=1 is out of range: expected 0 < --p-z < 1``.

        >>> Param("p_z", low=0.0, high=1.0, low_open=True, high_open=True).parse("0.3")
        0.3
        """
        try:
            try:
                value: Any = float(text)
            except ValueError:
                value = text
            return self._validate(value, self.flag, text)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def help_text(self, description: str | None = None, default: Any = None) -> str:
        """The help of the option: ``description`` (default: ``help``), the range and the default.

        >>> Param("p_z", low=0.0, high=1.0, default=0.5, metavar="P", help="Z probability").help_text()
        'Z probability (0 <= P <= 1; default 0.5)'
        """
        default = self.default if default is None else default
        text = (self.help if description is None else description).rstrip(".")
        suffix = self.range_text(self.metavar_text)
        if default is not None:
            suffix += f"; default {format_number(default) if isinstance(default, (int, float)) else default}"
        return f"{text} ({suffix})" if text else suffix

    @property
    def metavar_text(self) -> str:
        """The placeholder for the value in ``--help``."""
        return self.metavar or self.name.upper()

    def add_to(
        self,
        parser: argparse.ArgumentParser | argparse._ArgumentGroup,
        *,
        default: Any = None,
        help: str | None = None,
        extra: str = "",
        flag: str | None = None,
        dest: str | None = None,
    ) -> argparse.Action:
        """Add this parameter as an option of ``parser`` (type, range, default and help).

        ``default`` overrides the declared default for this command (``None``: the declared one);
        ``help`` replaces the declared description (the range and default are still shown);
        ``extra`` appends a command-specific note to it; ``flag`` replaces the option's spelling;
        ``dest`` defaults to the parameter's name.
        """
        parameter = self if flag is None else _replace(self, option=flag)
        shown_default = self.default if default is None else default
        description = (self.help if help is None else help).rstrip(".")
        if extra:
            description = f"{description}; {extra}" if description else extra
        return parser.add_argument(
            parameter.flag,
            type=parameter.parse,
            default=shown_default,
            metavar=parameter.metavar_text,
            dest=dest or self.name,
            help=parameter.help_text(description, shown_default).replace("%", "%%"),
        )


def _replace(param: Param, **changes: Any) -> Param:
    from dataclasses import replace

    return replace(param, **changes)
