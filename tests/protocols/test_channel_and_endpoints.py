"""Endpoints own their data; every channel message is authenticated."""

from dataclasses import replace

import numpy as np
import pytest
from channel_spy import run_with_channel

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
    return run_with_channel(run)[1].transcript


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


def _edited(value):
    """A different value of the same kind (used when a payload cannot change in place)."""
    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, (int, np.integer)):
        return int(value) ^ 1
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, np.ndarray):
        return np.append(value, np.uint8(1)) if value.size == 0 else value ^ 1
    if isinstance(value, tuple):
        return (_edited(value[0]), *value[1:])
    if isinstance(value, list):
        return [_edited(value[0]), *value[1:]] if value else [1]
    return str(value) + "!"


def _edit_in_place(target: int):
    """An adversary that edits message ``target``'s payload in place when it is mutable."""

    def adversary(message: Message) -> Message:
        if message.seq != target:
            return message
        payload = message.payload
        if isinstance(payload, tuple) and payload and isinstance(payload[0], np.ndarray) and payload[0].size:
            payload = payload[0]  # a tuple holding arrays: edit the array inside
        if isinstance(payload, np.ndarray) and payload.size:
            payload.flags.writeable = True
            payload.flat[0] ^= 1
        elif isinstance(payload, dict) and payload:
            first = sorted(payload)[0]
            payload[first] = _edited(payload[first])
        elif isinstance(payload, list) and payload:
            payload[0] = _edited(payload[0])
        else:
            return replace(message, payload=_edited(payload))
        return message  # the very same object, edited

    return adversary


@pytest.mark.parametrize(
    "payload",
    [
        {"S": 2.7, "S_stderr": 0.01},
        [3, 4],
        np.arange(8, dtype=np.uint8),
        (np.arange(4, dtype=np.uint8), 5),
    ],
    ids=["dict", "list", "array", "tuple-of-array"],
)
def test_in_place_edits_of_a_payload_fail_authentication(payload):
    channel = ClassicalChannel.with_random_key(np.random.default_rng(0), adversary=_edit_in_place(0))
    with pytest.raises(AuthenticationError, match="message 0 "):
        channel.send("alice", "data", payload)
    assert channel.transcript == ()


def test_untouched_messages_still_verify():
    channel = ClassicalChannel.with_random_key(np.random.default_rng(0), adversary=lambda message: message)
    received = channel.send("bob", "data", {"a": np.arange(3), "b": [1, 2]})
    assert received["b"] == [1, 2] and np.array_equal(received["a"], np.arange(3))


def _distillation_targets(transcript) -> list[int]:
    """First and last message of every distillation kind (after sifting and estimation)."""
    kinds = ("cascade/", "ldpc/", "verify/", "amplify/")
    targets: dict[str, list[int]] = {}
    for message in transcript:
        if message.kind.startswith(kinds):
            targets.setdefault(message.kind, []).append(message.seq)
    return sorted({seq for seqs in targets.values() for seq in (seqs[0], seqs[-1])})


@pytest.mark.parametrize(
    ("ec", "p_z", "pairs", "depolarizing", "seed", "prefixes"),
    [
        ("cascade", 0.5, 40_000, 0.04, 1, ("cascade/", "verify/", "amplify/")),
        ("ldpc", 0.8, 20_000, 0.03, 3, ("ldpc/",)),  # one that needs a retry (revealed bits)
    ],
)
def test_tampering_with_distillation_messages_of_a_full_run_is_detected(
    ec, p_z, pairs, depolarizing, seed, prefixes
):
    from qentangle.noise import NoiseConfig

    noise = NoiseConfig(depolarizing=depolarizing)

    def run():
        return run_bbm92(pairs, p_z=p_z, noise=noise, seed=seed, key_options=KeyOptions(ec=ec))

    transcript = _clean_transcript(run)
    targets = [t for t in _distillation_targets(transcript) if transcript[t].kind.startswith(prefixes)]
    if ec == "ldpc":  # decoding is slow: the first message of each LDPC kind
        targets = sorted({transcript[t].kind: t for t in reversed(targets)}.values())
    assert {transcript[t].kind.split("/")[0] + "/" for t in targets} == set(prefixes)
    assert transcript[-1].kind == "amplify/seed"  # the run went all the way to a key
    original = ClassicalChannel.with_random_key
    for target in targets:

        def tampered(rng, *args, target=target, **kwargs):
            return original(rng, *args, adversary=_edit_in_place(target), **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(session_module.ClassicalChannel, "with_random_key", staticmethod(tampered))
            with pytest.raises(AuthenticationError, match=f"message {target} "):
                run()


def test_progress_bar_appears_only_when_watched_and_after_a_delay(monkeypatch):
    import io
    import sys

    from qentangle import progress

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a file, not a terminal
    assert not progress.watched()
    assert progress.progress_bar(10, progress=None, label="x").disable
    monkeypatch.setitem(sys.modules, "ipykernel", object())  # inside a Jupyter kernel
    assert progress.watched()
    monkeypatch.setattr(progress, "watched", lambda: True)
    with progress.progress_bar(10, progress=None, label="x") as bar:
        assert not bar.disable and bar.delay == progress.PROGRESS_DELAY_S
    assert progress.progress_bar(10, progress=False, label="x").disable
