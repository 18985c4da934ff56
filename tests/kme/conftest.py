"""Fixtures: two running KMEs (shared, or a test's own); every KME process is stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kme_harness import KmeNetwork, make_network


@pytest.fixture(scope="session")
def kme_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmeNetwork]:
    """Two KMEs shared by the tests that only take keys (20 000 keys of 256 bits)."""
    network = make_network(tmp_path_factory.mktemp("kme-network"), blocks=4, keys_per_block=5000)
    try:
        network.start()
        yield network
    finally:
        network.stop()


@pytest.fixture
def own_network(tmp_path: Path) -> Iterator[KmeNetwork]:
    """Two KMEs of a test's own (for restarts and exhaustion): 1000 keys."""
    network = make_network(tmp_path)
    try:
        network.start()
        yield network
    finally:
        network.stop()
