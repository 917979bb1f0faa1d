"""Refusals as people meet them: next to the field, what they typed kept; access refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from ants_stack.stack import Stack
from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import (
    CARD,
    EXPIRED_CARD,
    PASSWORD,
    Screens,
    fill_card,
    log_in,
    menu,
    start_request,
)
from tests.e2e.client import Api, User, eventually, fleet_plate

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
API_CARD = {"card_number": CARD["number"], "expiry": CARD["expiry"], "cvv": CARD["cvv"]}


@pytest.fixture()
def owner(api: Api) -> User:
    return api.new_citizen("Flotte", "ESSAI")


@pytest.fixture()
def citizen_page(open_context: Callable[..., BrowserContext]) -> Iterator[Page]:
    yield open_context().new_page()


def test_an_old_fni_number_is_refused_next_to_the_plate_and_the_other_answers_are_kept(
    portal: str, owner: User, citizen_page: Page, screens: Screens
) -> None:
    page = citizen_page
    log_in(page, portal, owner.email)
    start_request(page, "Détérioration", "1234 AB 56")
    special = page.get_by_label(re.compile("^Le véhicule m'a été cédé"))
    special.check()
    page.get_by_role("button", name="Continuer").click()

    plate = page.get_by_label("Numéro d'immatriculation")
    expect(plate).to_have_accessible_description(re.compile(r"ancien format \(FNI\).*AB-123-CD"))
    expect(plate).to_have_attribute("aria-invalid", "true")
    expect(plate).to_have_value("1234 AB 56")
    expect(page.get_by_label("Détérioration", exact=True)).to_be_checked()
    expect(page.get_by_label("Titulaire", exact=True)).to_be_checked()
    expect(special).to_be_checked()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Il y a un problème")
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile("^Erreur : "))
    screens.shot(page, "numero-fni-refuse")

    # The summary's link leads to the field.
    summary.get_by_role("link").click()
    expect(plate).to_be_focused()


def test_the_pages_can_be_used_with_the_keyboard_alone(
    portal: str, owner: User, citizen_page: Page, screens: Screens
) -> None:
    page = citizen_page
    page.goto(f"{portal}/connexion")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    screens.shot(page, "lien-d-evitement")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the verified sign-in comes first, then the password form
    expect(page.get_by_role("link", name="S'identifier avec FranceConnect")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Adresse électronique")).to_be_focused()
    page.keyboard.type(owner.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mon Espace")).to_be_visible()

    # The main button is reached from the keyboard, with a visible focus.
    cta = tab_to(page, page.get_by_role(
        "link", name="Je refais ma carte grise (certificat d'immatriculation)"))
    outline = cta.evaluate(
        "link => getComputedStyle(link).outlineStyle + ' ' + getComputedStyle(link).outlineWidth"
    )
    assert outline == "solid 3px"
    screens.shot(page, "focus-visible")
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_label("Perte", exact=True))
    page.keyboard.press("Space")
    expect(page.get_by_label("Perte", exact=True)).to_be_checked()


def tab_to(page: Page, target: Locator, most: int = 15) -> Locator:
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return target
    raise AssertionError(f"{target} not reached with {most} presses of Tab")


def test_an_expired_card_is_refused_and_the_card_number_is_kept(
    portal: str, api: Api, owner: User, citizen_page: Page, screens: Screens
) -> None:
    dossier = api.start_and_submit(owner, fleet_plate())
    page = citizen_page
    log_in(page, portal, owner.email)
    menu(page).get_by_role("link", name="Accès au panier").click()
    page.get_by_role("link", name="Reprendre la demande en cours").click()
    page.get_by_role("link", name="Payer en ligne").click()
    fill_card(page, EXPIRED_CARD)
    page.get_by_role("button", name="Valider").click()

    expect(page.get_by_role("alert")).to_contain_text("La carte est expirée.")
    expect(page.get_by_label("Date d'expiration")).to_have_accessible_description(
        re.compile("La carte est expirée")
    )
    expect(page.get_by_label("Numéro de la carte")).to_have_value(EXPIRED_CARD["number"])
    expect(page.get_by_label("Date d'expiration")).to_have_value(EXPIRED_CARD["expiry"])
    expect(page.get_by_label("Cryptogramme")).to_have_value("")  # never shown back
    assert EXPIRED_CARD["cvv"] not in page.get_by_label("Cryptogramme").input_value()
    screens.shot(page, "carte-expiree")
    assert api.dossier(owner, dossier["dossier_id"])["status"] == "ready_for_payment"

    # Corrected, the payment goes through.
    fill_card(page, CARD)
    page.get_by_role("button", name="Valider").click()
    record = page.get_by_role("button", name="Cliquer ici pour enregistrer votre paiement")
    expect(record).to_be_visible()


def test_the_same_payment_form_sent_twice_authorises_one_payment(
    portal: str, api: Api, owner: User, citizen_page: Page, stack: Stack
) -> None:
    """What a double click does when the browser's script cannot stop it."""
    dossier_id = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    page = citizen_page
    log_in(page, portal, owner.email)
    page.goto(f"{portal}/dossiers/{dossier_id}/paiement")
    form = {
        name: page.get_by_role("main").locator(f"input[name='{name}']").input_value()
        for name in ("_csrf_token", "form_token")
    }
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    body = {**form, "card_number": CARD["number"], "expiry": CARD["expiry"], "cvv": CARD["cvv"]}

    def send() -> httpx.Response:
        with httpx.Client(base_url=portal, cookies=cookies) as client:
            return client.post(f"/dossiers/{dossier_id}/paiement", data=body)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: send(), range(2))
    assert first.status_code == second.status_code == 302
    assert first.headers["location"] == second.headers["location"]
    record_page = rf"/dossiers/{dossier_id}/paiement/[0-9a-f-]{{36}}"
    assert re.fullmatch(record_page, first.headers["location"])
    payment = api.call("GET", "payment", f"/dossiers/{dossier_id}", owner).json()
    assert first.headers["location"].endswith(payment["payment_id"])


def test_another_citizens_dossier_and_documents_are_refused_in_french(
    portal: str, api: Api, owner: User, citizen_page: Page, screens: Screens
) -> None:
    dossier_id = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    payment = api.pay(owner, dossier_id, API_CARD)
    assert payment.status_code == 201, payment.text
    api.record(owner, payment.json()["payment_id"])
    api.wait_status(owner, dossier_id, "completed")
    documents = eventually(lambda: api.call(
        "GET", "documents", f"/dossiers/{dossier_id}/documents", owner).json())

    intruder = api.new_citizen("Flotte", "ESSAI")
    page = citizen_page
    log_in(page, portal, intruder.email, PASSWORD)
    for path in (f"/dossiers/{dossier_id}", f"/dossiers/{dossier_id}/fin",
                 f"/dossiers/{dossier_id}/recapitulatif"):
        response = page.goto(f"{portal}{path}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()
        expect(page.get_by_role("main")).to_contain_text("Ce dossier ne vous appartient pas.")
    screens.shot(page, "dossier-d-un-autre")

    response = page.goto(f"{portal}/documents/{documents[0]['document_id']}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()
    screens.shot(page, "document-d-un-autre")

    # Nor is the CERT's back office open to a citizen.
    response = page.goto(f"{portal}/cert")
    assert response is not None and response.status == 403
    expect(page.get_by_role("main")).to_contain_text("réservé aux agents du CERT")
