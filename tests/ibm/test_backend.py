"""Backend resolution: fake device names, objects, errors, the optional extra."""

from __future__ import annotations

import sys

import pytest
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qentangle.errors import QentangleError, ValidationError
from qentangle.ibm.backend import available_fake_backends, require_runtime, resolve_backend


@pytest.mark.parametrize("name", ["fake_manila", "FakeManilaV2", "manila", " Fake_Manila "])
def test_fake_names_resolve(name):
    resolved = resolve_backend(name)
    assert (resolved.name, resolved.kind, resolved.is_hardware) == ("fake_manila", "fake", False)
    assert resolved.backend.num_qubits == 5


def test_available_names_include_the_big_devices():
    names = available_fake_backends()
    assert {"fake_sherbrooke", "fake_torino", "fake_manila"} <= set(names)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValidationError) as info:
        resolve_backend("fake_atlantis")
    message = str(info.value)
    assert "fake_atlantis" in message and "fake_sherbrooke" in message and "fake_torino" in message
    assert "ibm:NAME" in message


@pytest.mark.parametrize("bad", ["", "ibm:", 42])
def test_bad_values_are_validation_errors(bad):
    with pytest.raises(ValidationError):
        resolve_backend(bad)


def test_backend_objects_are_used_as_given():
    backend = FakeManilaV2()
    resolved = resolve_backend(backend)
    assert resolved.backend is backend and resolved.kind == "fake"


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)
    with pytest.raises(QentangleError, match=r"pip install 'qentangle\[ibm\]'"):
        require_runtime()
