"""The CERT back office beyond the decision: an agent writes to the citizen, an auditor only reads.

A citizen of the seeded test fleet ("Flotte ESSAI") asks for a duplicate after a theft that the
SIV does not know of: the request waits for the CERT's check of the police declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import (
    Screens,
    blurry_photo,
    sign_in_verified,
    log_in,
    menu,
    police_declaration,
    reload_until,
    row_with,
    send_theft_declaration,
)
from tests.e2e.client import fleet_plate

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
ANSWER = "Le récépissé est daté du 2 novembre, il a été délivré à Lyon."
QUESTION = ("Bonjour, le récépissé ne porte pas le tampon du commissariat. "
            "Pouvez-vous nous dire où la plainte a été déposée ?")
WAITING = re.compile("en attente de contrôle par le CERT")


def open_review(page: Page, portal: str, plate: str) -> None:
    page.goto(f"{portal}/cert")
    examine = lambda: row_with(page, plate).get_by_role("link", name="Examiner")  # noqa: E731
    reload_until(page, examine)
    examine().click()
    expect(page.get_by_role("heading", name=re.compile("Déclaration de vol"))).to_be_visible()


def test_an_agent_writes_to_the_citizen_who_reads_it_in_his_dossier(
    portal: str, identity_provider: str, open_context: Callable[..., BrowserContext],
    screens: Screens, tmp_path: Path,
) -> None:
    citizen = open_context(viewport={"width": 1024, "height": 800}).new_page()
    agent = open_context().new_page()
    plate = fleet_plate()

    # The fleet's holder opens an account and sends the police declaration of the theft.
    sign_in_verified(citizen, portal, identity_provider, "Flotte", "ESSAI")
    expect(menu(citizen)).to_contain_text("Flotte ESSAI")
    screens.shot(citizen, "demandeur-mon-espace")
    receipt = police_declaration(tmp_path / "recepisse.pdf", "Flotte ESSAI", plate)
    send_theft_declaration(citizen, plate, receipt, screens)
    expect(citizen.get_by_text("Aucun message pour l'instant.")).to_be_visible()

    # The agent opens the review: the thread is empty, the message form is there.
    log_in(agent, portal, "agent.cert@example.fr")
    open_review(agent, portal, plate)
    expect(agent.locator("object[type='application/pdf']")).to_be_attached()
    expect(agent.get_by_role("heading", name="Échanges avec le demandeur")).to_be_visible()
    agent.wait_for_timeout(1500)  # the PDF viewer draws the page
    screens.shot(agent, "cert-piece-a-controler")

    # An empty message is refused in French, next to the field.
    agent.get_by_role("button", name="Envoyer le message").click()
    expect(agent.get_by_role("alert")).to_contain_text("Il y a un problème")
    expect(agent.get_by_label("Écrire au demandeur")).to_have_attribute("aria-invalid", "true")
    screens.shot(agent, "cert-message-vide-refuse")

    # The agent writes; the message is in the review's thread, signed with the agent's name.
    agent.get_by_label("Écrire au demandeur").fill(QUESTION)
    screens.shot(agent, "cert-message-ecrit")
    agent.get_by_role("button", name="Envoyer le message").click()
    expect(agent.get_by_text("Votre message a été envoyé au demandeur.")).to_be_visible()
    sent = agent.get_by_role("listitem").filter(has_text=QUESTION)
    expect(sent).to_have_count(1)
    expect(sent).not_to_contain_text("Le demandeur")
    expect(agent.get_by_label("Écrire au demandeur")).to_have_value("")
    # A message is no decision: the review still waits for one.
    expect(agent.get_by_role("button", name="Accepter la pièce")).to_be_visible()
    expect(agent.get_by_role("button", name="Refuser la pièce")).to_be_visible()
    agent.wait_for_timeout(1500)
    screens.shot(agent, "cert-message-envoye")

    # The citizen reads it in his dossier's thread, from the CERT; his request still waits.
    reload_until(citizen, lambda: citizen.get_by_role("listitem").filter(has_text=QUESTION))
    expect(citizen.get_by_role("heading", name="Échanges avec le CERT")).to_be_visible()
    received = citizen.get_by_role("listitem").filter(has_text=QUESTION)
    expect(received).to_have_count(1)
    expect(received).to_contain_text("CERT")
    expect(citizen.get_by_role("heading", name=WAITING)).to_be_visible()
    expect(citizen.get_by_role("main")).to_contain_text(plate)
    screens.shot(citizen, "demandeur-message-du-cert")

    # He answers from the same waiting page; the agent reads the answer beside the review.
    citizen.get_by_label("Votre message").fill(ANSWER)
    citizen.get_by_role("button", name="Envoyer").click()
    expect(citizen.get_by_text("Votre réponse a été envoyée au CERT.")).to_be_visible()
    expect(citizen.get_by_role("listitem").filter(has_text=ANSWER)).to_have_count(1)
    screens.shot(citizen, "demandeur-reponse-envoyee")
    reload_until(agent, lambda: agent.get_by_role("listitem").filter(has_text=ANSWER))
    expect(agent.get_by_role("listitem").filter(has_text=ANSWER)).to_contain_text("demandeur")
    screens.shot(agent, "cert-reponse-du-demandeur")


def test_the_auditor_reads_a_pending_declaration_but_cannot_decide(
    portal: str, identity_provider: str, open_context: Callable[..., BrowserContext],
    screens: Screens, tmp_path: Path,
) -> None:
    citizen = open_context().new_page()
    auditor = open_context().new_page()
    plate = fleet_plate()

    sign_in_verified(citizen, portal, identity_provider, "Flotte", "ESSAI")
    photo = blurry_photo(tmp_path / "photo.png")
    send_theft_declaration(citizen, plate, photo, screens)

    # The auditor logs in and finds the declaration in the CERT's queue.
    log_in(auditor, portal, "auditeur@example.fr")
    screens.shot(auditor, "auditeur-connecte")
    auditor.goto(f"{portal}/cert")
    expect(auditor.get_by_role("heading", name="Contrôle des déclarations de vol")).to_be_visible()
    reload_until(auditor, lambda: row_with(auditor, plate).get_by_role("link", name="Examiner"))
    expect(row_with(auditor, plate)).to_contain_text("Personne")  # nobody has claimed it
    screens.shot(auditor, "auditeur-file-du-cert")

    # The review: the document and the dossier's facts are shown.
    open_review(auditor, portal, plate)
    picture = auditor.get_by_role("img", name=re.compile("Déclaration de vol envoyée"))
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 480
    facts = auditor.get_by_role("definition")
    expect(facts.filter(has_text=plate)).to_have_count(1)
    expect(facts.filter(has_text="RENAULT KANGOO")).to_have_count(1)
    expect(facts.filter(has_text="Vol")).to_have_count(1)
    expect(facts.filter(has_text="Titulaire")).to_have_count(1)

    # No control to decide, claim or write; a notice says why.
    read_only = "En tant qu'auditeur, vous la consultez sans pouvoir la traiter"
    expect(auditor.get_by_text(read_only)).to_be_visible()
    for button in ("Accepter la pièce", "Refuser la pièce", "Prendre en charge",
                   "Envoyer le message"):
        expect(auditor.get_by_role("button", name=button)).to_have_count(0)
    expect(auditor.get_by_label("Motif du refus")).to_have_count(0)
    expect(auditor.get_by_label("Écrire au demandeur")).to_have_count(0)
    screens.shot(auditor, "auditeur-piece-en-lecture-seule")

    # A forged acceptance (the form the agents get, rebuilt by hand) is refused in French.
    review_path = auditor.url.removeprefix(portal).split("#")[0]
    auditor.evaluate(
        """(action) => {
          const form = document.createElement("form");
          form.method = "post";
          form.action = action;
          form.append(document.querySelector('input[name="_csrf_token"]').cloneNode());
          document.body.append(form);
          form.submit();
        }""",
        f"{review_path}/acceptation",
    )
    refusal = auditor.get_by_role("alert")
    expect(refusal).to_contain_text("Il y a un problème")
    expect(refusal).to_contain_text(
        "Les auditeurs peuvent consulter les pièces mais pas les traiter."
    )
    expect(auditor.get_by_role("button", name="Accepter la pièce")).to_have_count(0)
    screens.shot(auditor, "auditeur-acceptation-forcee-refusee")

    # The declaration is still waiting, unclaimed, and the citizen still waits for the CERT.
    auditor.goto(f"{portal}/cert")
    expect(row_with(auditor, plate)).to_contain_text("Personne")
    citizen.reload()
    expect(citizen.get_by_role("heading", name=WAITING)).to_be_visible()
    screens.shot(citizen, "demandeur-toujours-en-attente")
