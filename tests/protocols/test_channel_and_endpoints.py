"""Endpoints own their data; every channel message is authenticated."""

from dataclasses import replace

import numpy as np
import pytest

from qentangle.channel import ClassicalChannel, Message
from qentangle.engines import ExactEngine
from qentangle.errors import AuthenticationError, ValidationError
from qentangle.pairs import PairSetup
from qentangle.protocols import session as session_module
from qentangle.protocols.bbm92 import run_bbm92
from qentangle.protocols.e91 import run_e91
from qentangle.protocols.endpoints import Endpoint, measure_chunk, pack_settings, unpack_settings
from qentangle.protocols.keying import KeyOptions


def test_endpoints_share_no_arrays():
    alice = Endpoint("alice", (0.0, 1.0), np.random.default_rng(1))
    bob = Endpoint("bob", (0.0, 1.0), np.random.default_rng(2))
    measure_chunk(PairSetup(), ExactEngine(), np.random.default_rng(3), alice, bob, 10_000)
    for mine in (alice.settings, alice.bits):
        for theirs in (bob.settings, bob.bits):
            assert not np.shares_memory(mine, theirs)


def test_channel_gives_receivers_copies():
    channel = ClassicalChannel.with_random_key(np.random.default_rng(0))
    sent = np.arange(10, dtype=np.uint8)
    received = channel.send("alice", "data", sent)
    assert np.array_equal(sent, received) and not np.shares_memory(sent, received)
    assert not np.shares_memory(channel.transcript[0].payload, received)


def _flip_message(target: int):
    def adversary(message: Message) -> Message:
        if message.seq != target:
            return message
        payload = message.payload
        if isinstance(payload, np.ndarray) and payload.size:
            payload = payload.copy()
            payload.flat[0] ^= 1
        elif isinstance(payload, int):
            payload += 1
        else:
            return replace(message, kind=message.kind + "!")
        return replace(message, payload=payload)

    return adversary


def _clean_transcript(run):
    holder = {}
    original = ClassicalChannel.with_random_key

    def spy(rng, *args, **kwargs):
        holder["channel"] = original(rng, *args, **kwargs)
        return holder["channel"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(session_module.ClassicalChannel, "with_random_key", staticmethod(spy))
        run()
    return holder["channel"].transcript


@pytest.mark.parametrize("protocol", ["e91", "bbm92"])
def test_tampering_with_any_message_aborts_the_run(protocol):
    def run():
        if protocol == "e91":
            return run_e91(20_000, seed=1, key_options=KeyOptions(distill=False))
        return run_bbm92(20_000, seed=1, key_options=KeyOptions(distill=False))

    transcript = _clean_transcript(run)
    assert len(transcript) >= 5
    original = ClassicalChannel.with_random_key
    for target in range(len(transcript)):

        def tampered(rng, *args, target=target, **kwargs):
            return original(rng, *args, adversary=_flip_message(target), **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(session_module.ClassicalChannel, "with_random_key", staticmethod(tampered))
            with pytest.raises(AuthenticationError, match=f"message {target} "):
                run()


def test_transcript_holds_no_key_bits_but_counts_disclosure():
    channel = ClassicalChannel.with_random_key(np.random.default_rng(0))
    channel.send("alice", "parity", np.array([1], dtype=np.uint8), disclosed_bits=1)
    channel.send("bob", "ack", True)
    assert channel.disclosed_bits == 1
    assert channel.auth_key_bits_used == 8 * 66 + 2 * 128


def test_exhausted_preshared_key_is_a_clear_error():
    channel = ClassicalChannel(bytes(66 + 32))
    channel.send("alice", "a", 1)
    channel.send("alice", "b", 2)
    with pytest.raises(Exception, match="exhausted"):
        channel.send("alice", "c", 3)


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_settings_pack_round_trip(width):
    settings = np.random.default_rng(width).integers(0, 1 << min(width, 7), 1237).astype(np.uint8)
    assert np.array_equal(unpack_settings(pack_settings(settings, width), width, settings.size), settings)


def test_bad_endpoint_probabilities_are_rejected():
    with pytest.raises(ValidationError, match="probabilities"):
        Endpoint("alice", (0.0, 1.0), np.random.default_rng(0), probabilities=(0.7, 0.7))
