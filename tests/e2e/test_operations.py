"""What an operator and an API client rely on: health checks and the OpenAPI documents."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.client import Api

CONTRACT_PATHS = {
    "identity": ["/accounts", "/sessions", "/me"],
    "requests": ["/dossiers", "/dossiers/{dossier_id}", "/dossiers/{dossier_id}/submit",
                 "/dossiers/{dossier_id}/declarations", "/dossiers/{dossier_id}/messages"],
    "cert": ["/reviews", "/reviews/{review_id}", "/reviews/{review_id}/claim",
             "/reviews/{review_id}/reject", "/reviews/{review_id}/accept"],
    "payment": ["/payments", "/payments/{payment_id}/record"],
    "documents": ["/dossiers/{dossier_id}/documents", "/documents/{document_id}",
                  "/dossiers/{dossier_id}/attachments"],
}


@pytest.mark.parametrize("service", sorted(CONTRACT_PATHS))
def test_every_service_reports_its_health_and_publishes_its_api(api: Api, service: str) -> None:
    health = api.call("GET", service, "/health")
    assert health.status_code == 200
    assert health.json()["checks"] == {"store": "ok", "broker": "ok", "delivery": "ok"}
    document = api.call("GET", service, "/schema/openapi.json")
    assert document.status_code == 200
    paths = {p.rstrip("/") or "/" for p in document.json()["paths"]}
    assert set(CONTRACT_PATHS[service]) <= paths, sorted(paths)


def test_an_unknown_route_answers_in_french(api: Api) -> None:
    response = api.call("GET", "requests", "/nulle-part")
    assert response.status_code == 404
    assert response.json()["message"] == "Ressource introuvable."


ERROR_BODY = "#/components/schemas/ErrorBody"
PUBLIC_ROUTES = {
    ("identity", "POST", "/accounts"), ("identity", "POST", "/sessions"),
    ("payment", "GET", "/fees"), ("documents", "GET", "/verification/{certificate_number}"),
    ("requests", "GET", "/verification/situations/{number}"),
    # Signing in with the identity provider starts without a token.
    ("identity", "POST", "/franceconnect/authorizations"), ("identity", "POST", "/franceconnect/sessions"),
    # The signed checkpoints are public, as on their topic: anyone may hold a copy.
    *((service, "GET", "/ledger/checkpoint")
      for service in ("identity", "requests", "cert", "payment", "documents")),
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def routes(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and not path.startswith("/health"):
                yield path.rstrip("/") or "/", method.upper(), operation


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]*_id\}", str(uuid.uuid4()), path).replace(
        "{certificate_number}", "CPI-INCONNU")


@pytest.mark.parametrize("service", sorted(CONTRACT_PATHS))
def test_every_route_documents_its_refusals_with_the_error_body_it_sends(
    api: Api, service: str
) -> None:
    document = api.call("GET", service, "/schema/openapi.json").json()
    assert "detail" not in json.dumps(document)  # Litestar's own error shape: never sent
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status_code", "message"}
    assert set(body["properties"]) == {"status_code", "message", "errors"}
    for path, method, operation in routes(document):
        documented = {int(code): r for code, r in operation["responses"].items() if code >= "400"}
        for code, response in documented.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_BODY}, (method, path, code)
        inputs = [p for p in operation.get("parameters", []) if p["in"] != "path"]
        if inputs or operation.get("requestBody"):
            assert {400, 422} <= set(documented), (method, path)
        if (service, method, path) in PUBLIC_ROUTES:
            continue
        assert 401 in documented, (method, path)
        anonymous = api.call(method, service, concrete(path), json={} if method == "POST" else None)
        assert anonymous.status_code in documented, (method, path, anonymous.status_code)
        assert set(anonymous.json()) <= {"status_code", "message", "errors"}
        assert anonymous.json()["status_code"] == anonymous.status_code
        if method == "GET":
            assert anonymous.status_code == 401, (path, anonymous.text)


@pytest.mark.parametrize("service", sorted(CONTRACT_PATHS))
def test_a_method_a_route_does_not_have_is_refused_with_the_methods_it_has(
    api: Api, service: str
) -> None:
    document = api.call("GET", service, "/schema/openapi.json").json()
    for path, item in document["paths"].items():
        methods = {m.upper() for m in item if m in HTTP_METHODS}
        refused = api.call("DELETE", service, concrete(path.rstrip("/") or "/"))
        assert refused.status_code == 405, (path, refused.text)
        assert methods <= {m.strip() for m in refused.headers["Allow"].split(",")}, path
        assert refused.json()["message"] == "Cette opération n'est pas permise ici."
