"""Find the backend a name refers to: a fake IBM device (local) or a real one (``ibm:NAME``).

- ``fake_sherbrooke``, ``FakeSherbrooke``, ``sherbrooke``... resolve to the fake device of
  ``qiskit_ibm_runtime.fake_provider``: the device's calibrated noise, simulated locally with
  no network.
- ``ibm:NAME`` resolves through ``QiskitRuntimeService(channel="ibm_quantum_platform")``. The
  token and instance come only from the environment (``QISKIT_IBM_TOKEN``,
  ``QISKIT_IBM_INSTANCE``) or from the account saved with ``QiskitRuntimeService.save_account``;
  they are never read from or written to qentangle's files, results or messages.

>>> target = resolve_backend("fake_manila")
>>> target.name, target.kind, target.backend.num_qubits
('fake_manila', 'fake', 5)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qentangle.errors import BackendError, QentangleError, ValidationError

TOKEN_ENV = "QISKIT_IBM_TOKEN"
INSTANCE_ENV = "QISKIT_IBM_INSTANCE"
CHANNEL = "ibm_quantum_platform"
IBM_PREFIX = "ibm:"


def require_runtime() -> Any:
    """Import ``qiskit_ibm_runtime`` or raise a QentangleError naming the extra to install."""
    try:
        import qiskit_ibm_runtime
    except ImportError:
        raise QentangleError(
            "IBM backends need qiskit-ibm-runtime, which is not installed: pip install 'qentangle[ibm]'"
        ) from None
    return qiskit_ibm_runtime


@dataclass(frozen=True)
class ResolvedBackend:
    """A backend object with the name it was asked for and where it runs.

    ``kind`` is ``"fake"`` (simulated locally from the device's calibration) or ``"ibm"``
    (real hardware through ``service``).
    """

    name: str
    kind: str
    backend: Any
    service: Any = None

    @property
    def is_hardware(self) -> bool:
        """True for real IBM hardware (jobs cost QPU time and need confirmation)."""
        return self.kind == "ibm"


@lru_cache(maxsize=1)
def _fake_classes() -> dict[str, type]:
    runtime = require_runtime()
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    fake_provider = runtime.fake_provider
    classes: dict[str, type] = {}
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if not (isinstance(cls, type) and issubclass(cls, FakeBackendV2)) or not attr.startswith("Fake"):
            continue
        stem = re.sub(r"V2$", "", attr[len("Fake") :])
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()
        classes[f"fake_{snake}"] = cls
    return classes


def available_fake_backends() -> tuple[str, ...]:
    """Names of the fake devices that ``--backend`` accepts, e.g. ``fake_sherbrooke``.

    >>> "fake_torino" in available_fake_backends()
    True
    """
    return tuple(sorted(_fake_classes()))


def _normalise(name: str) -> str:
    key = re.sub(r"(?<!^)(?=[A-Z])", "_", name.strip()).lower().replace("-", "_")
    key = re.sub(r"_+", "_", key)
    key = re.sub(r"_?v2$", "", key)
    return key if key.startswith("fake_") else f"fake_{key}"


def resolve_backend(backend: Any) -> ResolvedBackend:
    """A :class:`ResolvedBackend` from a name (``fake_NAME`` or ``ibm:NAME``) or an object.

    A backend object is used as given: objects of ``qiskit_ibm_runtime.IBMBackend`` count as
    real hardware, any other ``BackendV2`` (fake devices, Aer simulators) as local.
    """
    if isinstance(backend, ResolvedBackend):
        return backend
    if not isinstance(backend, str):
        return _from_object(backend)
    text = backend.strip()
    if not text:
        raise ValidationError(
            "backend='' is not valid: expected fake_NAME (e.g. fake_sherbrooke) or ibm:NAME"
        )
    if text.lower().startswith(IBM_PREFIX):
        return _resolve_ibm(text[len(IBM_PREFIX) :].strip())
    classes = _fake_classes()
    key = _normalise(text)
    if key not in classes:
        raise ValidationError(
            f"backend={backend!r} is not a known fake device: expected ibm:NAME for real hardware or "
            f"one of {', '.join(sorted(classes))}"
        )
    return ResolvedBackend(name=key, kind="fake", backend=_make_fake(key))


@lru_cache(maxsize=8)
def _make_fake(key: str) -> Any:
    return _fake_classes()[key]()


def _from_object(backend: Any) -> ResolvedBackend:
    from qiskit.providers import BackendV2

    if not isinstance(backend, BackendV2):
        raise ValidationError(
            f"backend must be a name (fake_NAME or ibm:NAME) or a qiskit BackendV2, got "
            f"{type(backend).__name__}"
        )
    kind = "fake"
    try:
        from qiskit_ibm_runtime import IBMBackend

        if isinstance(backend, IBMBackend):
            kind = "ibm"
    except ImportError:  # pragma: no cover - without the extra only local backends exist
        pass
    return ResolvedBackend(
        name=str(backend.name), kind=kind, backend=backend, service=getattr(backend, "service", None)
    )


def runtime_service() -> Any:
    """A ``QiskitRuntimeService`` on channel ``ibm_quantum_platform``.

    Credentials: ``QISKIT_IBM_TOKEN`` (and optionally ``QISKIT_IBM_INSTANCE``) from the
    environment, otherwise the saved account. Any error message is scrubbed of the token.
    """
    runtime = require_runtime()
    token = os.environ.get(TOKEN_ENV) or None
    instance = os.environ.get(INSTANCE_ENV) or None
    kwargs: dict[str, Any] = {"channel": CHANNEL}
    if token:
        kwargs["token"] = token
    if instance:
        kwargs["instance"] = instance
    try:
        return runtime.QiskitRuntimeService(**kwargs)
    except Exception as error:  # the service raises many types; one clear message for all
        source = f"${TOKEN_ENV}" if token else "the saved account"
        raise BackendError(
            f"could not connect to IBM Quantum (channel {CHANNEL}, credentials from {source}): "
            f"{scrub(str(error))}. Set {TOKEN_ENV} (and {INSTANCE_ENV}) in the environment or save "
            "an account with QiskitRuntimeService.save_account(...)"
        ) from None


def _resolve_ibm(name: str) -> ResolvedBackend:
    if not name:
        raise ValidationError("backend='ibm:' is not valid: expected ibm:NAME, e.g. ibm:ibm_torino")
    service = runtime_service()
    try:
        backend = service.backend(name)
    except Exception as error:
        raise BackendError(
            f"IBM backend {name!r} is not available to this account: {scrub(str(error))}"
        ) from None
    return ResolvedBackend(name=f"{IBM_PREFIX}{name}", kind="ibm", backend=backend, service=service)


def scrub(text: str) -> str:
    """``text`` with the IBM token replaced by ``***``: the environment's and any saved account's.

    >>> scrub("nothing secret here")
    'nothing secret here'
    """
    for token in (os.environ.get(TOKEN_ENV), *_saved_tokens()):
        if token and len(token) >= 4:
            text = text.replace(token, "***")
    return text


def _saved_tokens() -> list[str]:
    """Tokens of the accounts saved with ``QiskitRuntimeService.save_account`` (none if unreadable)."""
    try:
        accounts = require_runtime().QiskitRuntimeService.saved_accounts()
    except Exception:  # no extra, no file, a malformed file: nothing to hide from there
        return []
    return [str(a["token"]) for a in accounts.values() if isinstance(a, dict) and a.get("token")]
