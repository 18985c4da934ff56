import doctest
import importlib

import pytest

MODULES = [
    "qentangle.distill",
    "qentangle.distill.amplify",
    "qentangle.distill.cascade",
    "qentangle.distill.chain",
    "qentangle.distill.estimate",
    "qentangle.distill.finite_key",
    "qentangle.distill.verify",
    "qentangle.distill.ldpc_ec",
    "qentangle.distill._bits",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
