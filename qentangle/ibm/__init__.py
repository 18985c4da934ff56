"""IBM quantum backends: the same CHSH, E91 and BBM92 runs on fake devices or real hardware.

``qiskit-ibm-runtime`` is an optional extra (``pip install 'qentangle[ibm]'``); it is imported
only when a backend is used.

>>> from qentangle.ibm import BackendEngine
>>> engine = BackendEngine("fake_manila", record=False)
>>> engine.info()["backend"], len(engine.qubits)
('fake_manila', 2)
"""

from qentangle.ibm.backend import ResolvedBackend, available_fake_backends, resolve_backend, runtime_service
from qentangle.ibm.engine import BackendEngine
from qentangle.ibm.jobs import JobResult, fetch, list_jobs, record_path
from qentangle.ibm.layout import PairErrors, choose_pair, coupled_pairs, pair_errors, parse_qubits
from qentangle.ibm.mitigation import ReadoutConfusion, calibration_circuits, confusion_from_codes
from qentangle.ibm.prediction import Prediction, noise_from_errors, predict

__all__ = [
    "BackendEngine",
    "JobResult",
    "PairErrors",
    "Prediction",
    "ReadoutConfusion",
    "ResolvedBackend",
    "available_fake_backends",
    "calibration_circuits",
    "choose_pair",
    "confusion_from_codes",
    "coupled_pairs",
    "fetch",
    "list_jobs",
    "noise_from_errors",
    "pair_errors",
    "parse_qubits",
    "predict",
    "record_path",
    "resolve_backend",
    "runtime_service",
]
