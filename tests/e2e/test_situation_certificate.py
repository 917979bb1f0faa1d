"""The certificat de situation administrative (CSA): a PDF for the holder, refused to others."""

from __future__ import annotations

import re
import subprocess

from tests.e2e.client import Api


def pdf_text(content: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def test_marie_gets_the_situation_of_her_car_with_no_pledge_and_no_objection(api: Api) -> None:
    marie = api.login("marie.martin@example.fr")
    response = api.call("GET", "requests", "/vehicles/AB-123-CD/situation", marie)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/pdf")
    text = pdf_text(response.content)
    for expected in ("CERTIFICAT DE SITUATION ADMINISTRATIVE", "AB-123-CD", "VF1RJA00067123456",
                     "RENAULT", "CLIO V", "15/03/2021", "MARTIN Marie", "Aucun gage inscrit",
                     "Aucune opposition inscrite", "Non enregistré"):
        assert expected in text, expected
    found = re.search(r"CSA-\d{4}-[0-9A-Z]{8}", text)
    assert found, text
    number = found.group(0)
    checked = api.call("GET", "requests", f"/verification/situations/{number}")
    assert checked.status_code == 200
    assert checked.json()["plate"] == "AB-123-CD" and checked.json()["pledges"] == 0
    assert f"/verification/situations/{number}".split("/")[-1] in text


def test_the_situation_of_a_pledged_vehicle_names_the_creditor(api: Api) -> None:
    marie = api.login("marie.martin@example.fr")
    response = api.call("GET", "requests", "/vehicles/PQ-741-RS/situation", marie)
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    assert "CRÉDIT AUTO FRANCE" in text and "30/09/2022" in text
    assert "Aucune opposition inscrite" in text


def test_the_situation_of_someone_else_s_vehicle_is_refused(api: Api) -> None:
    marie = api.login("marie.martin@example.fr")
    refused = api.call("GET", "requests", "/vehicles/EF-456-GH/situation", marie)
    assert refused.status_code == 403
    assert "ni titulaire ni co-titulaire" in refused.text
    unknown = api.call("GET", "requests", "/verification/situations/CSA-2026-ZZZZZZZZ")
    assert unknown.status_code == 404


def test_marie_sees_the_vehicles_she_holds_or_co_holds(api: Api) -> None:
    marie = api.login("marie.martin@example.fr")
    listed = api.call("GET", "requests", "/vehicles", marie)
    assert listed.status_code == 200, listed.text
    roles = {v["plate"]: v["role"] for v in listed.json()["vehicles"]}
    assert roles == {"AB-123-CD": "titulaire", "MN-234-PQ": "cotitulaire",
                     "PQ-741-RS": "titulaire"}
    assert listed.json()["more"] is False
