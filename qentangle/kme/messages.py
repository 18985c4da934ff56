"""Secure messages between SAEs: encrypt at the sender's KME key, decrypt with the same key by ID.

The library side of ``qentangle sae send`` / ``receive`` (and of the demo): the sender, as
master SAE, takes one fresh 256-bit key with ``enc_keys``; the receiver, as slave SAE, gets it
by ID with ``dec_keys`` (once). See :mod:`qentangle.kme.envelope` for the format.
"""

from __future__ import annotations

from pathlib import Path

from qentangle.errors import ValidationError
from qentangle.kme.client import SaeClient
from qentangle.kme.envelope import KEY_BYTES, Envelope, dump, open_envelope, parse, seal


def send_message(network_dir: str | Path, sender: str, receiver: str, message: bytes) -> Envelope:
    """Encrypt ``message`` from SAE ``sender`` to SAE ``receiver`` under a fresh QKD key."""
    with SaeClient.for_sae(network_dir, sender) as client:
        ((key_id, key),) = client.enc_keys(receiver, number=1, size=8 * KEY_BYTES)
    return seal(message, key, key_ids=[key_id], sender=sender, receiver=receiver)


def receive_message(network_dir: str | Path, receiver: str, envelope: Envelope | bytes) -> bytes:
    """Decrypt an envelope as SAE ``receiver``; raises :class:`~qentangle.errors.AuthenticationError`
    when it was altered (the key it names is used up either way)."""
    if not isinstance(envelope, Envelope):
        envelope = parse(envelope)
    if envelope.receiver != receiver:
        raise ValidationError(
            f"--as={receiver!r} is not valid: the envelope is for SAE {envelope.receiver!r}"
        )
    with SaeClient.for_sae(network_dir, receiver) as client:
        keys = client.dec_keys(envelope.sender, list(envelope.key_ids))
    return open_envelope(envelope, b"".join(bits for _, bits in keys))


__all__ = ["Envelope", "dump", "parse", "receive_message", "send_message"]
