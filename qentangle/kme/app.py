"""The KME's HTTP interface: ETSI GS QKD 014 v1.1.1 on FastAPI.

Paths, fields and status codes are the spec's: ``status``, ``enc_keys`` (GET with ``number`` and
``size``, POST with a key request) and ``dec_keys`` (GET with ``key_ID``, POST with
``key_IDs``); key containers with UUID ``key_ID`` and base64 ``key``; errors 400, 401 and 503
as ``{"message": ..., "details": [...]}``. Nothing answers 422 or 500: malformed parameters are
400, an unexpected failure is 503 without a traceback in the response.

Who calls is decided before any route runs, from the TLS connection only: the server puts the
identity of the *verified* client certificate into the ASGI scope
(``scope["extensions"]["tls"]["qentangle_identity"]``, see :mod:`qentangle.kme.server`). The
ETSI paths need an SAE certificate, the KME-to-KME path a KME certificate; anything else is 401.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from qentangle.kme.service import PEER_PATH, KmeError, KmeService

API_PREFIX = "/api/v1/keys"
_ERRORS = {400: "Bad request format", 401: "Unauthorized", 503: "Error of server"}


class Status(BaseModel):
    """Status data format (ETSI GS QKD 014 §6.1)."""

    source_KME_ID: str
    target_KME_ID: str
    master_SAE_ID: str
    slave_SAE_ID: str
    key_size: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size: int
    min_key_size: int
    max_SAE_ID_count: int


class KeyRequest(BaseModel):
    """Key request data format (§6.2)."""

    model_config = ConfigDict(extra="ignore")
    number: int | None = None
    size: int | None = None
    additional_slave_SAE_IDs: list[str] | None = None
    extension_mandatory: list[dict[str, Any]] | None = None
    extension_optional: list[dict[str, Any]] | None = None


class Key(BaseModel):
    key_ID: str
    key: str


class KeyContainer(BaseModel):
    """Key container data format (§6.3)."""

    keys: list[Key]


class KeyIdRef(BaseModel):
    key_ID: str
    key_ID_extension: dict[str, Any] | None = None


class KeyIDs(BaseModel):
    """Key IDs data format (§6.4)."""

    model_config = ConfigDict(extra="ignore")
    key_IDs: list[KeyIdRef]
    key_IDs_extension: dict[str, Any] | None = None


class Error(BaseModel):
    """Error data format (§6.5)."""

    message: str
    details: list[dict[str, Any]] | None = None


_EMPTY_KEY_REQUEST = Body(default_factory=KeyRequest)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text} for code, text in _ERRORS.items()
}


def create_app(service: KmeService) -> FastAPI:
    """The FastAPI application of one KME (``service`` is started and closed with the app)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title=f"qentangle KME {service.config.kme_id} (ETSI GS QKD 014)",
        version="1.1.1",
        description="Key delivery to SAEs over HTTPS with mutual TLS (an SAE is its verified certificate).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(_Authenticate)

    @app.exception_handler(KmeError)
    async def kme_error(_: Request, error: KmeError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            {
                "parameter": ".".join(str(part) for part in item.get("loc", ())),
                "error": str(item.get("msg", "")),
            }
            for item in error.errors()
        ]
        return JSONResponse({"message": "bad request format", "details": details}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"message": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Exception)
    async def server_error(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"message": "error of server", "details": [{"error": type(error).__name__}]}, status_code=503
        )

    def caller(request: Request) -> str:
        return request.scope["qentangle.identity"][1]

    @app.get(f"{API_PREFIX}/{{slave_SAE_ID}}/status", responses={200: {"model": Status}, **_RESPONSES})
    async def get_status(slave_SAE_ID: str, request: Request) -> JSONResponse:
        """Get status: the keys this KME can deliver to the calling master SAE for ``slave_SAE_ID``."""
        return JSONResponse(await service.status(caller(request), slave_SAE_ID))

    @app.get(
        f"{API_PREFIX}/{{slave_SAE_ID}}/enc_keys", responses={200: {"model": KeyContainer}, **_RESPONSES}
    )
    async def get_key(
        slave_SAE_ID: str,
        request: Request,
        number: int | None = Query(None, description="number of keys (default 1)"),
        size: int | None = Query(None, description="size of each key in bits (default: key_size of status)"),
    ) -> JSONResponse:
        """Get key (GET): ``number`` keys of ``size`` bits for the calling master SAE."""
        return JSONResponse(await service.enc_keys(caller(request), slave_SAE_ID, number=number, size=size))

    @app.post(
        f"{API_PREFIX}/{{slave_SAE_ID}}/enc_keys", responses={200: {"model": KeyContainer}, **_RESPONSES}
    )
    async def post_key(
        slave_SAE_ID: str,
        request: Request,
        body: KeyRequest = _EMPTY_KEY_REQUEST,
    ) -> JSONResponse:
        """Get key (POST): the key request data format."""
        result = await service.enc_keys(
            caller(request),
            slave_SAE_ID,
            number=body.number,
            size=body.size,
            additional_slave_sae_ids=body.additional_slave_SAE_IDs,
            extension_mandatory=body.extension_mandatory,
        )
        return JSONResponse(result)

    @app.get(
        f"{API_PREFIX}/{{master_SAE_ID}}/dec_keys", responses={200: {"model": KeyContainer}, **_RESPONSES}
    )
    async def get_key_with_id(
        master_SAE_ID: str,
        request: Request,
        key_ID: str = Query(..., description="the key's UUID"),
    ) -> JSONResponse:
        """Get key with key IDs (GET): one key the master SAE took for the calling slave SAE."""
        return JSONResponse(await service.dec_keys(caller(request), master_SAE_ID, [key_ID]))

    @app.post(
        f"{API_PREFIX}/{{master_SAE_ID}}/dec_keys", responses={200: {"model": KeyContainer}, **_RESPONSES}
    )
    async def post_key_with_ids(
        master_SAE_ID: str,
        request: Request,
        body: KeyIDs,
    ) -> JSONResponse:
        """Get key with key IDs (POST): the key IDs data format."""
        ids = [ref.key_ID for ref in body.key_IDs]
        return JSONResponse(await service.dec_keys(caller(request), master_SAE_ID, ids))

    @app.post(PEER_PATH, include_in_schema=False)
    async def peer_allocations(request: Request) -> JSONResponse:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            raise KmeError(400, "bad request format", [{"body": "expected JSON"}]) from None
        return JSONResponse(await service.record_peer_allocations(caller(request), payload))

    _publish_spec_errors_only(app)
    return app


class _Authenticate:
    """ASGI middleware: 401 unless the verified client certificate fits the path.

    ``/api/v1/keys/...`` needs an SAE certificate, the KME-to-KME path a KME certificate;
    ``/openapi.json`` (the published schema) needs none.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("path") == "/openapi.json":
            await self.app(scope, receive, send)
            return
        identity = scope.get("extensions", {}).get("tls", {}).get("qentangle_identity")
        wanted = "kme" if scope.get("path") == PEER_PATH else "sae"
        if identity is None or identity[0] != wanted:
            reason = "no verified client certificate" if identity is None else f"a {identity[0]} certificate"
            body = json.dumps(
                {"message": "unauthorized", "details": [{"client_certificate": reason}]}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope["qentangle.identity"] = identity
        await self.app(scope, receive, send)


def _publish_spec_errors_only(app: FastAPI) -> None:
    """The published schema lists the spec's 400/401/503, not FastAPI's 422."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for methods in schema.get("paths", {}).values():
                for operation in methods.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
