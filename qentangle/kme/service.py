"""What a KME does, apart from HTTP: ETSI GS QKD 014 status, enc_keys and dec_keys on a key store.

*Allocation between the two KMEs.* When a master SAE asks its KME for keys (``enc_keys``), the KME

1. allocates stored keys to the (master, slave) pair in its store (one transaction),
2. sends the allocations (key IDs and the stored keys they are made of; never key bits) to the
   slave SAE's KME over HTTPS with mutual TLS, which records them in *its* store (one
   transaction; refused if a key is missing there or already allocated otherwise),
3. only then delivers the keys to the master SAE (one transaction, the bits are wiped after).

If step 2 fails the allocation is released and the SAE gets 503; a crash between the steps
leaves keys allocated but undelivered, never a key that could be handed out twice. Requests that
arrive together are served in one batch: one transaction per step and one message to the other
KME for all of them (group commit), which is what makes the KME fast under load.

The slave SAE then asks its own KME for the keys by ID (``dec_keys``): delivered once, only to
the slave SAE of the pair they were allocated to.

Errors are :class:`KmeError` with the HTTP status and the spec's ``{"message", "details"}``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from qentangle.errors import QentangleError, ValidationError
from qentangle.kme.config import KmeConfig, read_ready
from qentangle.kme.pki import identity_from_peercert
from qentangle.network.keystore import (
    Allocation,
    KeyAccessError,
    KeyStore,
    KeyStoreError,
    KeysUnavailable,
)

T = TypeVar("T")
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PEER_PATH = "/internal/v1/allocations"
#: Client sockets send each write at once (httpx writes a request's head and body separately;
#: with Nagle's algorithm the body would wait ~40 ms for the server's delayed ACK).
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class KmeError(QentangleError):
    """An error the KME answers with ``status`` and the spec's JSON ``{"message", "details"}``."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        return body


@dataclass
class _Pending:
    caller: str
    slave: str
    number: int
    size: int
    future: asyncio.Future


class KmeService:
    """One KME over its station's key store (opened with ``owner="kme"``).

    Call :meth:`start` inside the event loop before serving and :meth:`close` after.
    """

    def __init__(self, config: KmeConfig, store: KeyStore) -> None:
        self.config = config
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{config.kme_id}-store")
        self._queue: list[_Pending] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._peers: httpx.AsyncClient | None = None
        self._peer_urls: dict[str, str] = {}
        kmes = sorted([config.kme_id, *config.peers])
        #: This KME allocates, as master, only stored keys of its own lane (index mod the number of
        #: KMEs), so two KMEs taking keys at the same time never pick the same stored key.
        self.lane = (kmes.index(config.kme_id), len(kmes))
        self.counters = {"enc_keys": 0, "dec_keys": 0, "keys_delivered": 0, "batches": 0, "peer_failures": 0}

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._worker = asyncio.create_task(self._serve_batches())
        pki = self.config.pki
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(str(pki.kme_cert(self.config.kme_id)), str(pki.kme_key(self.config.kme_id)))
        transport = httpx.AsyncHTTPTransport(
            verify=context, limits=httpx.Limits(max_connections=8), socket_options=NODELAY
        )
        self._peers = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0))

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for pending in self._queue:
            if not pending.future.done():
                pending.future.set_exception(KmeError(503, "the KME is shutting down"))
        self._queue.clear()
        if self._peers is not None:
            await self._peers.aclose()
            self._peers = None
        self._executor.shutdown(wait=True)

    async def _store(self, function: Callable[..., T], *args: Any) -> T:
        """Run a store call on the store's own thread (the event loop keeps serving meanwhile)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # ------------------------------------------------------------------ ETSI methods
    async def status(self, caller: str, slave: str) -> dict[str, Any]:
        """``GET /api/v1/keys/{slave_SAE_ID}/status`` for master SAE ``caller``."""
        self._check_local(caller)
        peer = self._peer_of(slave, "slave_SAE_ID")
        available, bits = await self._store(
            lambda: (self.store.available_bytes(lane=self.lane), self.store.stored_bits())
        )
        key_size = self.config.default_key_size
        return {
            "source_KME_ID": self.config.kme_id,
            "target_KME_ID": peer,
            "master_SAE_ID": caller,
            "slave_SAE_ID": slave,
            "key_size": key_size,
            "stored_key_count": int(available // (key_size // 8)),
            "max_key_count": int(bits // key_size // self.lane[1]),
            "max_key_per_request": self.config.max_key_per_request,
            "max_key_size": self.config.max_key_size,
            "min_key_size": self.config.min_key_size,
            "max_SAE_ID_count": 0,
        }

    async def enc_keys(
        self,
        caller: str,
        slave: str,
        *,
        number: Any = None,
        size: Any = None,
        additional_slave_sae_ids: Sequence[Any] | None = None,
        extension_mandatory: Any = None,
    ) -> dict[str, Any]:
        """``enc_keys`` (Get key) for master SAE ``caller``: a key container of ``number`` keys.

        ``extension_optional`` may be ignored by the spec's rule and is; any
        ``extension_mandatory`` or ``additional_slave_SAE_IDs`` is refused with 400 (this KME
        supports neither: ``max_SAE_ID_count`` is 0).
        """
        self._check_local(caller)
        self._peer_of(slave, "slave_SAE_ID")
        number = self._check_number(number)
        size = self._check_size(size)
        if additional_slave_sae_ids:
            raise KmeError(
                400,
                "requested parameters do not adhere to KME rules",
                [{"additional_slave_SAE_IDs_unsupported": "one slave SAE per key (max_SAE_ID_count 0)"}],
            )
        if extension_mandatory:
            names = _extension_names(extension_mandatory)
            raise KmeError(
                400,
                "not all extension_mandatory parameters are supported",
                [{"extension_mandatory_unsupported": names}],
            )
        if self._wakeup is None:
            raise KmeError(503, "the KME is not started")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(caller, slave, number, size, future))
        self._wakeup.set()
        keys: list[tuple[str, bytes]] = await future
        self.counters["enc_keys"] += 1
        return _container(keys)

    async def dec_keys(self, caller: str, master: str, key_ids: Sequence[Any]) -> dict[str, Any]:
        """``dec_keys`` (Get key with key IDs) for slave SAE ``caller``: the keys master SAE
        ``master`` took for it, once."""
        self._check_local(caller)
        self._peer_of(master, "master_SAE_ID")
        ids = _check_key_ids(key_ids, self.config.max_key_per_request)
        try:
            keys = await self._store(
                lambda: self.store.deliver(ids, role="slave", master_sae=master, slave_sae=caller)
            )
        except KeyAccessError as error:
            status = 401 if "another SAE pair" in str(error) else 400
            raise KmeError(
                status,
                "keys not available to this SAE" if status == 401 else "key not found",
                [{"key_ID": str(error)}],
            ) from None
        except KeyStoreError as error:
            raise KmeError(503, "key store error", [{"store": str(error)}]) from None
        self.counters["dec_keys"] += 1
        self.counters["keys_delivered"] += len(keys)
        return _container(keys)

    # ------------------------------------------------------------------ KME to KME
    async def record_peer_allocations(self, peer_kme: str, payload: Any) -> dict[str, Any]:
        """The other KME tells us which keys it allocated to (its SAE, our SAE) pairs."""
        if peer_kme not in self.config.peers:
            raise KmeError(401, "unknown KME", [{"kme": peer_kme}])
        if not isinstance(payload, dict) or not isinstance(payload.get("allocations"), list):
            raise KmeError(400, "bad request format", [{"allocations": "expected a list"}])
        try:
            allocations = [Allocation.from_dict(item) for item in payload["allocations"]]
        except (ValidationError, AttributeError, TypeError) as error:
            raise KmeError(400, "bad request format", [{"allocations": str(error)}]) from None
        for allocation in allocations:
            if (
                allocation.master_sae not in self.config.peers[peer_kme]
                or allocation.slave_sae not in self.config.sae_ids
            ):
                raise KmeError(401, "allocation for an SAE pair this KME does not serve with that KME")
        try:
            await self._store(self.store.record_allocations, allocations)
        except KeysUnavailable as error:
            raise KmeError(503, "keys not stored at this station yet", [{"store": str(error)}]) from None
        except KeyStoreError as error:
            raise KmeError(
                409 if isinstance(error, KeyAccessError) else 503,
                "allocation refused",
                [{"store": str(error)}],
            ) from None
        return {"recorded": len(allocations)}

    # ------------------------------------------------------------------ batches of enc_keys
    async def _serve_batches(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            try:
                await self._serve(batch)
            except Exception as error:  # never leave a request hanging
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(
                            KmeError(503, "error of the KME", [{"error": type(error).__name__}])
                        )

    async def _serve(self, batch: list[_Pending]) -> None:
        self.counters["batches"] += 1
        requests = [(p.number, p.size, p.caller, p.slave) for p in batch]
        try:
            results = await self._store(lambda: self.store.allocate_many(requests, lane=self.lane))
        except KeyStoreError as error:
            for pending in batch:
                pending.future.set_exception(KmeError(503, "key store error", [{"store": str(error)}]))
            return
        granted: dict[str, list[tuple[_Pending, list[Allocation]]]] = {}
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, KeysUnavailable):
                pending.future.set_exception(
                    KmeError(
                        503,
                        "keys exhausted: the key store holds fewer keys than requested",
                        [{"stored_keys": str(result)}],
                    )
                )
                continue
            peer = self.config.peer_kme_of(pending.slave)
            assert peer is not None
            granted.setdefault(peer, []).append((pending, result))
        to_deliver: list[tuple[_Pending, list[Allocation]]] = []
        for peer, group in granted.items():
            allocations = [a for _, allocs in group for a in allocs]
            failure = await self._push(peer, allocations)
            if failure is None:
                to_deliver.extend(group)
                continue
            self.counters["peer_failures"] += 1
            await self._store(self.store.release, [a.key_id for a in allocations])
            for pending, _ in group:
                pending.future.set_exception(failure)
        if not to_deliver:
            return
        deliveries = [
            ([a.key_id for a in allocs], "master", pending.caller, pending.slave)
            for pending, allocs in to_deliver
        ]
        delivered = await self._store(self.store.deliver_many, deliveries)
        for (pending, _), keys in zip(to_deliver, delivered, strict=True):
            if isinstance(keys, KeyAccessError):
                pending.future.set_exception(KmeError(503, "key store error", [{"store": str(keys)}]))
            else:
                self.counters["keys_delivered"] += len(keys)
                pending.future.set_result(keys)

    async def _push(self, peer: str, allocations: list[Allocation]) -> KmeError | None:
        """Send allocations to the peer KME; ``None`` when it recorded them all."""
        assert self._peers is not None
        body = {"allocations": [a.to_dict() for a in allocations]}
        for attempt in range(2):
            url = self._peer_url(peer, refresh=attempt > 0)
            if url is None:
                return KmeError(503, "the slave SAE's KME is not running", [{"kme": peer}])
            try:
                response = await self._peers.post(url + PEER_PATH, json=body)
            except httpx.HTTPError as error:
                if attempt == 0:
                    continue
                return KmeError(
                    503,
                    "the slave SAE's KME cannot be reached",
                    [{"kme": peer, "error": type(error).__name__}],
                )
            if not _served_by(response, peer):
                return KmeError(503, "the slave SAE's KME did not prove its identity", [{"kme": peer}])
            if response.status_code == 200:
                return None
            try:
                detail = response.json()
            except ValueError:
                detail = {"message": response.text[:200]}
            return KmeError(
                503, "the slave SAE's KME refused the allocation", [{"kme": peer, "reply": detail}]
            )
        return KmeError(503, "the slave SAE's KME cannot be reached", [{"kme": peer}])

    def _peer_url(self, peer: str, *, refresh: bool) -> str | None:
        if refresh or peer not in self._peer_urls:
            ready = read_ready(self.config.network_dir, peer)
            if ready is None:
                self._peer_urls.pop(peer, None)
                return None
            self._peer_urls[peer] = str(ready["url"])
        return self._peer_urls[peer]

    # ------------------------------------------------------------------ checks
    def _check_local(self, caller: str) -> None:
        if caller not in self.config.sae_ids:
            raise KmeError(401, "unauthorized: this KME does not serve the calling SAE", [{"SAE_ID": caller}])

    def _peer_of(self, sae: str, name: str) -> str:
        peer = self.config.peer_kme_of(sae)
        if peer is None:
            if sae in self.config.sae_ids:
                detail = f"{sae} is served by this KME: keys go between SAEs of different stations"
            else:
                detail = f"{sae} is not an SAE of this network"
            raise KmeError(400, f"{name} is not valid", [{name: detail}])
        return peer

    def _check_number(self, number: Any) -> int:
        if number is None:
            return 1
        if isinstance(number, bool) or not isinstance(number, int):
            raise KmeError(400, "bad request format", [{"number": "expected an integer"}])
        if not 1 <= number <= self.config.max_key_per_request:
            raise KmeError(
                400,
                "requested parameters do not adhere to KME rules",
                [
                    {
                        "number_unsupported": f"number={number}: expected"
                        f" 1 <= number <= {self.config.max_key_per_request}"
                    }
                ],
            )
        return number

    def _check_size(self, size: Any) -> int:
        if size is None:
            return self.config.default_key_size
        if isinstance(size, bool) or not isinstance(size, int):
            raise KmeError(400, "bad request format", [{"size": "expected an integer"}])
        if size % 8:
            raise KmeError(
                400,
                "requested parameters do not adhere to KME rules",
                [{"size_not_multiple_of_8": f"size={size}: expected a multiple of 8 bits"}],
            )
        if not self.config.min_key_size <= size <= self.config.max_key_size:
            raise KmeError(
                400,
                "requested parameters do not adhere to KME rules",
                [
                    {
                        "size_unsupported": f"size={size}: expected"
                        f" {self.config.min_key_size} <= size <= {self.config.max_key_size}"
                    }
                ],
            )
        return size


def _container(keys: list[tuple[str, bytes]]) -> dict[str, Any]:
    return {
        "keys": [{"key_ID": key_id, "key": base64.b64encode(bits).decode("ascii")} for key_id, bits in keys]
    }


def _check_key_ids(key_ids: Sequence[Any], limit: int) -> list[str]:
    if not key_ids:
        raise KmeError(400, "bad request format", [{"key_IDs": "expected at least one key_ID"}])
    if len(key_ids) > limit:
        raise KmeError(
            400,
            "requested parameters do not adhere to KME rules",
            [{"key_IDs": f"{len(key_ids)} key IDs: expected at most {limit}"}],
        )
    ids = []
    for key_id in key_ids:
        if not isinstance(key_id, str) or not UUID_PATTERN.match(key_id):
            raise KmeError(400, "bad request format", [{"key_ID": "expected a UUID"}])
        ids.append(key_id.lower())
    if len(set(ids)) != len(ids):
        raise KmeError(400, "bad request format", [{"key_IDs": "a key_ID is repeated"}])
    return ids


def _extension_names(extensions: Any) -> list[str]:
    """Names of the extension parameters (the spec sends an array of one-pair objects)."""
    items = extensions if isinstance(extensions, list) else [extensions]
    names: list[str] = []
    for item in items:
        if isinstance(item, dict):
            names.extend(str(name) for name in item)
        else:
            names.append(str(item)[:64])
    return names


def _served_by(response: httpx.Response, peer: str) -> bool:
    """Whether the verified server certificate of ``response`` is the KME ``peer``'s."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return False
    return identity_from_peercert(ssl_object.getpeercert()) == ("kme", peer)
