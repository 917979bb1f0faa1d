"""The certificat de situation administrative pages against fake services: the PDF passes
through, a refusal is shown next to the registration number."""

from __future__ import annotations

import html
from typing import Any

import httpx
from litestar.testing import TestClient

REFUSED = ("Selon le SIV, vous n'êtes ni titulaire ni co-titulaire du véhicule EF-456-GH : "
           "seuls eux peuvent obtenir son certificat de situation administrative.")


def test_mon_espace_offers_the_csa_of_each_vehicle_held(logged_in: TestClient[Any]) -> None:
    page = logged_in.get("/mon-espace")
    assert page.status_code == 200
    assert "Mes véhicules" in page.text
    assert '/certificat-de-situation/pdf?plate=AB-123-CD' in page.text


def test_the_csa_of_a_vehicle_held_is_downloaded(logged_in: TestClient[Any], fake: Any) -> None:
    fake.on("requests", "GET", "/vehicles/AB-123-CD/situation", httpx.Response(
        200, content=b"%PDF-1.7 csa", headers={
            "content-type": "application/pdf",
            "content-disposition": 'attachment; filename="certificat-situation-CSA-2026-X.pdf"'}))
    response = logged_in.get("/certificat-de-situation/pdf", params={"plate": "AB-123-CD"})
    assert response.status_code == 200
    assert response.content == b"%PDF-1.7 csa"
    assert response.headers["content-disposition"].startswith("attachment;")


def test_someone_else_s_vehicle_is_refused_next_to_the_number(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", "/vehicles/EF-456-GH/situation", httpx.Response(403, json={
        "status_code": 403, "message": REFUSED, "errors": [{"field": "plate", "message": REFUSED}]}))
    response = logged_in.get("/certificat-de-situation/pdf", params={"plate": "EF-456-GH"})
    assert response.status_code == 403
    assert 'id="error-field-plate"' in response.text
    assert "ni titulaire ni co-titulaire du véhicule EF-456-GH" in html.unescape(response.text)
    assert 'value="EF-456-GH"' in response.text


def test_an_empty_number_is_asked_for_without_calling_the_service(
    logged_in: TestClient[Any], fake: Any
) -> None:
    response = logged_in.get("/certificat-de-situation/pdf", params={"plate": " "})
    assert response.status_code == 422
    assert "Indiquez le numéro d'immatriculation" in html.unescape(response.text)
    assert not [c for c in fake.calls if c.url.path.endswith("/situation")]
