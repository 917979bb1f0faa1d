"""Julien PAUL's theft case, iterative mode: the CERT rejects a first declaration, accepts the next.

Two browsers side by side: Julien's, and the CERT agent's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import (
    CARD,
    Screens,
    blurry_photo,
    download,
    fill_card,
    log_in,
    menu,
    police_declaration,
    reload_until,
    row_with,
    start_request,
    tick_declarations,
)

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
PLATE = "EF-456-GH"  # seeded: held by Julien PAUL, the theft of its certificate not in the SIV
NOTE = "La photo est floue : on ne lit ni le nom ni la date. Envoyez un scan net du récépissé."
REPLY = "Voici le récépissé du commissariat, scanné en entier."
WAITING = re.compile("en attente de contrôle par le CERT")


def open_review(agent: Page, portal: str) -> None:
    agent.goto(f"{portal}/cert")
    reload_until(agent, lambda: row_with(agent, PLATE).get_by_role("link", name="Examiner"))
    row_with(agent, PLATE).get_by_role("link", name="Examiner").click()
    expect(agent.get_by_role("heading", name=re.compile("Déclaration de vol"))).to_be_visible()


def test_julien_sends_his_theft_declaration_twice_then_pays_and_downloads(
    portal: str, open_context: Callable[..., BrowserContext], screens: Screens, tmp_path: Path
) -> None:
    julien = open_context(viewport={"width": 1024, "height": 800}).new_page()
    agent = open_context().new_page()

    # Julien logs into « Mon Espace » and starts a new request.
    log_in(julien, portal, "julien.paul@example.fr")
    expect(menu(julien)).to_contain_text("Julien PAUL")
    screens.shot(julien, "julien-mon-espace")
    start_request(julien, "Vol", PLATE)
    screens.shot(julien, "julien-la-demande")
    julien.get_by_role("button", name="Continuer").click()
    tick_declarations(julien)
    julien.get_by_role("button", name="Valider").click()

    # The theft is not recorded in the SIV: the request waits for the police declaration.
    expect(julien.get_by_role("heading", name="Envoyer la déclaration de vol")).to_be_visible()
    field = julien.get_by_label("Déclaration de vol")
    expect(field).to_have_accessible_description(re.compile(r"PDF, JPEG ou PNG.*5 Mo"))
    screens.shot(julien, "julien-declaration-de-vol-demandee")
    field.set_input_files(blurry_photo(tmp_path / "photo-floue.png"))
    julien.get_by_role("button", name="Valider").click()
    expect(julien.get_by_role("heading", name=WAITING)).to_be_visible()
    screens.shot(julien, "julien-en-attente-du-cert")

    # The CERT agent finds it in the queue, sees the picture, rejects it as illegible.
    log_in(agent, portal, "agent.cert@example.fr")
    open_review(agent, portal)
    picture = agent.get_by_role("img", name=re.compile("Déclaration de vol envoyée"))
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 480
    screens.shot(agent, "cert-piece-a-controler")
    agent.get_by_label("Motif du refus").select_option(label="Document illisible")
    agent.get_by_label("Note au demandeur", exact=True).fill(NOTE)
    agent.get_by_role("button", name="Refuser la pièce").click()
    expect(agent.get_by_text("Pièce refusée (Document illisible)")).to_be_visible()
    screens.shot(agent, "cert-piece-refusee")

    # Julien's waiting page shows the CERT's note by itself; he replies with a new file.
    answered = julien.get_by_role("heading", name="Le CERT vous a répondu")
    expect(answered).to_be_visible(timeout=30_000)
    note = julien.get_by_role("region", name="Note du CERT")
    expect(note).to_contain_text("document illisible")
    expect(note).to_contain_text(NOTE)
    screens.shot(julien, "julien-note-du-cert")
    julien.get_by_label("Votre réponse").fill(REPLY)
    julien.get_by_label("Nouveau document").set_input_files(
        police_declaration(tmp_path / "recepisse.pdf", "Julien PAUL", PLATE)
    )
    screens.shot(julien, "julien-reponse-au-cert")
    julien.get_by_role("button", name="Envoyer").click()
    expect(julien.get_by_role("heading", name=WAITING)).to_be_visible()
    thread = julien.get_by_role("list").filter(has_text=REPLY)
    expect(thread).to_contain_text(NOTE)  # the CERT's note, then his reply
    screens.shot(julien, "julien-nouvelle-piece-envoyee")

    # The agent reads the reply in the thread, sees the PDF, accepts.
    open_review(agent, portal)
    expect(agent.locator("object[type='application/pdf']")).to_be_attached()
    expect(agent.get_by_role("list").filter(has_text=REPLY)).to_be_visible()
    expect(agent.get_by_text("Décisions précédentes")).to_be_visible()
    agent.wait_for_timeout(1500)  # the PDF viewer draws the page
    screens.shot(agent, "cert-nouvelle-piece")
    agent.get_by_role("button", name="Accepter la pièce").click()
    expect(agent.get_by_text("Pièce acceptée")).to_be_visible()
    screens.shot(agent, "cert-piece-acceptee")

    # Julien resumes from the basket once the request has been processed, pays, records.
    menu(julien).get_by_role("link", name="Accès au panier").click()
    reload_until(julien, lambda: julien.get_by_text("En attente de paiement"))
    screens.shot(julien, "julien-panier")
    julien.get_by_role("link", name="Reprendre la demande en cours").click()
    expect(julien.get_by_role("heading", name="Le récapitulatif")).to_be_visible()
    accepted = julien.get_by_text("Votre déclaration de vol a été acceptée par le CERT")
    expect(accepted).to_be_visible()
    screens.shot(julien, "julien-recapitulatif")
    julien.get_by_role("link", name="Payer en ligne").click()
    fill_card(julien, CARD)
    julien.get_by_role("button", name="Valider").click()
    julien.get_by_role("button", name="Cliquer ici pour enregistrer votre paiement").click()
    done = julien.get_by_role("heading", name="La démarche est terminée")
    expect(done).to_be_visible(timeout=30_000)
    screens.shot(julien, "julien-demarche-terminee")
    name, cpi = download(julien, "Télécharger le certificat provisoire d'immatriculation")
    assert name.endswith(".pdf") and cpi.startswith(b"%PDF-")
