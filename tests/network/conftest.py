"""Real node processes on loopback: a fixture that always stops them (by pid)."""

from __future__ import annotations

import pytest
from netutil import Network, small_config


@pytest.fixture
def network(tmp_path):
    net = Network(tmp_path / "net", small_config(tmp_path))
    try:
        yield net
    finally:
        net.stop()
