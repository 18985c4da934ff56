"""Running a KME: uvicorn over HTTPS with mutual TLS, one process per station.

TLS: the server certificate of the KME (from the network's CA), TLS 1.2 or newer, and
``ssl.CERT_OPTIONAL`` with the network CA as the only trust anchor. A client *may* come without
a certificate: the TLS handshake then succeeds and the application answers 401 with the spec's
JSON error. A client certificate from another CA fails verification inside the TLS handshake
(the connection is refused before any HTTP exchange; the standard library's ``ssl`` has no hook
to accept an unverifiable certificate and refuse it later). A certificate that verifies is
turned into an identity (``("sae" | "kme", ID)``) when the connection is made and attached to
every request's ASGI scope; routes never look at headers or the URL to decide who calls.

Readiness: the KME binds its port (0: an ephemeral port), starts, then writes
``DIR/kme/<KME>.ready.json`` (URL, port, pid) atomically; :func:`spawn_kme` waits for that file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

try:  # the C parser when installed (uvicorn[standard]); h11, pure Python, otherwise
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpProtocol
except ImportError:  # pragma: no cover
    from uvicorn.protocols.http.h11_impl import H11Protocol as _HttpProtocol

from qentangle.errors import QentangleError
from qentangle.files import remove_file, write_atomic
from qentangle.kme.app import create_app
from qentangle.kme.config import KmeConfig, config_path, read_ready
from qentangle.kme.pki import identity_from_peercert
from qentangle.kme.service import KmeService
from qentangle.network.keystore import KeyStore
from qentangle.network.processes import pid_alive


class TlsIdentityProtocol(_HttpProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools or h11) plus the ASGI TLS extension: the verified peer."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        raw = transport.get_extra_info("socket")
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only when the listening socket says IPPROTO_TCP; without it,
            # a response written in two parts waits for the client's delayed ACK (~40 ms).
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        peercert = ssl_object.getpeercert() if ssl_object is not None else None
        tls = {
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None if ssl_object is None else ssl_object.version(),
            "cipher_suite": None,
            "qentangle_identity": identity_from_peercert(peercert),
        }
        inner = self.app

        async def app_with_tls(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await inner(scope, receive, send)

        self.app = app_with_tls


class _Server(uvicorn.Server):
    """A uvicorn server that writes the ready file once it listens."""

    def __init__(self, config: uvicorn.Config, kme: KmeConfig, port: int, *, ready_line: bool) -> None:
        super().__init__(config)
        self._kme = kme
        self._port = port
        self._ready_line = ready_line

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM / SIGINT: a graceful shutdown that ends with status 0 (the signal is not re-raised,
        so the store is closed and the ready file removed)."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            ready = {"url": f"https://{self._kme.host}:{self._port}", "port": self._port, "pid": os.getpid()}
            write_atomic(self._kme.ready_path, json.dumps(ready).encode())
            if self._ready_line:  # the readiness line of a network node (qentangle.network.nodes)
                sys.stdout.write(f"READY {self._kme.host} {self._port}\n")
                sys.stdout.flush()


def server_ssl_context(config: KmeConfig) -> ssl.SSLContext:
    """The KME's TLS context: its certificate, TLS >= 1.2, client certificates optional but verified."""
    pki = config.pki
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(pki.kme_cert(config.kme_id)), str(pki.kme_key(config.kme_id)))
    context.load_verify_locations(cafile=str(pki.ca))
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def serve(config: KmeConfig, *, synchronous: str = "FULL", ready_line: bool = False) -> None:
    """Serve one KME until SIGINT/SIGTERM (opens its store as the ``kme`` owner).

    ``ready_line``: also print ``READY <host> <port>`` on stdout once listening."""
    store = KeyStore.open(config.store, owner="kme", synchronous=synchronous)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((config.host, config.port))
        except OSError as error:
            raise QentangleError(
                f"KME {config.kme_id} cannot bind {config.host}:{config.port}: {error.strerror}"
            ) from None
        sock.listen(2048)
        port = sock.getsockname()[1]
        service = KmeService(config, store)
        uv_config = uvicorn.Config(
            create_app(service),
            http=TlsIdentityProtocol,
            ws="none",
            lifespan="on",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        uv_config.load()
        uv_config.ssl = server_ssl_context(config)
        server = _Server(uv_config, config, port, ready_line=ready_line)
        await server.serve(sockets=[sock])
    finally:
        remove_file(config.ready_path)
        sock.close()
        store.close()


def run(
    config_file: str | Path, *, synchronous: str = "FULL", port: int | None = None, ready_line: bool = False
) -> int:
    """Run the KME described by ``config_file`` in this process (blocks; 0 on a clean stop).

    ``port`` overrides the configuration's port (0: an ephemeral one)."""
    config = KmeConfig.load(config_file)
    if port is not None:
        config = dataclasses.replace(config, port=port)
    main = serve(config, synchronous=synchronous, ready_line=ready_line)
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main)
    else:
        uvloop.run(main)
    return 0


@dataclass
class KmeProcess:
    """A KME running as a child process."""

    kme_id: str
    pid: int
    url: str
    process: subprocess.Popen | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; waits for the process."""
        stop_pid(self.pid, timeout=timeout, process=self.process)


def spawn_kme(
    network_dir: str | Path,
    kme_id: str,
    *,
    timeout: float = 30.0,
    synchronous: str = "FULL",
    die_with_parent: bool = False,
) -> KmeProcess:
    """Start the KME ``kme_id`` of the network at ``network_dir`` in the background; return once
    it listens (its log: ``DIR/kme/<KME>.log``). Raises :class:`QentangleError` with the log's last
    line if it exits first, or after ``timeout`` seconds (the process is then killed).

    ``die_with_parent``: the KME gets SIGTERM when this process dies, however it dies (Linux),
    so a killed test run or foreground ``kme serve`` leaves no KME behind."""
    (process,) = spawn_kmes(
        network_dir, [kme_id], timeout=timeout, synchronous=synchronous, die_with_parent=die_with_parent
    )
    return process


def spawn_kmes(
    network_dir: str | Path,
    kme_ids: list[str],
    *,
    timeout: float = 30.0,
    synchronous: str = "FULL",
    die_with_parent: bool = False,
) -> list[KmeProcess]:
    """:func:`spawn_kme` for several KMEs, started together; if one fails, all are stopped."""
    launched: list[tuple[str, subprocess.Popen, Path]] = []
    try:
        for kme_id in kme_ids:
            path = config_path(network_dir, kme_id)
            if not path.exists():
                raise QentangleError(f"no KME {kme_id!r} in {str(network_dir)!r} (expected {str(path)!r})")
            log_path = path.with_suffix(".log")
            with open(log_path, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "qentangle.kme", str(path), "--synchronous", synchronous],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_term_on_parent_death if die_with_parent else None,
                )
            launched.append((kme_id, process, log_path))
        deadline = time.monotonic() + timeout
        running: dict[str, KmeProcess] = {}
        while len(running) < len(launched):
            for kme_id, process, log_path in launched:
                if kme_id in running:
                    continue
                ready = read_ready(network_dir, kme_id)
                if ready is not None and ready.get("pid") == process.pid:
                    running[kme_id] = KmeProcess(kme_id, process.pid, str(ready["url"]), process)
                elif process.poll() is not None:
                    raise QentangleError(
                        f"KME {kme_id} exited with status {process.returncode}: {_last_line(log_path)}"
                    )
                elif time.monotonic() > deadline:
                    raise QentangleError(
                        f"KME {kme_id} was not ready after {timeout:g} s: {_last_line(log_path)}"
                    )
            time.sleep(0.02)  # polling the ready files (readiness), not synchronising on a delay
        return [running[kme_id] for kme_id, _, _ in launched]
    except BaseException:
        for _, process, _ in launched:
            stop_pid(process.pid, timeout=5.0, process=process)
        raise


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is a child of ours (so no zombie stays behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_pid(pid: int, *, timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    """Stop a KME by pid: SIGTERM, wait up to ``timeout`` s, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not pid_alive(pid):
            _reap(pid)
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait(timeout=10)


    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _term_on_parent_death() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"


def main(argv: list[str] | None = None) -> int:
    """``python -m qentangle.kme CONFIG [--synchronous FULL|NORMAL]`` (used by :func:`spawn_kme`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m qentangle.kme")
    parser.add_argument("config", help="the KME configuration file (DIR/kme/<KME>.json)")
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"))
    parser.add_argument("--port", type=int, default=None, help="port to bind (default: the configuration's)")
    parser.add_argument("--ready-line", action="store_true", help="print READY <host> <port> once listening")
    args = parser.parse_args(argv)
    try:
        return run(args.config, synchronous=args.synchronous, port=args.port, ready_line=args.ready_line)
    except QentangleError as error:
        if args.ready_line:
            sys.stdout.write(f"ERROR {error}\n")
            sys.stdout.flush()
        sys.stderr.write(f"qentangle kme: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
