"""A citizen who lost the registration certificate, on a phone, from the new account to the CPI."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from ants_identity_provider.enrolment import person
from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import (
    CARD,
    Screens,
    download,
    fill_card,
    menu,
    start_request,
    tick_declarations,
)
from tests.e2e.client import fleet_plate

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
PHONE = {"width": 375, "height": 812}


def pdf_text(content: bytes, path: Path) -> str:
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_a_citizen_who_lost_the_card_gets_the_provisional_certificate_on_a_phone(
    portal: str, identity_provider: str, open_context: Callable[..., BrowserContext],
    screens: Screens, tmp_path: Path,
) -> None:
    page = open_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    plate = fleet_plate()  # a vehicle of the seeded test fleet, held by "Flotte ESSAI"

    page.goto(portal)
    screens.shot(page, "accueil")
    # Signing in with « S'identifier avec FranceConnect » (the demo provider): only a
    # verified identity may ask for a duplicate. The person was enrolled at the provider.
    enrolled = httpx.post(f"{identity_provider}/identities", timeout=30, json=person(
        "Flotte", "ESSAI", f"flotte.essai.{uuid.uuid4().hex[:8]}@example.fr",
    ))
    page.goto(f"{portal}/connexion")
    screens.shot(page, "connexion")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    page.get_by_label("Identifiant de la personne").fill(enrolled.json()["sub"])
    page.get_by_role("button", name="Transmettre l'identité de cette personne").click()

    # 1. « Mon Espace »; 2. the name in the menu.
    expect(page.get_by_role("heading", name="Mon Espace")).to_be_visible()
    expect(menu(page)).to_contain_text("Flotte ESSAI")
    screens.shot(page, "mon-espace")

    # 3. « Je refais ma carte grise »: reason, person, registration number.
    start_request(page, "Perte", plate)
    expect(page.get_by_label("Le véhicule m'a été cédé mais je ne dispose plus du certificat "
                             "d'immatriculation pour l'immatriculer à mon nom")).not_to_be_checked()
    expect(page.get_by_text("Format AB-123-CD")).to_be_visible()
    screens.shot(page, "la-demande")
    page.get_by_role("button", name="Continuer").click()

    # The legal declarations, ticked before « Valider ».
    expect(page.get_by_role("heading", name="Les déclarations légales")).to_be_visible()
    tick_declarations(page)
    screens.shot(page, "les-declarations")
    page.get_by_role("button", name="Valider").click()

    # « Le récapitulatif »: vehicle, reason, person and the fees with their total.
    expect(page.get_by_role("heading", name="Le récapitulatif")).to_be_visible()
    main = page.get_by_role("main")
    expect(main).to_contain_text(plate)
    expect(main).to_contain_text("RENAULT KANGOO")
    expect(main).to_contain_text("Perte")
    expect(main).to_contain_text("Titulaire")
    fees = page.get_by_role("table", name="Taxes à payer")
    expect(fees).to_contain_text("11,00\u00a0€")
    expect(fees).to_contain_text("2,76\u00a0€")
    expect(fees.get_by_role("row", name="Total à payer")).to_contain_text("13,76\u00a0€")
    screens.shot(page, "le-recapitulatif")
    page.get_by_role("link", name="Payer en ligne").click()

    # The payment: card number, expiry, CVV, « Valider ».
    expect(page.get_by_role("heading", name="Le paiement en ligne")).to_be_visible()
    fill_card(page, CARD)
    screens.shot(page, "le-paiement")
    page.get_by_role("button", name="Valider").click()

    # The payment is recorded only by the click on the prominent button.
    record = page.get_by_role("button", name="Cliquer ici pour enregistrer votre paiement")
    expect(record).to_be_visible()
    expect(page.get_by_text("il est impératif d'appuyer sur le bouton")).to_be_visible()
    screens.shot(page, "enregistrer-le-paiement")
    record.click()

    done = page.get_by_role("heading", name="La démarche est terminée")
    expect(done).to_be_visible(timeout=30_000)
    screens.shot(page, "la-demarche-est-terminee")

    name, cpi = download(page, "Télécharger le certificat provisoire d'immatriculation")
    assert name.endswith(".pdf") and cpi.startswith(b"%PDF-")
    text = pdf_text(cpi, tmp_path / "cpi.pdf")
    assert plate in text and "ESSAI" in text
    name, summary = download(page, "Télécharger le récapitulatif de la demande")
    assert name.endswith(".pdf") and summary.startswith(b"%PDF-")
    assert "13,76" in pdf_text(summary, tmp_path / "recapitulatif.pdf")

    # The finished request is no longer in the basket.
    menu(page).get_by_role("link", name="Accès au panier").click()
    expect(page.get_by_text("Votre panier est vide")).to_be_visible()
    screens.shot(page, "panier-vide")

    menu(page).get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_text("Vous êtes déconnecté")).to_be_visible()
    expect(menu(page)).not_to_contain_text("Flotte ESSAI")
    page.goto(f"{portal}/mon-espace")
    expect(page.get_by_role("heading", name="Se connecter à Mon Espace")).to_be_visible()
    screens.shot(page, "deconnecte")
