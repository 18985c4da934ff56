"""qentangle: entanglement-based QKD (E91, BBM92) and CHSH Bell tests on Qiskit."""

from qentangle.errors import (
    AuthenticationError,
    BackendError,
    ProtocolAbort,
    QentangleError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BackendError",
    "ProtocolAbort",
    "QentangleError",
    "ValidationError",
    "__version__",
]
