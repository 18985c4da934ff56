"""An SAE's client for its KME (ETSI GS QKD 014), over HTTPS with its client certificate.

>>> SaeClient.__name__
'SaeClient'
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import httpx

from qentangle.errors import QentangleError
from qentangle.kme.config import find_sae, read_ready
from qentangle.kme.service import NODELAY


class KmeRequestError(QentangleError):
    """The KME answered with an error (``status``: 400, 401 or 503; ``message`` from its JSON)."""

    def __init__(self, status: int, message: str, details: Any = None) -> None:
        text = f"the KME answered {status}: {message}"
        if details:
            text += f" ({_short(details)})"
        super().__init__(text)
        self.status = status
        self.message = message
        self.details = details


class SaeClient:
    """The client of one SAE: ``url`` of its KME, its certificate and key, the network CA."""

    def __init__(
        self, url: str, cert: str | Path, key: str | Path, ca: str | Path, *, timeout: float = 15.0
    ) -> None:
        context = ssl.create_default_context(cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
        self.url = url.rstrip("/")
        transport = httpx.HTTPTransport(verify=context, socket_options=NODELAY)
        self._http = httpx.Client(base_url=self.url, transport=transport, timeout=timeout)

    @classmethod
    def for_sae(cls, network_dir: str | Path, sae_id: str, *, timeout: float = 15.0) -> SaeClient:
        """The client of SAE ``sae_id`` in the network at ``network_dir`` (its KME must be running)."""
        config, pki = find_sae(network_dir, sae_id)
        ready = read_ready(network_dir, config.kme_id)
        if ready is None:
            raise QentangleError(
                f"the KME {config.kme_id} of SAE {sae_id!r} is not running"
                f" (start it with: qentangle kme serve --dir {network_dir})"
            )
        return cls(str(ready["url"]), pki.cert(sae_id), pki.key(sae_id), pki.ca, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SaeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SaeClient({self.url!r})"

    def status(self, slave_sae: str) -> dict[str, Any]:
        """``GET status`` for the pair (this SAE, ``slave_sae``)."""
        return self._call("GET", f"/api/v1/keys/{slave_sae}/status")

    def enc_keys(
        self, slave_sae: str, *, number: int = 1, size: int | None = None
    ) -> list[tuple[str, bytes]]:
        """New keys shared with ``slave_sae`` (this SAE is the master): ``[(key_ID, key), ...]``."""
        body: dict[str, Any] = {"number": number}
        if size is not None:
            body["size"] = size
        return _keys(self._call("POST", f"/api/v1/keys/{slave_sae}/enc_keys", json=body))

    def dec_keys(self, master_sae: str, key_ids: list[str]) -> list[tuple[str, bytes]]:
        """The keys ``master_sae`` took for this SAE, by ID (each can be fetched once)."""
        body = {"key_IDs": [{"key_ID": key_id} for key_id in key_ids]}
        return _keys(self._call("POST", f"/api/v1/keys/{master_sae}/dec_keys", json=body))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise QentangleError(
                f"cannot reach the KME at {self.url}: {type(error).__name__}: {error}"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = {"message": response.text[:200]}
        if response.status_code != 200:
            raise KmeRequestError(response.status_code, str(data.get("message", "")), data.get("details"))
        return data


def _keys(container: dict[str, Any]) -> list[tuple[str, bytes]]:
    try:
        return [
            (str(item["key_ID"]), base64.b64decode(item["key"], validate=True)) for item in container["keys"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise QentangleError(f"the KME's key container is malformed: {type(error).__name__}") from None


def _short(details: Any) -> str:
    text = str(details)
    return text if len(text) <= 200 else text[:197] + "..."
