"""The source node: the entangled-pair source and the link, emulated, serving detection records.

Each station connects on its own TCP connection (the quantum channel) and asks for a block by
number; the source answers with *that station's own* settings and outcomes of the block's
detected pairs, never the other station's (passive basis choice at each station makes this
physically exact). A block's records depend only on the network seed and the block number, so
a station (or the source) that restarts resumes from any block. Requests are answered when
the emulated clock reaches the block's end (``speed`` emulated seconds per second; 0 = at
once); a station that is slower than the stream simply asks later (back-pressure is the
station's pull).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict

import numpy as np

from qentangle.engines import get_engine
from qentangle.network.config import NetworkConfig
from qentangle.network.wire import ConnectionClosed, WireError, recv_value, send_value
from qentangle.noise import NoiseConfig
from qentangle.protocols.session import open_session
from qentangle.states import BASIS_ANGLES

log = logging.getLogger("qentangle.network.source")
_CACHE_BLOCKS = 8


class Source:
    """Generates each block's detection records once and serves each station its own half."""

    def __init__(self, config: NetworkConfig, seed: int) -> None:
        self.config, self.seed = config, seed
        self.engine = get_engine("exact")
        self.noise = NoiseConfig(depolarizing=config.depolarizing)
        self._cache: OrderedDict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()
        self._preparing: set[int] = set()
        self._clock: tuple[int, float] | None = None  # (first block asked, when)
        self.served = 0

    def records(self, block: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Both stations' ``(settings, outcomes)`` of ``block`` (deterministic in seed and block)."""
        with self._lock:
            if block in self._cache:
                self._cache.move_to_end(block)
                return self._cache[block]
            session = open_session(
                pairs=self.config.rounds_per_block,
                noise=self.noise,
                seed=np.random.SeedSequence([self.seed, block]),
                engine=self.engine,
                angles_alice=BASIS_ANGLES,
                angles_bob=BASIS_ANGLES,
                probabilities_alice=(0.5, 0.5),
                probabilities_bob=(0.5, 0.5),
            )
            parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for _ in session.stream(self.config.rounds_per_block, progress=False, label="source"):
                parts = {
                    "alice": (session.alice.settings.copy(), session.alice.bits.copy()),
                    "bob": (session.bob.settings.copy(), session.bob.bits.copy()),
                }
            self._cache[block] = parts
            while len(self._cache) > _CACHE_BLOCKS:
                self._cache.popitem(last=False)
            return parts

    def wait_for(self, block: int) -> None:
        """Sleep until the emulated clock has produced ``block`` (pacing, not synchronisation)."""
        if self.config.speed <= 0:
            return
        with self._lock:
            if self._clock is None or block < self._clock[0]:
                self._clock = (block, time.monotonic())
            first, when = self._clock
        due = when + (block - first + 1) * self.config.block_seconds / self.config.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def handle(self, conn: socket.socket) -> None:
        """Serve one station's requests until it disconnects."""
        with conn:
            try:
                while True:
                    request = recv_value(conn)
                    role, block = request.get("role"), request.get("block")
                    if role not in ("alice", "bob") or not isinstance(block, int) or block < 0:
                        log.warning("bad request from a station: %r", request)
                        return
                    self.wait_for(block)
                    settings, bits = self.records(block)[role]
                    send_value(conn, {"block": block, "settings": settings, "bits": bits})
                    self.served += 1
                    self._prepare(block + 1)
            except (ConnectionClosed, OSError, WireError, AttributeError) as error:
                log.info("station connection ended: %s", error)

    def _prepare(self, block: int) -> None:
        """Generate ``block`` in the background, so it is ready when the stations ask."""
        with self._lock:
            if block in self._cache or block in self._preparing:
                return
            self._preparing.add(block)

        def work() -> None:
            try:
                self.records(block)
            finally:
                self._preparing.discard(block)

        threading.Thread(target=work, daemon=True).start()

    def serve_forever(self, listener: socket.socket) -> None:
        """Accept station connections, one thread each."""
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
