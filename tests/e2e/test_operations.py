"""What an operator and an API client rely on: health checks and the OpenAPI documents."""

from __future__ import annotations

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
