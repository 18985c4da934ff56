"""Test helper: run a protocol and keep the classical channel it opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qentangle.channel import ClassicalChannel
from qentangle.protocols import session as session_module


def run_with_channel(run: Callable[[], Any]) -> tuple[Any, ClassicalChannel]:
    """``run()``'s result and the channel its session created (transcript, disclosed bits)."""
    holder = {}
    original = ClassicalChannel.with_random_key

    def spy(rng, *args, **kwargs):
        holder["channel"] = original(rng, *args, **kwargs)
        return holder["channel"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(session_module.ClassicalChannel, "with_random_key", staticmethod(spy))
        result = run()
    return result, holder["channel"]
