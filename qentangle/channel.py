"""Authenticated classical channel between two endpoints.

Every message is tagged with a Wegman-Carter authenticator: a polynomial universal hash over
the prime field GF(2^521 - 1), keyed once from the pre-shared secret, its value reduced to 128
bits and masked by a fresh 128-bit one-time pad per message from the same pre-shared secret.
Forging a tag succeeds with probability at most about 2 * (message length in 65-byte words)
/ 2^128 per message, whatever the adversary's computing power; each message consumes 128 bits
of pre-shared key (plus 528 once for the hash key), which the channel counts.

The channel keeps the transcript (all an eavesdropper sees) and counts every bit of
information about the key that the parties declare as disclosed (parities, syndromes, hashes).
Receivers get copies, never the sender's own arrays.

>>> import numpy as np
>>> channel = ClassicalChannel.with_random_key(np.random.default_rng(1))
>>> channel.send("alice", "parities", np.array([1, 0, 1], dtype=np.uint8), disclosed_bits=3)
array([1, 0, 1], dtype=uint8)
>>> channel.disclosed_bits, len(channel.transcript)
(3, 1)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qentangle.errors import AuthenticationError, QentangleError, ValidationError

_EXPONENT = 521
PRIME = (1 << _EXPONENT) - 1  # a Mersenne prime
TAG_BITS = 128
_WORD_BYTES = 65
_HASH_KEY_BYTES = 66
_PAD_BYTES = TAG_BITS // 8
DEFAULT_PRESHARED_BYTES = 1 << 16


@dataclass(frozen=True)
class Message:
    """One authenticated message as it travelled on the wire."""

    seq: int
    sender: str
    kind: str
    payload: Any
    disclosed_bits: int
    tag: int


def encode_payload(payload: Any) -> bytes:
    """Canonical bytes of a payload (arrays, numbers, strings, bytes and nested containers).

    The encoding is injective over the types it accepts: every value carries its type (a list
    and a tuple, ``1`` and ``True``, ``{1: x}`` and ``{"1": x}``, ``np.int64(1)`` and ``1`` all
    encode differently), so a tag that verifies covers the exact value received. Other types
    are refused.

    >>> encode_payload({1: "x"}) != encode_payload({"1": "x"})
    True
    >>> encode_payload([1, 2]) != encode_payload((1, 2))
    True
    """
    if isinstance(payload, np.ndarray):
        header = f"nd:{payload.dtype.str}:{payload.shape}:".encode()
        return header + np.ascontiguousarray(payload).tobytes()
    if isinstance(payload, bytes):
        return b"b:" + payload
    if isinstance(payload, bytearray):
        return b"B:" + bytes(payload)
    if isinstance(payload, (list, tuple)):
        parts = [encode_payload(item) for item in payload]
        return (b"l:" if isinstance(payload, list) else b"t:") + _joined(parts)
    if isinstance(payload, dict):
        items = sorted((encode_payload(key), encode_payload(value)) for key, value in payload.items())
        return b"d:" + _joined([_joined(list(item)) for item in items])
    if isinstance(payload, np.generic):
        return f"g:{payload.dtype.str}:{payload.item()!r}".encode()
    if payload is None or type(payload) in (bool, int, float, str):
        return f"s:{type(payload).__name__}:{payload!r}".encode()
    raise ValidationError(f"payload of type {type(payload).__name__} cannot be sent on the channel")


def _joined(parts: list[bytes]) -> bytes:
    """Length-prefixed concatenation (so no two sequences of parts join to the same bytes)."""
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def polynomial_hash(data: bytes, key: int) -> int:
    """Evaluate the message polynomial at ``key`` modulo 2^521 - 1 (Horner's rule).

    Words are 65 bytes (< 2^520); the final length word makes messages of different lengths
    distinct polynomials. Reduction modulo the Mersenne prime uses shifts, not division.
    """
    acc = 0
    from_bytes = int.from_bytes
    for start in range(0, len(data), _WORD_BYTES):
        acc = (acc + from_bytes(data[start : start + _WORD_BYTES], "little")) * key
        acc = (acc & PRIME) + (acc >> _EXPONENT)
        acc = (acc & PRIME) + (acc >> _EXPONENT)
    acc = (acc + len(data)) * key
    acc = (acc & PRIME) + (acc >> _EXPONENT)
    acc = (acc & PRIME) + (acc >> _EXPONENT)
    return acc - PRIME if acc >= PRIME else acc


class ClassicalChannel:
    """A public, authenticated, transcript-keeping channel between ``alice`` and ``bob``.

    Parameters
    ----------
    preshared_key:
        The secret both endpoints hold before the run (at least 98 bytes): the first 66 bytes
        key the universal hash, the rest is consumed 16 bytes per message as one-time pads.
    adversary:
        Optional function applied to every :class:`Message` on the wire (an active attacker,
        used in tests). If it changes a message, authentication fails and the run aborts.

    >>> import numpy as np
    >>> channel = ClassicalChannel.with_random_key(np.random.default_rng(5))
    >>> channel.send("bob", "settings", [0, 2, 1]), channel.send("alice", "hash", b"1234", disclosed_bits=32)
    ([0, 2, 1], b'1234')
    >>> channel.disclosed_bits, channel.auth_key_bits_used  # 528-bit hash key + 128 bits a message
    (32, 784)
    >>> [(m.sender, m.kind) for m in channel.transcript]  # all an eavesdropper sees
    [('bob', 'settings'), ('alice', 'hash')]
    """

    def __init__(
        self,
        preshared_key: bytes,
        *,
        adversary: Callable[[Message], Message] | None = None,
    ) -> None:
        minimum = _HASH_KEY_BYTES + 2 * _PAD_BYTES
        if not isinstance(preshared_key, (bytes, bytearray)) or len(preshared_key) < minimum:
            raise ValidationError(f"preshared_key must be bytes of length >= {minimum}")
        self._key = bytes(preshared_key)
        self._hash_key = int.from_bytes(self._key[:_HASH_KEY_BYTES], "little") % (PRIME - 1) + 1
        self._pad_offset = _HASH_KEY_BYTES
        self._transcript: list[Message] = []
        self._disclosed_bits = 0
        self.adversary = adversary

    @classmethod
    def with_random_key(
        cls, rng: np.random.Generator, nbytes: int = DEFAULT_PRESHARED_BYTES, **kwargs: Any
    ) -> ClassicalChannel:
        """A channel whose pre-shared key is drawn from ``rng`` (simulation set-up)."""
        return cls(rng.bytes(nbytes), **kwargs)

    @property
    def transcript(self) -> tuple[Message, ...]:
        """All messages in order: exactly what an eavesdropper on the channel sees."""
        return tuple(self._transcript)

    @property
    def disclosed_bits(self) -> int:
        """Bits of information about the key disclosed so far (declared by the senders)."""
        return self._disclosed_bits

    @property
    def auth_key_bits_used(self) -> int:
        """Pre-shared key bits consumed by authentication (hash key plus one pad per message)."""
        return 8 * self._pad_offset

    def disclosed_bits_of(self, kind_prefix: str) -> int:
        """Disclosed bits of the messages whose kind starts with ``kind_prefix``."""
        return sum(m.disclosed_bits for m in self._transcript if m.kind.startswith(kind_prefix))

    def send(self, sender: str, kind: str, payload: Any, *, disclosed_bits: int = 0) -> Any:
        """Send ``payload`` from ``sender``; return the receiver's verified copy.

        ``disclosed_bits`` is the information about the key the message reveals (for example
        the number of parities); it is added to :attr:`disclosed_bits`.
        """
        if sender not in ("alice", "bob"):
            raise ValidationError(f"sender={sender!r} is not valid: expected alice or bob")
        if isinstance(disclosed_bits, bool) or int(disclosed_bits) != disclosed_bits or disclosed_bits < 0:
            raise ValidationError(f"disclosed_bits={disclosed_bits!r}: expected an integer >= 0")
        seq = len(self._transcript)
        pad = self._next_pad()
        sent = Message(seq, sender, kind, _frozen_copy(payload), int(disclosed_bits), 0)
        signed = _signed_bytes(sent)
        sent = replace(sent, tag=self._tag_of(signed, pad))
        received = self.adversary(sent) if self.adversary is not None else sent
        # The receiver always checks the tag against what it received, whatever object that
        # is (an adversary may also edit a payload in place). The tag is a function of the
        # signed bytes, so when those equal the bytes the sender tagged, the hash is the value
        # already computed and is not evaluated a second time.
        if not isinstance(received, Message) or received.seq != seq or not self._verifies(
            received, signed, sent.tag, pad
        ):
            raise AuthenticationError(
                f"message {seq} ({kind!r} from {sender}) failed authentication: "
                "the classical channel was tampered with, run aborted"
            )
        self._transcript.append(received)
        self._disclosed_bits += received.disclosed_bits
        return _receiver_copy(received.payload)

    def _verifies(self, received: Message, signed: bytes, sent_tag: int, pad: int) -> bool:
        try:
            data = _signed_bytes(received)
        except ValidationError:
            return False
        expected = sent_tag if data == signed else self._tag_of(data, pad)
        return isinstance(received.tag, int) and received.tag == expected

    def _next_pad(self) -> int:
        end = self._pad_offset + _PAD_BYTES
        if end > len(self._key):
            raise QentangleError(
                "the pre-shared authentication key is exhausted: give a longer preshared_key"
            )
        pad = int.from_bytes(self._key[self._pad_offset : end], "little")
        self._pad_offset = end
        return pad

    def _tag_of(self, signed: bytes, pad: int) -> int:
        digest = polynomial_hash(signed, self._hash_key)
        return (digest & ((1 << TAG_BITS) - 1)) ^ pad


def _signed_bytes(message: Message) -> bytes:
    """What the tag covers: sequence number, sender, kind, disclosed bits and the payload."""
    header = f"{message.seq}|{message.sender}|{message.kind}|{message.disclosed_bits}|".encode()
    return header + encode_payload(message.payload)


def _frozen_copy(payload: Any) -> Any:
    if isinstance(payload, np.ndarray):
        frozen = payload.copy()
        frozen.flags.writeable = False
        return frozen
    return copy.deepcopy(payload)


def _receiver_copy(payload: Any) -> Any:
    if isinstance(payload, np.ndarray):
        return payload.copy()
    return copy.deepcopy(payload)
