"""Every backend service's OpenAPI document describes the API it serves: schemathesis
generates calls from each document (data that fits it, and data that does not), as a
citizen and as a CERT agent, and checks each answer: no server error, a documented status,
the documented content type and a body that matches the documented schema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ants_stack.stack import SERVICES, Stack
from tests.e2e.client import Api
from tests.e2e.principals import Landscape, landscape

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Calls per operation and generation mode: enough to reach each operation's refusals and
# its happy path's shape, few enough for the whole run to stay around a minute per store.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


def fuzz(base_url: str, token: str, known: dict[str, str] | None = None) -> list[str]:
    """Every operation of the service's document, called with generated data; the failures
    of the checks, one entry each (empty when the service keeps to its contract).

    Generated identifiers find nothing: `known` path parameters (a real dossier, payment,
    document) give each operation that takes them a second positive pass on real data."""
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            real = {name: value for name, value in (known or {}).items()
                    if f"{{{name}}}" in operation.path}
            passes: list[tuple[GenerationMode, int, dict[str, str] | None]] = [
                (mode, examples, None) for mode, examples in EXAMPLES.items()
            ]
            if real:
                passes.append((GenerationMode.POSITIVE, EXAMPLES[GenerationMode.NEGATIVE], real))
            # A real dossier's long poll waits for a change that will not come: briefly.
            query = {"timeout": 0.2} if takes_query(operation, "timeout") else None
            for mode, examples, path_parameters in passes:

                @settings(
                    max_examples=examples, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters,
                    query=query if path_parameters else None,
                ))
                def call(case: schemathesis.Case) -> None:
                    case.call_and_validate(
                        base_url=base_url, session=session, headers=headers, checks=CHECKS,
                        timeout=30,
                    )

                try:
                    call()
                except Unsatisfiable:  # no call breaks the document (no parameter, no body)
                    continue
                except FailureGroup as failure:  # the checks' findings, with a curl to replay
                    on = f" on {path_parameters}" if path_parameters else ""
                    failures.append(f"{operation.label} ({mode}{on}): {failure}")
    return failures


def takes_query(operation: schemathesis.APIOperation, name: str) -> bool:
    parameters = operation.definition.raw.get("parameters", [])
    return any(p.get("in") == "query" and p.get("name") == name for p in parameters)


def documented_services(stack: Stack) -> list[str]:
    """The backend services that publish an OpenAPI document."""
    return [
        service for service in SERVICES
        if httpx.get(f"{stack.config.url(service)}/schema/openapi.json").status_code == 200
    ]


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[Landscape]:
    with Api(stack.config) as api:
        yield landscape(api)


@pytest.mark.parametrize("caller", ["owner", "cert_agent"])
def test_every_service_keeps_to_its_openapi_document(
    stack: Stack, world: Landscape, caller: str
) -> None:
    services = documented_services(stack)
    assert {"identity", "requests", "cert", "payment", "documents"} <= set(services)
    user = world.callers[caller]
    assert user is not None
    known = {
        "dossier_id": world.dossier_id, "payment_id": world.payment_id,
        "document_id": world.certificate_document_id, "review_id": world.review_id,
        "plate": world.plate, "number": world.situation_number,
        "certificate_number": world.certificate_number,
    }

    started = time.monotonic()
    failures: dict[str, Any] = {
        service: found
        for service in services
        if (found := fuzz(stack.config.url(service), user.token, known))
    }

    assert failures == {}, "\n\n".join(
        f"[{service}] {line}" for service, lines in failures.items() for line in lines
    )
    assert time.monotonic() - started < 120
