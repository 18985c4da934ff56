"""Many SAE clients at once: no key delivered twice or to the wrong SAE, both sides identical, no 500.

Clients are async httpx clients with their own mTLS connections. Each round a master SAE takes
keys at its KME and its slave SAE fetches them by ID at the other KME; every delivered key is
recorded with the SAE that received it. 20 clients for a few seconds in ``make test``; 100
clients for 30 s under ``make fuzz``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import httpx
import pytest
from kme_harness import KmeNetwork, make_network

PAIRS = [
    ("delingha", "nanshan"),
    ("delingha-2", "nanshan-2"),
    ("nanshan", "delingha"),
    ("nanshan-2", "delingha-2"),
]


async def _client_loop(network: KmeNetwork, index: int, seconds: float, log: list, statuses: Counter) -> None:
    master, slave = PAIRS[index % len(PAIRS)]
    rng = random.Random(index)
    async with (
        httpx.AsyncClient(base_url=network.url(master), verify=network.ssl_context(master), timeout=60) as m,
        httpx.AsyncClient(base_url=network.url(slave), verify=network.ssl_context(slave), timeout=60) as s,
    ):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            number = rng.randint(1, 4)
            got = await m.post(f"/api/v1/keys/{slave}/enc_keys", json={"number": number, "size": 256})
            statuses[got.status_code] += 1
            if got.status_code != 200:
                continue
            keys = got.json()["keys"]
            log.extend((master, "master", k["key_ID"], k["key"]) for k in keys)
            body = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
            back = await s.post(f"/api/v1/keys/{master}/dec_keys", json=body)
            statuses[back.status_code] += 1
            if back.status_code == 200:
                log.extend((slave, "slave", k["key_ID"], k["key"]) for k in back.json()["keys"])
            if rng.random() < 0.2:  # a retry of the same IDs must be refused
                again = await s.post(f"/api/v1/keys/{master}/dec_keys", json=body)
                statuses[f"retry-{again.status_code}"] += 1


def _hammer(network: KmeNetwork, clients: int, seconds: float) -> tuple[list, Counter]:
    log: list = []
    statuses: Counter = Counter()

    async def main() -> None:
        await asyncio.gather(*(_client_loop(network, i, seconds, log, statuses) for i in range(clients)))

    asyncio.run(main())
    return log, statuses


def _check(log: list, statuses: Counter) -> None:
    assert statuses[200] > 0
    assert not [code for code in statuses if str(code).endswith("500") or code == 500], statuses
    assert set(statuses) <= {200, "retry-400"}, statuses
    by_side: dict[str, dict[str, tuple[str, str]]] = {"master": {}, "slave": {}}
    for sae, side, key_id, key in log:
        assert key_id not in by_side[side], f"key {key_id} delivered twice on the {side} side"
        by_side[side][key_id] = (sae, key)
    assert by_side["master"].keys() == by_side["slave"].keys()
    partner = dict(PAIRS)
    for key_id, (master, key) in by_side["master"].items():
        slave, slave_key = by_side["slave"][key_id]
        assert slave == partner[master], f"key {key_id} went to {slave}, not {partner[master]}"
        assert slave_key == key


@pytest.mark.timeout(180)
def test_twenty_clients(kme_network: KmeNetwork) -> None:
    log, statuses = _hammer(kme_network, clients=20, seconds=4.0)
    _check(log, statuses)


@pytest.mark.fuzz
@pytest.mark.timeout(600)
def test_hundred_clients_thirty_seconds(tmp_path) -> None:
    network = make_network(tmp_path, blocks=10, keys_per_block=20000)
    try:
        network.start()
        log, statuses = _hammer(network, clients=100, seconds=30.0)
    finally:
        network.stop()
    _check(log, statuses)
    print(f"100 clients, 30 s: {statuses[200]} answers 200, {len(log) // 2} keys on each side")
