"""Starting, watching and stopping a network's nodes (background processes on 127.0.0.1).

``DIR/network.json`` (written atomically) holds the network's ID, seed and configuration, and
for each node its kind, directory, address, pid and state. Nodes start in the configuration's
``nodes`` order (default: source, bob, alice); each is waited on until it prints its readiness
line. A restarted node keeps its recorded port, so the others reconnect to it.

Hook for more node kinds (the KME engineer's): :data:`NODE_KINDS` maps a kind to a function
``(network: dict, name: str, directory: Path, port: int) -> list[str]`` returning the command
line of its process; the process must print ``READY <host> <port>`` (or ``ERROR <reason>``)
as its first stdout line. Register a kind with :func:`register_node_kind` and list it in the
configuration's ``[network] nodes``; :func:`spawn_node` starts one node of any kind.

>>> {"source", "bob", "alice"} <= set(NODE_KINDS)  # and any kinds registered by other modules
True
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qentangle.errors import QentangleError
from qentangle.files import write_atomic
from qentangle.network.config import NetworkConfig, dump_json
from qentangle.network.processes import pid_alive
from qentangle.network.transport import PAD_BYTES, PadPool

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
CommandBuilder = Callable[[dict[str, Any], str, Path, int], list[str]]


def _node_command(network: dict[str, Any], name: str, directory: Path, port: int) -> list[str]:
    """Command line of a built-in node (source, alice, bob)."""
    root = Path(network["dir"])
    command = [
        sys.executable,
        "-m",
        "qentangle.network.node",
        "--kind",
        name,
        "--dir",
        str(directory),
        "--config",
        str(root / "network.json"),
        "--port",
        str(port),
    ]
    nodes = network["nodes"]
    if name in ("alice", "bob"):
        command += ["--source", _addr(nodes, "source")]
    if name == "alice":
        command += ["--peer", _addr(nodes, "bob")]
    return command


def _addr(nodes: dict[str, Any], name: str) -> str:
    if name not in nodes or not nodes[name].get("address"):
        raise QentangleError(f"node {name!r} has no address yet: start it first")
    host, port = nodes[name]["address"]
    return f"{host}:{port}"


NODE_KINDS: dict[str, CommandBuilder] = {
    "source": _node_command,
    "bob": _node_command,
    "alice": _node_command,
}


def register_node_kind(kind: str, command: CommandBuilder) -> None:
    """Make ``kind`` startable by :func:`start_network` (see the module docstring)."""
    NODE_KINDS[kind] = command


def read_network(directory: str | Path) -> dict[str, Any]:
    """``DIR/network.json``; a one-line :class:`QentangleError` when absent or unreadable."""
    path = Path(directory) / "network.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise QentangleError(f"no network in {str(directory)!r}: {str(path)!r} does not exist") from None
    except (OSError, ValueError) as error:
        raise QentangleError(f"cannot read {str(path)!r}: {error}") from None


def write_network(network: dict[str, Any]) -> None:
    """Write ``network.json`` atomically."""
    write_atomic(
        Path(network["dir"]) / "network.json", json.dumps(network, indent=1).encode()
    )


def create_network(config: NetworkConfig, directory: str | Path) -> dict[str, Any]:
    """A new network in ``directory``: ID, seed, node directories, the stations' bootstrap key."""
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    seed = config.seed if config.seed is not None else int.from_bytes(os.urandom(8), "big") >> 1
    network: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12],
        "seed": seed,
        "dir": str(root),
        "config": config.to_dict(),
        "nodes": {
            name: {"kind": name, "dir": str(root / name), "address": None, "pid": None, "state": "created"}
            for name in config.nodes
        },
    }
    stations = [root / name for name in ("alice", "bob") if name in config.nodes]
    PadPool.create(stations, config.auth_key_bytes)
    write_atomic(root / "config.json", dump_json(config))
    write_network(network)
    return network


def start_network(config: NetworkConfig, directory: str | Path, *, node: str | None = None) -> dict[str, Any]:
    """Start every node (or only ``node``) of the network in ``directory``; return network.json.

    A new directory gets a new network; an existing one keeps its ID, seed, keys and ports.
    Already running nodes are left alone. Raises a one-line :class:`QentangleError` when a node
    cannot start (port in use, directory locked, corrupt store); nodes this call started are
    then stopped again.
    """
    root = Path(directory).resolve()
    network = read_network(root) if (root / "network.json").exists() else create_network(config, root)
    names = [node] if node is not None else list(network["nodes"])
    unknown = [n for n in names if n not in network["nodes"]]
    if unknown:
        raise QentangleError(
            f"--node={unknown[0]!r} is not valid: expected one of {', '.join(network['nodes'])}"
        )
    started: list[str] = []
    try:
        for name in names:
            if _alive(network["nodes"][name].get("pid")):
                continue
            spawn_node(network, name)
            started.append(name)
    except BaseException:
        for name in started:
            _terminate(network["nodes"][name])
        write_network(network)
        raise
    return network


def spawn_node(network: dict[str, Any], name: str) -> dict[str, Any]:
    """Start one node as a background process and wait for its readiness line."""
    entry = network["nodes"][name]
    directory = Path(entry["dir"])
    directory.mkdir(parents=True, exist_ok=True)
    config_ports = network["config"].get("ports", {})
    port = (
        int(entry["address"][1])
        if entry.get("address") and name != "alice"
        else int(config_ports.get(name, 0))
    )
    command = NODE_KINDS[entry["kind"]](network, name, directory, port)
    with open(directory / "stderr.log", "ab") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    try:
        line = _first_line(process, READY_TIMEOUT_S)
    except BaseException:  # interrupted while waiting: leave no process behind
        _kill(process.pid)
        raise
    if not line.startswith("READY "):
        _kill(process.pid)
        reason = (
            line[len("ERROR ") :] if line.startswith("ERROR ") else (line or "it exited without a reason")
        )
        raise QentangleError(f"node {name} did not start: {reason}")
    _, host, bound = line.split()
    entry.update(pid=process.pid, state="running", started=time.time())
    if name != "alice":
        entry["address"] = [host, int(bound)]
    write_network(network)
    return entry


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first stdout line of ``process`` (readiness), within ``timeout`` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    fd = process.stdout.fileno()
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return "ERROR no readiness line within the start timeout"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    process.stdout.close()
    return data.decode(errors="replace").splitlines()[0].strip() if data else ""


_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int | None) -> bool:
    """Whether ``pid`` runs; a child of this process is polled (which reaps it when it ended)."""
    child = _CHILDREN.get(pid) if pid else None
    if child is not None:
        return child.poll() is None
    return pid_alive(pid)


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    child = _CHILDREN.get(pid)
    if child is not None and sig == signal.SIGKILL:
        child.wait(timeout=STOP_TIMEOUT_S)


def _terminate(entry: dict[str, Any]) -> None:
    pid = entry.get("pid")
    if _alive(pid):
        _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the process's exit, bounded by the deadline
        if _alive(pid):
            _kill(pid)
    entry["state"] = "stopped"


def kill_node(directory: str | Path, name: str) -> int:
    """SIGKILL one node (tests and the tutorial); return its pid."""
    network = read_network(directory)
    entry = network["nodes"][name]
    pid = int(entry["pid"])
    _kill(pid)
    entry["state"] = "killed"
    write_network(network)
    return pid


def stop_network(directory: str | Path) -> dict[str, Any]:
    """Stop every node (SIGTERM, then SIGKILL after a timeout); return network.json."""
    network = read_network(directory)
    for name in reversed(list(network["nodes"])):
        _terminate(network["nodes"][name])
    write_network(network)
    return network


def network_status(directory: str | Path) -> dict[str, Any]:
    """Blocks, keys and rates per station, and whether the two stores agree (no key bits)."""
    from qentangle.network.keystore import KeyStore

    network = read_network(directory)
    report: dict[str, Any] = {"id": network["id"], "dir": network["dir"], "nodes": {}}
    fingerprints = {}
    for name, entry in network["nodes"].items():
        info: dict[str, Any] = {
            "kind": entry["kind"],
            "pid": entry.get("pid"),
            "address": entry.get("address"),
            "state": entry.get("state") if _alive(entry.get("pid")) else "stopped",
        }
        stats_path = Path(entry["dir"]) / "stats.json"
        if stats_path.exists():
            try:
                stats = json.loads(stats_path.read_text())
            except ValueError:
                stats = {}
            elapsed = max(1e-9, stats.get("updated", 0) - stats.get("started", 0))
            info.update(
                blocks=stats.get("blocks_stored", 0),
                aborted_blocks=stats.get("blocks_aborted", 0),
                key_rate_bps=stats.get("bits_stored", 0) / elapsed,
                abort_reasons=stats.get("abort_reasons", {}),
                rejected=stats.get("rejected", {}),
                reconnects=stats.get("reconnects", 0),
                pads_remaining=stats.get("pads_remaining"),
            )
        store_path = Path(entry["dir"]) / "keys.sqlite"
        if store_path.exists():
            with KeyStore.open(store_path, owner="monitor") as store:
                counts = store.stats()
                info.update(keys=counts.get("keys", 0), stored_blocks=counts.get("blocks", 0))
                info["pads_replenished"] = len(store.auth_pads()) // PAD_BYTES
                fingerprints[name] = store.fingerprint()
        report["nodes"][name] = info
    if {"alice", "bob"} <= set(fingerprints):
        report["stores_match"] = fingerprints["alice"] == fingerprints["bob"]
    return report
