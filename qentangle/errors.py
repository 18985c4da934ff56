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
    """Base class of every error qentangle raises on purpose.

    One ``except`` clause catches them all; each message names the parameter and its range:

    >>> from qentangle.noise import NoiseConfig
    >>> try:
    ...     NoiseConfig(depolarizing=1.5)
    ... except QentangleError as error:
    ...     print(error)
    depolarizing=1.5 is out of range: expected 0 <= depolarizing <= 1
    """


class ValidationError(QentangleError):
    """An argument is outside its accepted range or of the wrong kind.

    ``param`` names the parameter as the library spells it (``eps_sec``) when the error is
    about one parameter; ``template`` is the message with ``{name}`` where that name stands,
    so the command line can say the same thing with the option as typed.

    >>> error = ValidationError("eps_sec=0 is out of range: expected 0 < eps_sec <= 1", param="eps_sec",
    ...                         template="{name}=0 is out of range: expected 0 < {name} <= 1")
    >>> error.for_option("--eps-sec")
    '--eps-sec=0 is out of range: expected 0 < --eps-sec <= 1'
    """

    def __init__(self, message: str, *, param: str | None = None, template: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.template = template

    def for_option(self, option: str) -> str:
        """The message with the parameter named ``option`` (the CLI spelling) instead."""
        if self.template is None:
            return str(self)
        return self.template.replace("{name}", option)


def _invalid(name: str, template: str) -> ValidationError:
    """A ValidationError about parameter ``name`` from a message template using ``{name}``."""
    return ValidationError(template.replace("{name}", name), param=name, template=template)


class ProtocolAbort(QentangleError):
    """A protocol run stopped by its own security rule (the abort is the result).

    Protocols return an aborted result by default; ``raise_on_abort=True`` raises this instead.
    At 20 % bit errors no key survives one-way error correction:

    >>> import numpy as np
    >>> from qentangle.channel import ClassicalChannel
    >>> from qentangle.distill import distill
    >>> rng = np.random.default_rng(3)
    >>> alice = rng.integers(0, 2, 4000, dtype=np.uint8)
    >>> bob = alice ^ (rng.random(4000) < 0.2).astype(np.uint8)
    >>> distill(alice, bob, ClassicalChannel.with_random_key(rng), rng_alice=rng, raise_on_abort=True)
    Traceback (most recent call last):
        ...
    qentangle.errors.ProtocolAbort: key distillation aborted: ...
    """


class AuthenticationError(QentangleError):
    """A message on the classical channel failed authentication (tampering).

    >>> import dataclasses
    >>> import numpy as np
    >>> from qentangle.channel import ClassicalChannel
    >>> def eve(message):  # replaces Bob's announced settings on the wire
    ...     return dataclasses.replace(message, payload=[1, 1, 1])
    >>> channel = ClassicalChannel.with_random_key(np.random.default_rng(1), adversary=eve)
    >>> channel.send("bob", "settings", [0, 1, 2])
    Traceback (most recent call last):
        ...
    qentangle.errors.AuthenticationError: message 0 ('settings' from bob) failed authentication: ...
    """


class BackendError(QentangleError):
    """A quantum backend or job could not be reached, failed or timed out.

    Raised by :mod:`qentangle.ibm` (an unreachable service, a failed or timed-out job, a job
    record that cannot be rebuilt). Like every deliberate error it is a :class:`QentangleError`:

    >>> issubclass(BackendError, QentangleError), str(BackendError("job d1x2 on ibm_torino timed out"))
    (True, 'job d1x2 on ibm_torino timed out')
    """


def check_probability(name: str, value: Any, *, upper: float = 1.0) -> float:
    """Return ``value`` as a float in ``[0, upper]`` or raise naming ``name``.

    >>> check_probability("p", 0.25)
    0.25
    """
    number = _as_float(name, value)
    if not 0.0 <= number <= upper:
        raise _invalid(name, f"{{name}}={value!r} is out of range: expected 0 <= {{name}} <= {upper}")
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
        left = "" if low is None else f"{low:g} {'<' if low_open else '<='} "
        right = "" if high is None else f" {'<' if high_open else '<='} {high:g}"
        raise _invalid(name, f"{{name}}={value!r} is out of range: expected {left}{{name}}{right}")
    return number


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum`` or raise naming ``name``."""
    if isinstance(value, bool) or (not isinstance(value, (int,)) and not _is_integral(value)):
        expected = f"expected an integer {{name}} >= {minimum}"
        raise _invalid(name, f"{{name}}={value!r} is not an integer: {expected}")
    number = int(value)
    if number < minimum:
        raise _invalid(name, f"{{name}}={value!r} is out of range: expected an integer {{name}} >= {minimum}")
    return number


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` or raise listing them."""
    options = tuple(choices)
    if value not in options:
        raise _invalid(name, f"{{name}}={value!r} is not valid: expected one of {', '.join(options)}")
    return value


def _is_integral(value: Any) -> bool:
    try:
        return float(value).is_integer() and not isinstance(value, str)
    except (TypeError, ValueError):
        return False


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _invalid(name, f"{{name}}={value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(name, f"{{name}}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise _invalid(name, f"{{name}}={value!r} is not finite: expected a finite number")
    return number
