"""Schemathesis over the OpenAPI schema the KME publishes: no 500, every response matches the schema.

Bounded: a fixed number of generated requests per operation, valid and invalid ones, sent over
mutual TLS with a master SAE's certificate to a running KME. Checks: no server error, status
codes and content types as documented, bodies matching the documented schemas, invalid input
rejected.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from kme_harness import KmeNetwork
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_failure(own_network: KmeNetwork) -> None:
    url = own_network.url("delingha")
    published = httpx.get(f"{url}/openapi.json", verify=own_network.ssl_context(None)).json()
    assert set(published["paths"]) == {
        "/api/v1/keys/{slave_SAE_ID}/status",
        "/api/v1/keys/{slave_SAE_ID}/enc_keys",
        "/api/v1/keys/{master_SAE_ID}/dec_keys",
    }
    schema = schemathesis.openapi.from_dict(published)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    transport = {"verify": own_network.ca(), "cert": own_network.identity("delingha")}
    calls = 0
    unsatisfiable: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def run(case) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=url, checks=CHECKS, **transport)

            try:
                run()
            except Unsatisfiable:
                # No invalid request exists for this operation (e.g. status has one string path
                # parameter and every string is one): nothing to send in negative mode.
                assert mode == GenerationMode.NEGATIVE
                unsatisfiable.append(operation.label)
    assert calls >= len(operations) * 10
    assert len(unsatisfiable) <= 2, unsatisfiable
    print(f"schemathesis: {calls} requests, no failure; nothing invalid to send for {unsatisfiable}")
