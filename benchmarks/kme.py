"""Benchmark of the KME (not a test): key requests per second and latency over loopback with mTLS.

Starts two real KME processes over two station stores holding identical keys, then, at 1, 10
and 100 concurrent clients (async httpx, one mutual-TLS keep-alive connection each, all in this
process), alternates runs of

* ``enc_keys``: a master SAE takes one 256-bit key (``POST .../enc_keys``, which includes the
  allocation message to the slave SAE's KME and three store transactions), and
* ``status``: the bare ``GET .../status`` in the same run, as the baseline of the HTTP + TLS +
  framework cost.

For each, requests/s and p50/p99 latency are medians over ``--reps`` runs of ``--seconds`` each,
with min and max. The load generator shares the machine with both KMEs.

    python benchmarks/kme.py [--seconds 3] [--reps 3] [--clients 1 10 100] [--synchronous FULL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from qentangle.kme import prepare_kmes, stop_kmes
from qentangle.kme.config import kme_entries
from qentangle.kme.service import NODELAY
from qentangle.network.keystore import KeyStore

KEY_BYTES = 32


def make_network(root: Path, keys: int) -> None:
    stores = {name: root / name.lower() / "keys.sqlite" for name in ("Delingha", "Nanshan")}
    handles = [KeyStore.open(path) for path in stores.values()]
    try:
        per_block = 50_000
        for index in range(0, keys, per_block):
            payload = os.urandom(min(per_block, keys - index) * KEY_BYTES)
            for store in handles:
                store.commit_block(f"bench-{index}", payload, key_bytes=KEY_BYTES, params={})
    finally:
        for store in handles:
            store.close()
    prepare_kmes(root, stores)


async def _worker(
    client: httpx.AsyncClient, kind: str, deadline: float, latencies: list, errors: list
) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        if kind == "enc_keys":
            response = await client.post("/api/v1/keys/nanshan/enc_keys", json={"number": 1, "size": 256})
        else:
            response = await client.get("/api/v1/keys/nanshan/status")
        latencies.append(time.perf_counter() - start)
        if response.status_code != 200:
            errors.append(response.status_code)


async def run_level(url: str, context: ssl.SSLContext, clients: int, seconds: float, reps: int) -> dict:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [
        httpx.AsyncClient(
            base_url=url,
            transport=httpx.AsyncHTTPTransport(verify=context, limits=limits, socket_options=NODELAY),
            timeout=60,
        )
        for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(c.get("/api/v1/keys/nanshan/status") for c in pool))  # connect + warm up
        runs: dict[str, list[dict]] = {"status": [], "enc_keys": []}
        for rep in range(reps):
            order = ("status", "enc_keys") if rep % 2 == 0 else ("enc_keys", "status")
            for kind in order:
                latencies: list[float] = []
                errors: list[int] = []
                start = time.perf_counter()
                deadline = start + seconds
                await asyncio.gather(*(_worker(c, kind, deadline, latencies, errors) for c in pool))
                elapsed = time.perf_counter() - start
                latencies.sort()
                runs[kind].append(
                    {
                        "rps": len(latencies) / elapsed,
                        "p50_ms": 1e3 * latencies[len(latencies) // 2],
                        "p99_ms": 1e3 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                        "errors": len(errors),
                    }
                )
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    summary: dict = {"clients": clients}
    for kind, items in runs.items():
        for metric in ("rps", "p50_ms", "p99_ms"):
            values = [item[metric] for item in items]
            summary[f"{kind}_{metric}"] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
        summary[f"{kind}_errors"] = sum(item["errors"] for item in items)
    summary["enc_over_status_rps"] = summary["enc_keys_rps"]["median"] / summary["status_rps"]["median"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    parser.add_argument("--reps", type=int, default=3, help="runs of each kind per level (alternated)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 100], help="concurrency levels")
    parser.add_argument("--keys", type=int, default=200_000, help="256-bit keys in each store")
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"), help="store durability")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qentangle-kme-bench-") as folder:
        root = Path(folder)
        make_network(root, args.keys)
        from qentangle.kme.server import spawn_kme

        processes = [
            spawn_kme(root, entry["kme_id"], synchronous=args.synchronous, die_with_parent=True)
            for entry in kme_entries(root)
        ]
        try:
            master = next(e for e in kme_entries(root) if "delingha" in e["sae_ids"])
            context = ssl.create_default_context(cafile=master["ca"])
            context.load_cert_chain(
                master["clients"]["delingha"]["cert"], master["clients"]["delingha"]["key"]
            )
            results = [
                asyncio.run(run_level(master["url"], context, n, args.seconds, args.reps))
                for n in args.clients
            ]
        finally:
            stop_kmes(processes)
    if args.json:
        print(json.dumps({"synchronous": args.synchronous, "levels": results}, indent=1))
        return
    print(
        f"KME over loopback with mTLS, store synchronous={args.synchronous};"
        f" medians of {args.reps} runs [min, max]"
    )
    print(f"{'clients':>7} | {'request':>8} | {'req/s':>22} | {'p50 ms':>20} | {'p99 ms':>20} | errors")
    for row in results:
        for kind in ("status", "enc_keys"):

            def cell(metric: str, row: dict = row, kind: str = kind) -> str:
                value = row[f"{kind}_{metric}"]
                return f"{value['median']:7.1f} [{value['min']:.1f}, {value['max']:.1f}]"

            print(
                f"{row['clients']:>7} | {kind:>8} | {cell('rps'):>22} | {cell('p50_ms'):>20} | "
                f"{cell('p99_ms'):>20} | {row[f'{kind}_errors']}"
            )
        print(f"{'':>7} | enc_keys/status throughput ratio: {row['enc_over_status_rps']:.2f}")


if __name__ == "__main__":
    main()
