"""Party programs: each endpoint's half of a protocol, runnable in one process or over a network.

A *party program* is a generator written from one endpoint's point of view. It sends with
``end.send(sender, kind, payload, disclosed_bits=...)`` (the signature of
:meth:`qentangle.channel.ClassicalChannel.send`, so the distillation's party classes take an
end where they took a channel) and waits for the other party's next message with
``payload = yield Recv(kind)``. It returns its own result. Sending never blocks: messages wait
in the end's outbox until the runner delivers them.

Two runners execute the *same* programs:

* :func:`run_lockstep` drives Alice's and Bob's programs in one process over a
  :class:`~qentangle.channel.ClassicalChannel` (transcript, Wegman-Carter tags, leakage count,
  test adversaries): this is what ``distill`` and ``finish_key`` do.
* :func:`run_party` drives one program over a :class:`Transport` (for example the framed,
  authenticated TCP connection of :mod:`qentangle.network.transport`): a station process.

>>> import numpy as np
>>> from qentangle.channel import ClassicalChannel
>>> def alice(end):
...     end.send("alice", "hello", 41)
...     return (yield Recv("reply"))
>>> def bob(end):
...     value = yield Recv("hello")
...     end.send("bob", "reply", value + 1, disclosed_bits=1)
...     return value
>>> channel = ClassicalChannel.with_random_key(np.random.default_rng(0))
>>> run_lockstep(channel, alice, bob)
(42, 41)
>>> channel.disclosed_bits, len(channel.transcript)
(1, 2)
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np

from qentangle.errors import AuthenticationError, QentangleError, ValidationError

ROLES = ("alice", "bob")
PAD_BITS = 128  # one-time-pad bits per authenticated message

A = TypeVar("A")
B = TypeVar("B")


class Recv(NamedTuple):
    """What a party program yields to wait for the other party's next message, of ``kind``."""

    kind: str


PartyProgram = Generator[Recv, Any, A]
Party = Callable[["PartyEnd"], PartyProgram[A]]  # a program factory: given its end, the program


class ProtocolMismatch(AuthenticationError):
    """An authentic message arrived out of the protocol's order (the parties disagree on a step)."""


class PartyEnd:
    """One endpoint's end of the classical channel, as its party program sees it.

    Counts what this endpoint has seen: messages and disclosed bits, sent and received.
    """

    def __init__(self, role: str) -> None:
        if role not in ROLES:
            raise ValidationError(f"role={role!r} is not valid: expected alice or bob")
        self.role = role
        self.outbox: deque[tuple[str, Any, int]] = deque()
        self.disclosed_bits = 0
        self.messages = 0

    @property
    def peer(self) -> str:
        """The other endpoint's role."""
        return "bob" if self.role == "alice" else "alice"

    @property
    def auth_key_bits_used(self) -> int:
        """One-time-pad bits consumed by the messages this end has seen."""
        return PAD_BITS * self.messages

    def send(self, sender: str, kind: str, payload: Any, *, disclosed_bits: int = 0) -> Any:
        """Queue ``payload`` for the other party; return it (the sender's own copy).

        ``sender`` must be this end's role: a program only ever speaks for itself.
        """
        if sender != self.role:
            raise ValidationError(f"sender={sender!r} cannot send on {self.role}'s end")
        if isinstance(disclosed_bits, bool) or int(disclosed_bits) != disclosed_bits or disclosed_bits < 0:
            raise ValidationError(f"disclosed_bits={disclosed_bits!r}: expected an integer >= 0")
        self.outbox.append((kind, _copy(payload), int(disclosed_bits)))
        self.disclosed_bits += int(disclosed_bits)
        self.messages += 1
        return payload

    def received(self, kind: str, expected: Recv, disclosed_bits: int) -> None:
        """Account for a message delivered to this end; refuse one of the wrong kind."""
        if kind != expected.kind:
            raise ProtocolMismatch(
                f"{self.role} expected a {expected.kind!r} message but received {kind!r}: block aborted"
            )
        self.disclosed_bits += int(disclosed_bits)
        self.messages += 1


class Transport(Protocol):
    """A two-way message transport for one party (authentication is the transport's job)."""

    def send_message(self, kind: str, payload: Any, disclosed_bits: int) -> None:
        """Deliver one message to the other party."""

    def recv_message(self) -> tuple[str, Any, int]:
        """The other party's next message: ``(kind, payload, disclosed_bits)``."""


def run_lockstep(channel: Any, alice: Party[A], bob: Party[B]) -> tuple[A, B]:
    """Run Alice's and Bob's programs together over an in-process ``ClassicalChannel``.

    ``alice`` and ``bob`` are called with their own :class:`PartyEnd` and return the programs.

    Each queued message crosses ``channel.send`` (tag, transcript, leakage, adversary) and the
    receiver gets the channel's verified copy. Deterministic: a party runs until it waits for
    a message that has not been sent yet, then the other party runs. An exception in either
    program (an authentication failure, an abort raised as an error) ends both.
    """
    ends = {role: PartyEnd(role) for role in ROLES}
    programs = {"alice": alice(ends["alice"]), "bob": bob(ends["bob"])}
    inbox: dict[str, deque[tuple[str, Any, int]]] = {"alice": deque(), "bob": deque()}
    waiting: dict[str, Recv | None] = {}
    results: dict[str, Any] = {}
    try:
        for role in ROLES:
            _advance(role, programs, waiting, results, None)
        while len(results) < 2:
            moved = False
            for role in ROLES:
                other = "bob" if role == "alice" else "alice"
                outbox = ends[role].outbox
                while outbox:
                    kind, payload, disclosed = outbox.popleft()
                    received = channel.send(role, kind, payload, disclosed_bits=disclosed)
                    inbox[other].append((kind, received, disclosed))
                    moved = True
            for role in ROLES:
                while role not in results and inbox[role]:
                    kind, payload, disclosed = inbox[role].popleft()
                    expected = waiting[role]
                    assert expected is not None
                    ends[role].received(kind, expected, disclosed)
                    _advance(role, programs, waiting, results, payload)
                    moved = True
            if not moved:
                stuck = [r for r in ROLES if r not in results]
                raise QentangleError(f"protocol deadlock: {', '.join(stuck)} wait for a message never sent")
        for role in ROLES:  # anything sent after the last receive
            while ends[role].outbox:
                kind, payload, disclosed = ends[role].outbox.popleft()
                channel.send(role, kind, payload, disclosed_bits=disclosed)
    finally:
        for program in programs.values():
            program.close()
    return results["alice"], results["bob"]


def run_party(role: str, party: Party[A], transport: Transport) -> A:
    """Run one party's program over ``transport`` (a station process)."""
    end = PartyEnd(role)
    program = party(end)
    try:
        request = program.send(None)
        while True:
            _flush(end, transport)
            kind, payload, disclosed = transport.recv_message()
            end.received(kind, request, disclosed)
            request = program.send(payload)
    except StopIteration as done:
        _flush(end, transport)
        return done.value
    finally:
        program.close()


def _flush(end: PartyEnd, transport: Transport) -> None:
    while end.outbox:
        transport.send_message(*end.outbox.popleft())


def _advance(role, programs, waiting, results, value) -> None:
    try:
        request = programs[role].send(value)
    except StopIteration as done:
        results[role] = done.value
        waiting[role] = None
        return
    if not isinstance(request, Recv):
        raise QentangleError(f"{role}'s program yielded {type(request).__name__}: expected Recv")
    waiting[role] = request


def _copy(payload: Any) -> Any:
    if isinstance(payload, np.ndarray):
        frozen = payload.copy()
        frozen.flags.writeable = False
        return frozen
    return copy.deepcopy(payload)


__all__ = [
    "Party",
    "PartyEnd",
    "PartyProgram",
    "ProtocolMismatch",
    "Recv",
    "Transport",
    "run_lockstep",
    "run_party",
]
