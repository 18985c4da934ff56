"""Errors raised by qentangle.

Every public entry point validates its inputs and raises a :class:`QentangleError`
(a ``ValueError``) whose message names the parameter, the value received and the accepted
range. The command line prints that one line and exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class QentangleError(ValueError):
    """Base class of every error qentangle raises on purpose."""


class ValidationError(QentangleError):
    """An argument is outside its accepted range or of the wrong kind."""


class ProtocolAbort(QentangleError):
    """A protocol run stopped by its own security rule (the abort is the result)."""


class AuthenticationError(QentangleError):
    """A message on the classical channel failed authentication (tampering)."""


class BackendError(QentangleError):
    """A quantum backend or job could not be reached, failed or timed out."""


def check_probability(name: str, value: Any, *, upper: float = 1.0) -> float:
    """Return ``value`` as a float in ``[0, upper]`` or raise naming ``name``.

    >>> check_probability("p", 0.25)
    0.25
    """
    number = _as_float(name, value)
    if not 0.0 <= number <= upper:
        raise ValidationError(f"{name}={value!r} is out of range: expected 0 <= {name} <= {upper}")
    return number


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise naming ``name``."""
    return _as_float(name, value)


def check_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given (closed or open) bounds."""
    number = _as_float(name, value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        left = "" if low is None else f"{low} {'<' if low_open else '<='} "
        right = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise ValidationError(f"{name}={value!r} is out of range: expected {left}{name}{right}")
    return number


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum`` or raise naming ``name``."""
    if isinstance(value, bool) or (not isinstance(value, (int,)) and not _is_integral(value)):
        raise ValidationError(f"{name}={value!r} is not an integer: expected an integer >= {minimum}")
    number = int(value)
    if number < minimum:
        raise ValidationError(f"{name}={value!r} is out of range: expected an integer >= {minimum}")
    return number


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` or raise listing them."""
    options = tuple(choices)
    if value not in options:
        raise ValidationError(f"{name}={value!r} is not valid: expected one of {', '.join(options)}")
    return value


def _is_integral(value: Any) -> bool:
    try:
        return float(value).is_integer() and not isinstance(value, str)
    except (TypeError, ValueError):
        return False


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValidationError(f"{name}={value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name}={value!r} is not finite: expected a finite number")
    return number
