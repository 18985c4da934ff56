"""The local simulator a fake device runs on, restricted to the chosen qubit pair.

``Sampler(mode=fake_backend)`` of ``qiskit_ibm_runtime.executor_sampler`` runs offline: the
local executor builds ``AerSamplerV2.from_backend(backend)`` and runs each circuit of the job
in its own Aer call. For a fake device that means ``NoiseModel.from_backend`` of the whole
device (127-156 qubits), serialised to JSON and parsed again *for every circuit*: about 5 s
per circuit on fake_torino, whatever the shots (measured with qiskit-ibm-runtime 0.51,
qiskit-aer 0.18).

Our circuits touch two physical qubits only and Aer simulates only the active qubits, so
:func:`pair_simulator` gives the executor an ``AerSimulator`` with the device's target and
the *same* Aer device noise (``basic_device_gate_errors`` / ``basic_device_readout_errors``,
what ``NoiseModel.from_backend`` uses) for just those two qubits, on the density-matrix
method. The executor Sampler code path is unchanged; outcomes are identically distributed
(``simulation="device"`` on :class:`~qentangle.ibm.engine.BackendEngine` runs the fake
backend object itself, slowly, for comparison).

>>> from qentangle.ibm.backend import resolve_backend
>>> model = pair_noise_model(resolve_backend("fake_manila").backend, (0, 1))
>>> sorted(model.noise_qubits)
[0, 1]
"""

from __future__ import annotations

from typing import Any

from qiskit.transpiler import Target


def _pair_target(target: Target, qubits: tuple[int, int]) -> Target:
    """A 2-qubit Target with the instructions and qubit properties of ``qubits`` (relabelled 0, 1)."""
    index = {q: k for k, q in enumerate(qubits)}
    qubit_properties = [target.qubit_properties[q] for q in qubits] if target.qubit_properties else None
    small = Target(num_qubits=2, qubit_properties=qubit_properties, dt=target.dt)
    for name in target.operation_names:
        if name not in target or target.operation_from_name(name) is None:
            continue
        properties = {}
        for qargs, props in target[name].items():
            if qargs is not None and set(qargs) <= set(qubits):
                properties[tuple(index[q] for q in qargs)] = props
        if properties:
            small.add_instruction(target.operation_from_name(name), properties, name=name)
    return small


def pair_noise_model(backend: Any, qubits: tuple[int, int]) -> Any:
    """Aer's device noise model of ``backend`` restricted to the physical ``qubits``."""
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors

    target = backend.target
    small = _pair_target(target, qubits)
    model = NoiseModel(basis_gates=list(backend.operation_names))
    for local, error in basic_device_readout_errors(target=small):
        model.add_readout_error(error, [qubits[q] for q in local])
    for name, local, error in basic_device_gate_errors(target=small):
        model.add_quantum_error(error, name, [qubits[q] for q in local])
    return model


def pair_simulator(backend: Any, qubits: tuple[int, int]) -> Any:
    """An AerSimulator with ``backend``'s target and its noise on ``qubits`` (density matrix)."""
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(
        backend, noise_model=pair_noise_model(backend, qubits), method="density_matrix"
    )
