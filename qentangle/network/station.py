"""Ground stations: each receives its own detection records and runs BBM92 with the other.

Alice connects to Bob over TCP. Each block, both fetch their own records of the block from the
source, then run *the same party programs as the in-process protocol*: sifting
(:func:`qentangle.protocols.sifting.bbm92_sift_party`, as the click path runs it), then
:func:`qentangle.protocols.keying.block_party` (estimation, abort rules, LDPC error correction,
verification, privacy amplification), every message through an
:class:`~qentangle.network.transport.AuthenticatedConnection`.

Storing a block (two-phase, survives SIGKILL at any point)
----------------------------------------------------------
1. Alice writes the block ``pending`` (keys not usable) and sends ``commit/propose``.
2. Bob writes it ``stored`` (one transaction) and answers ``commit/done``.
3. Alice confirms it (``stored``).

So Bob never holds a block Alice has not written. On every (re)connection, after the set-up
messages are authenticated, Alice resolves her pending block: **stored at Bob -> confirmed,
absent at Bob -> dropped**. Both stores then hold the same blocks, with the same key IDs
(derived from the block ID) and the same bits. Block numbers only grow: each station persists
the last block it *attempted* before working on it, and the next block is one past the larger
of the two, so raw data that a failed attempt disclosed anything about is never distilled
again, and no block ID (hence no key ID) is reused.

A rejected message (tampered, replayed, reordered, truncated), a timeout or a dropped
connection aborts the block: nothing of it is stored; the reason is counted in
``stats.json``; the stations reconnect (new pad window) and go on with the next block.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.channel_transport import PartyEnd, PartyProgram, ProtocolMismatch, run_party
from qentangle.errors import AuthenticationError, QentangleError
from qentangle.files import write_atomic
from qentangle.network.config import NetworkConfig
from qentangle.network.keystore import KeyStore
from qentangle.network.transport import (
    PAD_BYTES,
    AuthenticatedConnection,
    MessageRejected,
    PadPool,
    TransportTimeout,
    replenish_bytes,
)
from qentangle.network.wire import ConnectionClosed, WireError, recv_value, send_value
from qentangle.protocols.keying import KeyOptions, block_party
from qentangle.protocols.sifting import bbm92_sift_party

PER_DIRECTION = 8192  # default pads per direction in one connection's window (config auth_window_pads)
log = logging.getLogger("qentangle.network.station")


#: Old name of the shared sifting program (its home is qentangle.protocols.sifting).
sift_party = bbm92_sift_party


def station_block_party(
    end: PartyEnd,
    settings: np.ndarray,
    bits: np.ndarray,
    options: KeyOptions,
    *,
    rng: np.random.Generator | None = None,
) -> PartyProgram[tuple[Any, Any, int]]:
    """Sifting, then the protocol's own :func:`~qentangle.protocols.keying.block_party`."""
    key, labels = yield from bbm92_sift_party(end, settings, bits)
    estimate, side = yield from block_party(
        end, key, options, (options.eps_sec, options.eps_cor), labels=labels, rng=rng
    )
    return estimate, side, int(labels.size)


@dataclass
class StationStats:
    """Counters a station keeps in ``stats.json`` (no key bits)."""

    role: str
    blocks_stored: int = 0
    blocks_aborted: int = 0
    keys_stored: int = 0
    bits_stored: int = 0
    sifted_bits: int = 0
    reconnects: int = 0
    abort_reasons: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    last_block: str | None = None
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    pads_remaining: int = 0
    state: str = "starting"

    def count(self, table: dict[str, int], reason: str) -> None:
        table[reason] = table.get(reason, 0) + 1


class Station:
    """A ground station process: ``role`` is ``alice`` (connects) or ``bob`` (listens)."""

    def __init__(self, config: NetworkConfig, role: str, directory: Path, network_id: str) -> None:
        self.config, self.role, self.directory = config, role, Path(directory)
        self.network_id = network_id
        self.store = KeyStore.open(self.directory / "keys.sqlite", owner="station")
        self.pool = PadPool(self.directory, self.store)  # bootstrap key, then replenished pads
        self.options = KeyOptions(
            sample_fraction=config.sample_fraction,
            ec=config.ec,
            eps_sec=config.eps_sec,
            eps_cor=config.eps_cor,
            block_bits=max(1024, 2 * config.rounds_per_block),
        )
        self.stats = self._load_stats()
        self.attempted = self._load_attempted()
        self.source_address: tuple[str, int] | None = None
        self._source: socket.socket | None = None
        self._prefetch: tuple[int, threading.Thread, dict[str, Any]] | None = None
        self.timeout = config.timeout_s

    # ------------------------------------------------------------------ persistent state
    def _load_attempted(self) -> int:
        try:
            return int(json.loads((self.directory / "state.json").read_text())["attempted"])
        except FileNotFoundError:
            return -1
        except (OSError, ValueError, KeyError, TypeError):
            raise QentangleError(f"station state {str(self.directory / 'state.json')!r} is corrupt") from None

    def _load_stats(self) -> StationStats:
        """The counters of earlier runs of this station (they add up across restarts)."""
        stats = StationStats(self.role)
        try:
            saved = json.loads((self.directory / "stats.json").read_text())
        except (OSError, ValueError):
            return stats
        for name in ("blocks_stored", "blocks_aborted", "keys_stored", "bits_stored", "sifted_bits",
                     "reconnects", "abort_reasons", "rejected", "last_block", "started"):
            if name in saved and isinstance(saved[name], type(getattr(stats, name)) | type(None)):
                setattr(stats, name, saved[name])
        return stats

    def _save_attempted(self, block: int) -> None:
        self.attempted = block
        write_atomic(self.directory / "state.json", json.dumps({"attempted": block}).encode(), mode=0o600)

    def save_stats(self) -> None:
        self.stats.updated = time.time()
        self.stats.pads_remaining = self.pool.remaining
        write_atomic(self.directory / "stats.json", json.dumps(self.stats.__dict__, indent=1).encode())

    def block_id(self, block: int) -> str:
        return f"{self.network_id}-{block:08d}"

    # ------------------------------------------------------------------ the source
    def fetch(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """This station's settings and outcomes of ``block`` from the source (reconnecting).

        The next block is fetched in the background while this one is distilled (one block
        ahead: a station slower than the source holds at most one block in memory).
        """
        records = None
        if self._prefetch is not None:
            ahead, thread, box = self._prefetch
            thread.join()
            self._prefetch = None
            if ahead == block and "records" in box:
                records = box["records"]
        if records is None:
            records = self._fetch_now(block)
        box: dict[str, Any] = {}
        thread = threading.Thread(target=self._prefetch_into, args=(block + 1, box), daemon=True)
        thread.start()
        self._prefetch = (block + 1, thread, box)
        return records

    def _prefetch_into(self, block: int, box: dict[str, Any]) -> None:
        try:
            box["records"] = self._fetch_now(block)
        except (OSError, ConnectionClosed, WireError) as error:  # fetched again when needed
            log.info("prefetch of block %d failed: %s", block, error)

    def _fetch_now(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        for attempt in range(3):
            try:
                if self._source is None:
                    assert self.source_address is not None
                    self._source = socket.create_connection(self.source_address, timeout=self.timeout)
                    pacing = self.config.block_seconds / self.config.speed if self.config.speed else 0.0
                    self._source.settimeout(self.timeout + 2 * pacing)
                send_value(self._source, {"role": self.role, "block": block})
                record = recv_value(self._source)
                if not isinstance(record, dict) or record.get("block") != block:
                    raise WireError("the source answered for another block")
                return record["settings"], record["bits"]
            except (OSError, ConnectionClosed, WireError):
                self._close_source()
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))  # back-off before reconnecting to the source
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_source(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    # ------------------------------------------------------------------ set-up
    def handshake(self, sock: socket.socket) -> tuple[AuthenticatedConnection, int]:
        """Agree on a pad window, authenticate the set-up, resolve a pending block.

        Returns the authenticated connection and the next block number.
        """
        sock.settimeout(self.timeout)
        pending = self._pending()
        mine = {
            "network": self.network_id,
            "role": self.role,
            "next_pad": self.pool.next_pad,
            "attempted": self.attempted,
            "pending": pending,
        }
        if self.role == "alice":
            send_value(sock, mine)
            theirs = recv_value(sock)
            hellos = [mine, theirs]
        else:
            theirs = recv_value(sock)
            if not isinstance(theirs, dict):
                raise MessageRejected("malformed", "set-up message is not a table")
            asked = theirs.get("pending")
            mine["has"] = bool(asked) and self.store.has_block(str(asked))
            send_value(sock, mine)
            hellos = [theirs, mine]
        alice, bob = hellos
        if (
            not isinstance(alice, dict)
            or not isinstance(bob, dict)
            or alice.get("network") != bob.get("network")
        ):
            raise MessageRejected("malformed", "set-up messages of another network")
        start = max(int(alice["next_pad"]), int(bob["next_pad"]))
        window = self.pool.reserve(start, 2 * self.config.auth_window_pads)
        if window != start:  # our own mark was ahead of what we announced: refuse, retry
            raise MessageRejected("malformed", "pad marks moved during set-up")
        connection = AuthenticatedConnection(
            sock, self.role, self.pool, window, self.config.auth_window_pads, timeout=self.timeout
        )
        # Authenticate what both saw of the set-up before acting on it.
        if self.role == "alice":
            connection.send_message("hello/confirm", hellos, 0)
            kind, echoed, _ = connection.recv_message()
        else:
            kind, echoed, _ = connection.recv_message()
            connection.send_message("hello/confirm", hellos, 0)
        if kind != "hello/confirm" or echoed != hellos:
            raise MessageRejected("tampered", "the stations saw different set-up messages")
        if self.role == "alice" and alice["pending"]:
            block_id = str(alice["pending"])
            if bob.get("has"):
                self.store.confirm_block(block_id)
                log.info("pending block %s confirmed (stored at bob)", block_id)
                self._count_stored(block_id)
            else:
                self.store.drop_block(block_id)
                log.info("pending block %s dropped (absent at bob)", block_id)
        return connection, max(int(alice["attempted"]), int(bob["attempted"])) + 1

    def _pending(self) -> str | None:
        last = self.store.last_block()
        if last is None:
            return None
        info = self.store.block_info(last) or {}
        return last if info.get("state") == "pending" else None

    # ------------------------------------------------------------------ blocks
    def run_block(self, connection: AuthenticatedConnection, block: int) -> None:
        """Fetch, distil and (both or neither) store one block."""
        self._save_attempted(block)
        if self.role == "alice":
            connection.send_message("block/start", block, 0)
        else:
            kind, announced, _ = connection.recv_message()
            if kind != "block/start" or announced != block:
                raise ProtocolMismatch(f"alice started block {announced!r}, bob expected {block}")
        settings, bits = self.fetch(block)
        rng = np.random.default_rng() if self.role == "alice" else None
        estimate, side, sifted = run_party(
            self.role, lambda end: station_block_party(end, settings, bits, self.options, rng=rng), connection
        )
        self.stats.sifted_bits += sifted
        reason = estimate.reason if side is None else side.result.abort_reason
        data = b""
        if reason is None:
            data = np.packbits(side.key).tobytes()
            if len(data) < self.config.key_bytes:
                bits = 8 * self.config.key_bytes
                reason = f"final key of {side.key.size} bits is shorter than one {bits}-bit key"
        if reason is not None:
            self.stats.blocks_aborted += 1
            self.stats.count(self.stats.abort_reasons, re.sub(r"[0-9][0-9.e+-]*", "#", reason)[:100])
            log.info("block %d aborted: %s", block, reason)
            return
        result = side.result
        params = {
            "protocol": "bbm92",
            "block": block,
            "rounds": int(settings.size),
            "sifted_bits": sifted,
            "final_key_bits": int(side.key.size),
            "eps_sec": self.options.eps_sec,
            "eps_cor": self.options.eps_cor,
            "qber": estimate.sample.rate if estimate.sample is not None else None,
            "phase_error_bound": result.phase_error_bound,
            "leaked_bits": result.leaked_bits,
            "ec": self.options.ec,
        }
        block_id = self.block_id(block)
        if self.role == "alice":  # replenishment: the first `auth` bytes become pads, never keys
            auth = replenish_bytes(self.pool, self.config.auth_reserve_pads, len(data), self.config.key_bytes)
            self.store.commit_block(
                block_id, data[auth:], key_bytes=self.config.key_bytes, params=params, state="pending",
                auth_pads=data[:auth],
            )
            connection.send_message("commit/propose", [block_id, auth], 0)
            kind, answer, _ = connection.recv_message()
            if kind != "commit/done" or answer != block_id:
                raise ProtocolMismatch(f"bob answered {kind!r} to the commit of {block_id}")
            self.store.confirm_block(block_id)
        else:
            kind, proposed, _ = connection.recv_message()
            if kind != "commit/propose" or not isinstance(proposed, list) or proposed[:1] != [block_id]:
                raise ProtocolMismatch(f"alice proposed {proposed!r}, bob expected {block_id}")
            auth = proposed[1] if len(proposed) == 2 and type(proposed[1]) is int else -1
            if not 0 <= auth <= len(data) - self.config.key_bytes or auth % PAD_BYTES:
                raise ProtocolMismatch(f"alice set aside {auth!r} bytes of a {len(data)}-byte key")
            self.store.commit_block(
                block_id, data[auth:], key_bytes=self.config.key_bytes, params=params, auth_pads=data[:auth]
            )
            connection.send_message("commit/done", block_id, 0)
        self._count_stored(block_id)
        log.info("block %d stored: %d bits", block, side.key.size)

    def _count_stored(self, block_id: str) -> None:
        info = self.store.block_info(block_id) or {}
        self.pool.refresh()  # the block's authentication pads, if any
        self.stats.blocks_stored += 1
        self.stats.keys_stored += int(info.get("key_count", 0))
        self.stats.bits_stored += 8 * int(info.get("key_count", 0)) * int(info.get("key_bytes", 0))
        self.stats.last_block = block_id

    def serve(self, connection: AuthenticatedConnection, block: int, stop: Any) -> None:
        """Blocks one after another on one connection, until its pad window runs low."""
        while not stop():
            left = self.config.auth_window_pads - max(connection.sent, connection.expected)
            if left < self.config.auth_window_pads // 4:
                return  # reconnect for a fresh window
            self.run_block(connection, block)
            block += 1
            self.save_stats()

    def session(self, sock: socket.socket, stop: Any) -> None:
        """One connection's life; every failure is counted, never fatal."""
        try:
            connection, block = self.handshake(sock)
            self.stats.state = "running"
            self.save_stats()
            self.serve(connection, block, stop)
        except MessageRejected as rejected:
            self.stats.count(self.stats.rejected, rejected.reason)
            self._aborted(f"rejected: {rejected.reason}")
            log.warning("%s", rejected)
        except ProtocolMismatch as mismatch:
            self.stats.count(self.stats.rejected, "out-of-order")
            self._aborted("rejected: out-of-order")
            log.warning("%s", mismatch)
        except AuthenticationError as error:
            self.stats.count(self.stats.rejected, "tampered")
            self._aborted("rejected: tampered")
            log.warning("%s", error)
        except TransportTimeout as timeout:
            self._aborted("timeout")
            log.warning("%s", timeout)
        except (ConnectionClosed, OSError, WireError) as error:
            self._aborted("connection lost")
            log.warning("connection lost: %s", error)
        finally:
            sock.close()
            self.stats.reconnects += 1
            self.stats.state = "reconnecting"
            self.save_stats()

    def _aborted(self, reason: str) -> None:
        self.stats.blocks_aborted += 1
        self.stats.count(self.stats.abort_reasons, reason)

    def close(self) -> None:
        """Close the store and the source connection (a prefetch thread dies with the process)."""
        self._close_source()
        self.store.close()
