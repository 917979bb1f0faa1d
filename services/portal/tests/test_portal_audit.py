"""The auditor's pages, against fake services: a dossier's timeline across services, the bundle
download, and nobody else let in."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from litestar.testing import TestClient

DOSSIER_ID = "5a0e3c9a-2f57-4c4a-9d1b-7b7e6f1d2c3a"
JULIEN = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
AGENT = "1b6f3d4e-8c1a-4c57-9d3e-3f2b1a0c9e11"
STATE = {
    "dossier_id": DOSSIER_ID, "dossier_number": "DUP-7K2M9Q", "status": "completed",
    "status_label": "Terminée", "reason": "vol", "reason_label": "Vol", "person": "titulaire",
    "person_label": "Titulaire", "plate": "EF-456-GH", "version": 9,
}
TIMELINE = [
    {"service": "requests", "type": "RequestStarted", "version": 1, "position": 12,
     "stream_version": 1, "at": "2026-11-29T09:00:00+00:00", "event_id": "e1",
     "actor": {"account_id": JULIEN, "roles": ["citizen"]}, "correlation_id": "req-1",
     "causation_id": None, "data": {"plate": "EF-456-GH"}},
    {"service": "cert", "type": "AttachmentRejected", "version": 2, "position": 4,
     "at": "2026-11-29T09:05:00+00:00", "event_id": "e2",
     "actor": {"account_id": AGENT, "roles": ["cert_agent"]}, "correlation_id": "req-2",
     "causation_id": None, "data": {"note": "Illisible"}},
    {"service": "documents", "type": "CertificateIssued", "version": 1, "position": 30,
     "at": "2026-11-29T09:20:00+00:00", "event_id": "e3", "actor": {"service": "documents"},
     "correlation_id": "req-9", "causation_id": "e2", "data": {"certificate_number": "CPI-1"}},
]


def reply(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def log_in_as(client: TestClient[Any], fake: Any, roles: list[str]) -> None:
    fake.on("identity", "GET", "/me", reply(200, {
        "account_id": "2c6f3d4e-8c1a-4c57-9d3e-3f2b1a0c9e11", "email": "auditeur@example.fr",
        "given_name": "Alice", "family_name": "AUDIT", "roles": roles}))
    page = client.get("/connexion").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/connexion", data={"_csrf_token": token.group(1),
                                    "email": "auditeur@example.fr", "password": "demo-2026"})


def test_the_auditor_reads_the_whole_timeline_of_a_dossier(client: TestClient[Any], fake: Any) -> None:
    log_in_as(client, fake, ["auditor"])
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}/audit/state", reply(200, STATE))
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}/audit", reply(200, TIMELINE))
    found = client.get(f"/audit/?dossier={DOSSIER_ID}")
    assert found.status_code == 200 and str(found.url).endswith(f"/audit/dossiers/{DOSSIER_ID}")
    page = found.text
    assert "Audit du dossier DUP-7K2M9Q" in page and "3 événements" in page
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    assert "Demande créée" in rows[0] and "Usager" in rows[0] and JULIEN in rows[0]
    assert "29 novembre 2026 à 10:00:00" in rows[0]  # Paris time, to the second
    assert "Pièce refusée par le CERT" in rows[1] and "Agent du CERT" in rows[1]
    assert "Service Documents (réaction)" in rows[2] and "CertificateIssued v1" in rows[2]
    assert "&#34;certificate_number&#34;: &#34;CPI-1&#34;" in rows[2] or '"certificate_number": "CPI-1"' in rows[2]
    assert f'href="/audit/dossiers/{DOSSIER_ID}/preuves"' in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>")[0]  # read-only


def test_the_auditor_downloads_the_bundle_as_a_file(client: TestClient[Any], fake: Any) -> None:
    log_in_as(client, fake, ["auditor"])
    bundle = {"format": "ants-audit-bundle/1", "events": TIMELINE}
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}/audit/bundle", reply(200, bundle))
    response = client.get(f"/audit/dossiers/{DOSSIER_ID}/preuves")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="dossier-{DOSSIER_ID}-preuves.json"'
    )
    assert json.loads(response.content) == bundle


def test_a_mistyped_identifier_is_explained_next_to_the_field(client: TestClient[Any], fake: Any) -> None:
    log_in_as(client, fake, ["auditor"])
    response = client.get("/audit/?dossier=DUP-7K2M9Q")
    assert response.status_code == 400
    assert 'id="error-audit-dossier"' in response.text and 'value="DUP-7K2M9Q"' in response.text


def test_citizens_and_agents_are_kept_out_of_the_audit_pages(client: TestClient[Any], fake: Any) -> None:
    for roles in (["citizen"], ["cert_agent"]):
        log_in_as(client, fake, roles)
        for path in ("/audit/", f"/audit/dossiers/{DOSSIER_ID}", f"/audit/dossiers/{DOSSIER_ID}/preuves"):
            response = client.get(path)
            assert response.status_code == 403, (roles, path)
            assert "réservées aux auditeurs" in response.text
        assert not fake.seen("requests", "GET", f"/dossiers/{DOSSIER_ID}/audit")
