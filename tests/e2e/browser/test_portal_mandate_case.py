"""Paul ROUX asks for a duplicate for his mother Lucie ROUX, under a mandate: the CERT finds the
first mandate incomplete, accepts the signed one and Lucie's identity document; Paul pays and
downloads a CPI that names Lucie as holder and himself as the requester.

Two browsers side by side: Paul's, and the CERT agent's.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import (
    CARD,
    Screens,
    download,
    fill_card,
    log_in,
    menu,
    reload_until,
    row_with,
    start_request,
    tick_declarations,
)

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
PLATE = "GH-321-JK"  # seeded: held by Lucie ROUX
MANDATE = "Mandat signé par le titulaire"
IDENTITY = "Pièce d'identité du titulaire"
NOTE = "Le mandat n'est pas signé par Mme Lucie ROUX : renvoyez-le daté et signé."
REPLY = "Voici le mandat signé par ma mère."
WAITING = re.compile("en attente de contrôle par le CERT")


def paper(path: Path, title: str, *lines: str) -> Path:
    """A readable one-page PDF, as a scanner would make it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def send(page: Page, document: str, file: Path) -> None:
    """One document from « Envoyer les pièces justificatives »: its own form."""
    section = page.get_by_role("region", name=document)
    section.get_by_label(re.compile(re.escape(document))).set_input_files(file)
    section.get_by_role("button", name="Envoyer").click()


def decide(agent: Page, portal: str, kind: str, heading: str) -> None:
    """Open, from the queue filtered by kind, the pending piece of Paul's dossier."""
    agent.goto(f"{portal}/cert")
    agent.get_by_label("Type de pièce").select_option(kind)
    agent.get_by_role("button", name="Filtrer").click()
    reload_until(agent, lambda: row_with(agent, PLATE).get_by_role("link", name="Examiner"))
    expect(row_with(agent, PLATE)).to_have_count(1)
    expect(row_with(agent, PLATE)).to_contain_text(heading)
    row_with(agent, PLATE).get_by_role("link", name="Examiner").click()
    expect(agent.get_by_role("heading", name=re.compile(re.escape(heading)))).to_be_visible()


def pdf_text(content: bytes, path: Path) -> str:
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return " ".join(text.split())


def test_paul_sends_a_mandate_twice_then_pays_and_downloads_a_cpi_naming_lucie(
    portal: str, open_context: Callable[..., BrowserContext], screens: Screens, tmp_path: Path
) -> None:
    paul = open_context(viewport={"width": 1024, "height": 800}).new_page()
    agent = open_context().new_page()

    # Paul asks as a mandataire: the form tells what he will have to send.
    log_in(paul, portal, "paul.roux@example.fr")
    expect(menu(paul)).to_contain_text("Paul ROUX")
    start_request(paul, "Perte", PLATE, person="Mandataire")
    expect(paul.get_by_text("le mandat qu'il a signé (cerfa n° 13757")).to_be_visible()
    screens.shot(paul, "paul-la-demande")
    paul.get_by_role("button", name="Continuer").click()
    tick_declarations(paul)
    paul.get_by_role("button", name="Valider").click()

    # The request waits for the mandate and Lucie's identity document.
    expect(paul.get_by_role("heading", name="Envoyer les pièces justificatives")).to_be_visible()
    expect(paul.get_by_text("Vous agissez pour le titulaire du certificat")).to_be_visible()
    expect(paul.get_by_role("region", name=MANDATE)).to_contain_text("À envoyer")
    screens.shot(paul, "paul-pieces-demandees")
    send(paul, MANDATE, paper(tmp_path / "mandat.pdf", "Mandat", "Je soussignée Lucie ROUX",
                              "donne mandat à Paul ROUX", f"Véhicule {PLATE}"))
    expect(paul.get_by_text("Votre document a bien été transmis au CERT")).to_be_visible()
    expect(paul.get_by_role("region", name=MANDATE)).to_contain_text("En cours de contrôle")
    send(paul, IDENTITY, paper(tmp_path / "identite.pdf", "Carte nationale d'identité", "ROUX Lucie"))
    expect(paul.get_by_role("heading", name=WAITING)).to_be_visible()
    screens.shot(paul, "paul-en-attente-du-cert")

    # The agent filters the queue on mandates and finds the signature missing.
    log_in(agent, portal, "agent.cert@example.fr")
    decide(agent, portal, "mandat", MANDATE)
    screens.shot(agent, "cert-mandat-a-controler")
    agent.get_by_label("Motif du refus").select_option(label="Document incomplet")
    agent.get_by_label("Note au demandeur", exact=True).fill(NOTE)
    agent.get_by_role("button", name="Refuser la pièce").click()
    expect(agent.get_by_text("Pièce refusée (Document incomplet)")).to_be_visible()

    # Paul's waiting page turns into the documents page with the CERT's note; he re-sends.
    expect(paul.get_by_role("heading", name="Envoyer les pièces justificatives")).to_be_visible(timeout=30_000)
    mandate = paul.get_by_role("region", name=MANDATE)
    expect(mandate).to_contain_text("document incomplet")
    expect(mandate).to_contain_text(NOTE)
    expect(paul.get_by_role("region", name=IDENTITY)).to_contain_text("En cours de contrôle")
    screens.shot(paul, "paul-mandat-refuse")
    mandate.get_by_label("Votre réponse au CERT").fill(REPLY)
    send(paul, MANDATE, paper(tmp_path / "mandat-signe.pdf", "Mandat", "Je soussignée Lucie ROUX",
                              "donne mandat à Paul ROUX", "Signé : L. Roux"))
    expect(paul.get_by_role("heading", name=WAITING)).to_be_visible()

    # The agent reads the reply and accepts both documents.
    decide(agent, portal, "mandat", MANDATE)
    expect(agent.get_by_role("list").filter(has_text=REPLY)).to_be_visible()
    agent.get_by_role("button", name="Accepter la pièce").click()
    expect(agent.get_by_text("Pièce acceptée")).to_be_visible()
    decide(agent, portal, "piece_identite_titulaire", IDENTITY)
    agent.get_by_role("button", name="Accepter la pièce").click()
    expect(agent.get_by_text("Pièce acceptée")).to_be_visible()

    # Paul's waiting page moves on to the summary by itself; the basket leads there too.
    expect(paul.get_by_role("heading", name="Le récapitulatif")).to_be_visible(timeout=30_000)
    menu(paul).get_by_role("link", name="Accès au panier").click()
    reload_until(paul, lambda: paul.get_by_text("En attente de paiement"))
    paul.get_by_role("link", name="Reprendre la demande en cours").click()
    expect(paul.get_by_role("heading", name="Le récapitulatif")).to_be_visible()
    expect(paul.get_by_text("Vos pièces justificatives ont été acceptées par le CERT")).to_be_visible()
    expect(paul.get_by_text("Paul ROUX, mandataire du titulaire")).to_be_visible()
    screens.shot(paul, "paul-recapitulatif")
    paul.get_by_role("link", name="Payer en ligne").click()
    fill_card(paul, CARD)
    paul.get_by_role("button", name="Valider").click()
    paul.get_by_role("button", name="Cliquer ici pour enregistrer votre paiement").click()
    expect(paul.get_by_role("heading", name="La démarche est terminée")).to_be_visible(timeout=30_000)
    screens.shot(paul, "paul-demarche-terminee")
    name, cpi = download(paul, "Télécharger le certificat provisoire d'immatriculation")
    text = pdf_text(cpi, tmp_path / name)
    assert text.index("ROUX Lucie") > text.index("TITULAIRE")
    assert "Demandée par ROUX Paul, mandataire du titulaire" in text
