"""The message format of ``qentangle sae send``: AES-256-GCM under one fresh QKD key.

An envelope is a JSON object: ``format``, ``version``, ``cipher``, the sender (master SAE) and
the receiver (slave SAE), the ``key_IDs`` of the keys that make up the 256-bit AES key, a
96-bit ``nonce``, the ``ciphertext`` and the 128-bit ``tag`` (base64). Everything but the
ciphertext and tag is also authenticated as associated data, so any change to the header, the
ciphertext or the tag fails authentication. A key encrypts exactly one message.

>>> key = bytes(range(32))
>>> envelope = seal(b"hello Nanshan", key, key_ids=["k1"], sender="delingha", receiver="nanshan")
>>> open_envelope(parse(dump(envelope)), key)
b'hello Nanshan'
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qentangle.errors import AuthenticationError, ValidationError

FORMAT = "qentangle-sae-envelope"
VERSION = 1
CIPHER = "AES-256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


@dataclass(frozen=True)
class Envelope:
    """A sealed message (no key material: only the IDs of the keys)."""

    sender: str
    receiver: str
    key_ids: tuple[str, ...]
    nonce: bytes
    ciphertext: bytes
    tag: bytes

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "cipher": CIPHER,
            "master_SAE_ID": self.sender,
            "slave_SAE_ID": self.receiver,
            "key_IDs": list(self.key_ids),
            "nonce": base64.b64encode(self.nonce).decode("ascii"),
        }

    def associated_data(self) -> bytes:
        return json.dumps(self.header(), sort_keys=True, separators=(",", ":")).encode()


def seal(message: bytes, key: bytes, *, key_ids: list[str], sender: str, receiver: str) -> Envelope:
    """Encrypt ``message`` with the 32-byte ``key`` (whose QKD key IDs are ``key_ids``)."""
    if len(key) != KEY_BYTES:
        raise ValidationError(f"key of {len(key)} bytes: expected {KEY_BYTES} bytes (AES-256)")
    draft = Envelope(sender, receiver, tuple(key_ids), os.urandom(NONCE_BYTES), b"", b"")
    sealed = AESGCM(key).encrypt(draft.nonce, bytes(message), draft.associated_data())
    return Envelope(sender, receiver, tuple(key_ids), draft.nonce, sealed[:-TAG_BYTES], sealed[-TAG_BYTES:])


def open_envelope(envelope: Envelope, key: bytes) -> bytes:
    """Decrypt and authenticate; raises :class:`AuthenticationError` if anything was changed."""
    if len(key) != KEY_BYTES:
        raise ValidationError(f"key of {len(key)} bytes: expected {KEY_BYTES} bytes (AES-256)")
    try:
        return AESGCM(key).decrypt(
            envelope.nonce, envelope.ciphertext + envelope.tag, envelope.associated_data()
        )
    except InvalidTag:
        raise AuthenticationError(
            "the envelope failed authentication (AES-GCM tag): it was altered, or the key is not its key"
        ) from None


def dump(envelope: Envelope) -> bytes:
    """The envelope as JSON bytes."""
    data = envelope.header()
    data["ciphertext"] = base64.b64encode(envelope.ciphertext).decode("ascii")
    data["tag"] = base64.b64encode(envelope.tag).decode("ascii")
    return (json.dumps(data, indent=1) + "\n").encode()


def parse(data: bytes, *, name: str = "envelope") -> Envelope:
    """Read an envelope; raises :class:`ValidationError` naming what is wrong (not its content)."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(f"{name} is not a qentangle envelope: not JSON") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValidationError(f"{name} is not a qentangle envelope: format is not {FORMAT!r}")
    if obj.get("version") != VERSION or obj.get("cipher") != CIPHER:
        raise ValidationError(
            f"{name} has version={obj.get('version')!r}, cipher={obj.get('cipher')!r}:"
            f" expected version {VERSION}, {CIPHER}"
        )
    try:
        key_ids = obj["key_IDs"]
        if not isinstance(key_ids, list) or not key_ids or not all(isinstance(k, str) for k in key_ids):
            raise ValueError("key_IDs")
        envelope = Envelope(
            sender=_text(obj["master_SAE_ID"]),
            receiver=_text(obj["slave_SAE_ID"]),
            key_ids=tuple(key_ids),
            nonce=base64.b64decode(obj["nonce"], validate=True),
            ciphertext=base64.b64decode(obj["ciphertext"], validate=True),
            tag=base64.b64decode(obj["tag"], validate=True),
        )
    except (KeyError, TypeError, ValueError) as error:
        field = error.args[0] if isinstance(error, KeyError) else type(error).__name__
        raise ValidationError(f"{name} is malformed: {field}") from None
    if len(envelope.nonce) != NONCE_BYTES or len(envelope.tag) != TAG_BYTES:
        raise ValidationError(
            f"{name} is malformed: nonce of {NONCE_BYTES} and tag of {TAG_BYTES} bytes expected"
        )
    return envelope


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("SAE ID")
    return value
