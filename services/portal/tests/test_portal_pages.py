"""The pages against fake services: refusals placed by field, sessions, payment, documents."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from litestar.testing import TestClient

DOSSIER_ID = "5d9c8a4e-6f3b-4b1e-9a2c-7e1d0f3b2a10"
PAYMENT_ID = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"


def reply(status: int = 200, body: Any = None) -> httpx.Response:
    return httpx.Response(status, json=body)


def refusal(status: int, message: str, field: str | None = None) -> httpx.Response:
    """A service's refusal, shaped as every service shapes them."""
    body: dict[str, Any] = {"status_code": status, "message": message}
    if field:
        body["errors"] = [{"field": field, "message": message}]
    return reply(status, body)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def dossier(
    status: str = "ready_for_payment", action: str | None = "pay", **extra: Any
) -> dict[str, Any]:
    return {
        "dossier_id": DOSSIER_ID, "dossier_number": "DUP-2026-5D9C8A4E", "status": status,
        "status_label": "En attente de paiement", "reason": "perte", "reason_label": "Perte",
        "person": "titulaire", "person_label": "Titulaire", "special_case": False,
        "plate": "AB-123-CD",
        "vehicle": {"plate": "AB-123-CD", "vin": "VF1RJA00067123456", "make": "RENAULT",
                    "model": "CLIO V", "first_registration": "2021-03-15"},
        "holder": {"given_name": "Marie", "family_name": "MARTIN"},
        "declarations": {"sworn_statement": True, "legal_terms": True},
        "amount_due": {"total": "13.76", "currency": "EUR", "lines": [
            {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
            {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"}]},
        "payment": None, "certificate": None,
        "next_action": {"code": action, "label": "Payer les taxes en ligne"} if action else None,
        "latest_cert_note": None, "declaration_documents": [],
        "started_at": "2026-03-05T09:12:00+00:00", "submitted_at": None, "version": 4,
        **extra,
    }


def authorised() -> httpx.Response:
    return reply(201, {"payment_id": PAYMENT_ID, "dossier_id": DOSSIER_ID, "status": "authorised",
                       "amount": {"total": "13.76", "currency": "EUR", "lines": []},
                       "card_last4": "0006", "psp_reference": "SIM-1"})


def test_the_menu_shows_the_persons_name_once_logged_in(logged_in: TestClient[Any]) -> None:
    page = logged_in.get("/mon-espace")
    assert page.status_code == 200
    assert "Marie MARTIN" in page.text
    assert "Je refais ma carte grise (certificat d'immatriculation)" in page.text


def test_a_page_that_needs_a_session_sends_to_the_login_page_and_back(
    client: TestClient[Any],
) -> None:
    response = client.get(f"/dossiers/{DOSSIER_ID}/recapitulatif", follow_redirects=False)
    assert response.status_code in (302, 303)
    back = f"%2Fdossiers%2F{DOSSIER_ID}%2Frecapitulatif"
    assert response.headers["location"] == f"/connexion?suivant={back}"


def test_a_refusal_is_shown_next_to_its_field_and_the_answers_are_kept(
    logged_in: TestClient[Any], fake: Any
) -> None:
    message = "« 1234 AB 56 » est un numéro à l'ancien format (FNI)."
    fake.on("requests", "POST", "/dossiers", refusal(422, message, "plate"))
    page = logged_in.get("/demarches/duplicata")
    response = logged_in.post("/demarches/duplicata", data={
        "_csrf_token": hidden(page.text, "_csrf_token"),
        "form_token": hidden(page.text, "form_token"),
        "reason": "vol", "person": "titulaire", "special_case": "oui", "plate": "1234 AB 56"})
    assert response.status_code == 422
    html = response.text
    assert 'aria-describedby="hint-field-plate error-field-plate" aria-invalid="true"' in html
    assert 'id="error-field-plate"' in html and "ancien format (FNI)" in html
    assert '<a href="#field-plate">' in html
    assert 'value="1234 AB 56"' in html
    assert 'value="vol" checked' in html and 'value="titulaire" checked' in html
    assert 'name="special_case" value="oui" checked' in html
    assert body_of(fake.seen("requests", "POST", "/dossiers")[0])["special_case"] is True


def test_a_form_without_its_csrf_token_is_refused_in_french(logged_in: TestClient[Any]) -> None:
    response = logged_in.post("/demarches/duplicata", data={"plate": "AB-123-CD"})
    assert response.status_code == 403
    assert "Ce formulaire a expiré" in response.text


def test_an_expired_token_ends_the_session(logged_in: TestClient[Any], fake: Any) -> None:
    fake.on("requests", "GET", "/dossiers", refusal(401, "Vous devez être connecté."))
    response = logged_in.get("/panier", follow_redirects=False)
    assert response.headers["location"] == "/connexion?suivant=%2Fpanier"
    login = logged_in.get("/connexion")
    assert "Votre session a expiré" in login.text
    assert "Marie MARTIN" not in login.text


def test_someone_elses_dossier_is_a_french_refusal_page(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}",
            refusal(403, "Ce dossier ne vous appartient pas."))
    response = logged_in.get(f"/dossiers/{DOSSIER_ID}/fin")
    assert response.status_code == 403
    assert "Accès refusé" in response.text and "Ce dossier ne vous appartient pas." in response.text


def test_the_payment_is_asked_once_and_a_refusal_is_shown_on_the_form(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}", reply(200, dossier()))
    fake.on("payment", "GET", f"/dossiers/{DOSSIER_ID}", refusal(404, "Dossier inconnu."))
    fake.on("payment", "POST", "/payments",
            refusal(409, "Ce dossier n'est pas en attente de paiement."))
    page = logged_in.get(f"/dossiers/{DOSSIER_ID}/paiement")
    response = logged_in.post(f"/dossiers/{DOSSIER_ID}/paiement", data={
        "_csrf_token": hidden(page.text, "_csrf_token"),
        "form_token": hidden(page.text, "form_token"),
        "card_number": "4970 1000 0000 0006", "expiry": "12/30", "cvv": "123"})
    assert "pas en attente de paiement." in response.text
    assert len(fake.seen("payment", "POST", "/payments")) == 1  # the service waits, not us
    assert 'value="4970 1000 0000 0006"' in response.text
    assert 'value="123"' not in response.text  # the CVV is never shown back


def test_a_payment_whose_dossier_is_still_on_its_way_says_to_come_back(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}", reply(200, dossier()))
    fake.on("payment", "GET", f"/dossiers/{DOSSIER_ID}", refusal(404, "Dossier inconnu."))
    fake.on("payment", "POST", "/payments", refusal(
        503, "Votre démarche est en cours de transmission entre nos services : réessayez "
        "dans un instant."))
    page = logged_in.get(f"/dossiers/{DOSSIER_ID}/paiement")
    response = logged_in.post(f"/dossiers/{DOSSIER_ID}/paiement", data={
        "_csrf_token": hidden(page.text, "_csrf_token"),
        "form_token": hidden(page.text, "form_token"),
        "card_number": "4970 1000 0000 0006", "expiry": "12/30", "cvv": "123"})
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text


def test_an_authorised_payment_is_resumed_at_its_recording(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}", reply(200, dossier()))
    fake.on("payment", "GET", f"/dossiers/{DOSSIER_ID}", reply(200, {
        "dossier_id": DOSSIER_ID, "status": "authorised", "payment_id": PAYMENT_ID,
        "amount_due": {"total": "13.76", "currency": "EUR", "lines": []}}))
    response = logged_in.get(f"/dossiers/{DOSSIER_ID}", follow_redirects=False)
    assert response.headers["location"] == f"/dossiers/{DOSSIER_ID}/paiement/{PAYMENT_ID}"


def test_a_page_opened_out_of_turn_leads_to_the_dossiers_step(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}",
            reply(200, dossier("under_review", "wait_cert")))
    response = logged_in.get(f"/dossiers/{DOSSIER_ID}/paiement", follow_redirects=False)
    assert response.headers["location"] == f"/dossiers/{DOSSIER_ID}/controle"


def test_a_document_is_shown_inline_only_when_asked(logged_in: TestClient[Any], fake: Any) -> None:
    fake.on("documents", "GET", f"/documents/{PAYMENT_ID}", httpx.Response(
        200, content=b"%PDF-1.7 ...", headers={
            "content-type": "application/pdf",
            "content-disposition": "attachment; filename=\"cpi.pdf\""}))
    download = logged_in.get(f"/documents/{PAYMENT_ID}")
    assert download.content.startswith(b"%PDF-")
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["content-disposition"] == 'attachment; filename="cpi.pdf"'
    shown = logged_in.get(f"/documents/{PAYMENT_ID}?affichage=integre")
    assert shown.headers["content-disposition"] == 'inline; filename="cpi.pdf"'
    for response in (download, shown):
        assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert fake.seen("documents", "GET", f"/documents/{PAYMENT_ID}")[0].headers[
        "Authorization"] == "Bearer token-marie"


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient[Any]) -> None:
    token = hidden(client.get("/connexion").text, "_csrf_token")
    response = client.post("/connexion", follow_redirects=False, data={
        "_csrf_token": token, "email": "marie@example.fr", "password": "demo-2026"})
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("espace_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
    assert "token-marie" not in cookie  # encrypted


def test_a_session_that_expires_during_a_form_comes_back_to_the_dossier(
    logged_in: TestClient[Any], fake: Any
) -> None:
    page = logged_in.get("/demarches/duplicata")
    fake.on("requests", "GET", f"/dossiers/{DOSSIER_ID}", refusal(401, "Vous devez être connecté."))
    response = logged_in.post(f"/dossiers/{DOSSIER_ID}/declarations", follow_redirects=False, data={
        "_csrf_token": hidden(page.text, "_csrf_token"), "sworn_statement": "oui"})
    assert response.headers["location"] == f"/connexion?suivant=%2Fdossiers%2F{DOSSIER_ID}"


REVIEW_ID = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
DOCUMENT_ID = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"


def review(media_type: str) -> dict[str, Any]:
    return {
        "review_id": REVIEW_ID, "dossier_id": DOSSIER_ID, "status": "pending",
        "status_label": "À traiter", "claimed_by": None, "claimed_by_name": None,
        "opened_at": "2026-03-05T09:30:00+00:00", "decision": None, "closed_reason": None,
        "document": {"document_id": DOCUMENT_ID, "media_type": media_type, "sha256": "ab" * 32,
                     "size": 120_000, "uploaded_at": "2026-03-05T09:30:00+00:00",
                     "document_url": f"/documents/{DOCUMENT_ID}"},
        "dossier": {"dossier_id": DOSSIER_ID, "known": True, "dossier_number": "DUP-2026-5D9C8A4E",
                    "reason": "vol", "reason_label": "Vol", "person": "titulaire",
                    "person_label": "Titulaire", "special_case": False,
                    "vehicle": {"plate": "EF-456-GH", "vin": "VF3", "make": "PEUGEOT",
                                "model": "308"},
                    "holder": {"given_name": "Julien", "family_name": "PAUL"}, "cancelled": False},
        "thread": [], "earlier_decisions": [],
        "rejection_reasons": [{"code": "illisible", "label": "Document illisible"},
                              {"code": "autre", "label": "Autre motif"}],
        "version": 1,
    }


def as_agent(fake: Any) -> None:
    fake.on("identity", "GET", "/me", reply(200, {
        "account_id": "1b6f3d4e-8c1a-4c57-9d3e-3f2b1a0c9e11", "email": "agent@example.fr",
        "given_name": "Camille", "family_name": "ROUSSEL", "roles": ["cert_agent"]}))


def test_the_agent_sees_a_picture_or_a_pdf_inside_the_review_page(
    client: TestClient[Any], fake: Any
) -> None:
    as_agent(fake)
    page = client.get("/connexion")
    client.post("/connexion", data={"_csrf_token": hidden(page.text, "_csrf_token"),
                                    "email": "agent@example.fr", "password": "demo-2026"})
    fake.on("cert", "GET", f"/reviews/{REVIEW_ID}", reply(200, review("image/png")))
    picture = client.get(f"/cert/revues/{REVIEW_ID}").text
    assert f'<img src="/documents/{DOCUMENT_ID}?affichage=integre"' in picture
    fake.on("cert", "GET", f"/reviews/{REVIEW_ID}", reply(200, review("application/pdf")))
    pdf = client.get(f"/cert/revues/{REVIEW_ID}").text
    src = f"/documents/{DOCUMENT_ID}?affichage=integre"
    assert f'<object data="{src}" type="application/pdf"' in pdf


def test_a_rejection_without_a_reason_is_refused_next_to_the_reason(
    client: TestClient[Any], fake: Any
) -> None:
    as_agent(fake)
    page = client.get("/connexion")
    client.post("/connexion", data={"_csrf_token": hidden(page.text, "_csrf_token"),
                                    "email": "agent@example.fr", "password": "demo-2026"})
    fake.on("cert", "GET", f"/reviews/{REVIEW_ID}", reply(200, review("image/png")))
    fake.on("cert", "POST", f"/reviews/{REVIEW_ID}/reject",
            refusal(422, "Motif de refus inconnu.", "reason"))
    form = client.get(f"/cert/revues/{REVIEW_ID}").text
    response = client.post(f"/cert/revues/{REVIEW_ID}/refus", data={
        "_csrf_token": hidden(form, "_csrf_token"), "form_token": hidden(form, "form_token"),
        "reason": "", "note": "Photo floue"})
    assert response.status_code == 422
    assert 'id="error-field-reason"' in response.text and "Motif de refus inconnu." in response.text
    assert ">Photo floue</textarea>" in response.text


def test_a_citizen_is_kept_out_of_the_back_office(logged_in: TestClient[Any]) -> None:
    response = logged_in.get("/cert")
    assert response.status_code == 403
    assert "réservé aux agents du CERT" in response.text


def basket_of(count: int, per_page: int = 20) -> Callable[[httpx.Request], httpx.Response]:
    """The requests service's basket of an account with `count` dossiers in progress: pages
    newest first, and a `Link` header to the pages around (cursors are opaque to the portal)."""
    numbers = [f"DUP-2026-{n:08d}" for n in range(count, 0, -1)]

    def answer(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor is not None and not cursor.startswith("page-"):
            return refusal(422, "Ce curseur de pagination n'est pas valide.", "cursor")
        start = int(cursor.removeprefix("page-")) if cursor else 0
        links = []
        if start + per_page < count:
            links.append(f'</dossiers?limit={per_page}&cursor=page-{start + per_page}>; rel="next"')
        if start > 0:
            links.append(f'</dossiers?limit={per_page}&cursor=page-{start - per_page}>; rel="prev"')
        shown = [dossier("draft", "declare", dossier_number=n)
                 for n in numbers[start:start + per_page]]
        return httpx.Response(200, json=shown, headers={"Link": ", ".join(links)} if links else {})

    return answer


def numbers_on(page: str) -> list[str]:
    return re.findall(r"<dd>(DUP-2026-\d{8})</dd>", page)


def test_a_long_basket_is_read_a_page_at_a_time_newest_first(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", "/dossiers", basket_of(45))
    first = logged_in.get("/panier").text
    assert numbers_on(first)[:2] == ["DUP-2026-00000045", "DUP-2026-00000044"]
    assert len(numbers_on(first)) == 20
    assert 'href="/panier?page=page-20">Page suivante' in first
    assert "Page précédente" not in first

    second = logged_in.get("/panier?page=page-20").text
    assert numbers_on(second)[0] == "DUP-2026-00000025"
    assert fake.seen("requests", "GET", "/dossiers")[-1].url.params["cursor"] == "page-20"
    assert 'href="/panier?page=page-0">Page précédente' in second
    assert 'href="/panier?page=page-40">Page suivante' in second

    last = logged_in.get("/panier?page=page-40").text
    assert numbers_on(last) == [f"DUP-2026-{n:08d}" for n in range(5, 0, -1)]
    assert "Page suivante" not in last and "Page précédente" in last


def test_a_basket_on_one_page_shows_no_page_links(logged_in: TestClient[Any], fake: Any) -> None:
    fake.on("requests", "GET", "/dossiers", basket_of(3))
    page = logged_in.get("/panier").text
    assert len(numbers_on(page)) == 3
    assert "Page suivante" not in page and "Page précédente" not in page


def test_mon_espace_says_when_there_are_more_requests_than_one_page(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", "/dossiers", basket_of(45))
    assert "Vous avez plus de 20 demandes en cours." in logged_in.get("/mon-espace").text
    fake.on("requests", "GET", "/dossiers", basket_of(3))
    assert "Vous avez 3 demandes en cours." in logged_in.get("/mon-espace").text


def test_a_mangled_page_address_leads_back_to_the_first_page(
    logged_in: TestClient[Any], fake: Any
) -> None:
    fake.on("requests", "GET", "/dossiers", basket_of(45))
    response = logged_in.get("/panier?page=bricole", follow_redirects=False)
    assert response.status_code in (302, 303) and response.headers["location"] == "/panier"
