"""The certificat de situation administrative from Mon Espace, the definitive certificate on
the dossier's end page, and the demo's mailbox after a loss case."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import Screens, download, log_in, reload_until
from tests.e2e.client import Api, fleet_plate

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]


def pdf_text(content: bytes, path: Path) -> str:
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_marie_downloads_the_situation_of_her_car_and_is_refused_someone_else_s(
    portal: str, open_context: Callable[..., BrowserContext], screens: Screens, tmp_path: Path
) -> None:
    page = open_context().new_page()
    log_in(page, portal, "marie.martin@example.fr")
    page.goto(f"{portal}/mon-espace")
    vehicles = page.get_by_role("heading", name="Mes véhicules").locator("..")
    expect(vehicles).to_contain_text("AB-123-CD")
    expect(vehicles).to_contain_text("MN-234-PQ")  # co-held with Sophie DURAND
    screens.shot(page, "mon-espace-mes-vehicules")

    name, content = download(
        page, "Télécharger le certificat de situation administrative du véhicule AB-123-CD"
    )
    assert name.endswith(".pdf") and content.startswith(b"%PDF-")
    text = pdf_text(content, tmp_path / "csa.pdf")
    for expected in ("CERTIFICAT DE SITUATION ADMINISTRATIVE", "AB-123-CD", "MARTIN Marie",
                     "Aucun gage inscrit"):
        assert expected in text, expected

    # Another vehicle, typed: the SIV names someone else as its holder.
    page.get_by_role("link", name=re.compile("^Certificat de situation administrative")).click()
    expect(page.get_by_role("heading", name="Certificat de situation administrative",
                            exact=True)).to_be_visible()
    page.get_by_label("Numéro d'immatriculation").fill("EF-456-GH")
    page.get_by_role("button", name="Obtenir le certificat de situation administrative").click()
    refusal = "vous n'êtes ni titulaire ni co-titulaire du véhicule EF-456-GH"
    expect(page.get_by_role("alert")).to_contain_text(refusal)
    field = page.get_by_label("Numéro d'immatriculation")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("EF-456-GH")
    expect(page.locator("#error-field-plate")).to_contain_text(refusal)
    screens.shot(page, "refus-autre-vehicule")


def test_after_a_loss_case_the_end_page_follows_the_certificate_and_the_mails_are_listed(
    api: Api, portal: str, open_context: Callable[..., BrowserContext], screens: Screens,
    tmp_path: Path,
) -> None:
    citizen = api.new_citizen("Flotte", "ESSAI")
    plate = fleet_plate()
    dossier = api.start_and_submit(citizen, plate)
    dossier_id, number = dossier["dossier_id"], dossier["dossier_number"]
    payment = api.pay(citizen, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(citizen, payment.json()["payment_id"]).status_code == 200
    api.wait_status(citizen, dossier_id, "completed")

    page = open_context().new_page()
    log_in(page, portal, citizen.email)
    page.goto(f"{portal}/dossiers/{dossier_id}/fin")
    expect(page.get_by_role("heading", name="La démarche est terminée")).to_be_visible()
    section = page.locator("#certificat-definitif")
    screens.shot(page, "certificat-en-preparation")
    # The part updates itself, without a reload: « Certificat expédié » and the tracking number.
    expect(section).to_contain_text("Certificat expédié", timeout=60_000)
    tracking = section.locator(".tracking-number")
    expect(tracking).to_have_text(re.compile(r"^1A\d{11}$"))
    screens.shot(page, "certificat-expedie")

    # The summary can be downloaded again, and the dispatch notice carries the mention.
    page.reload()
    _, summary = download(page, "Télécharger le récapitulatif de la demande")
    assert number in pdf_text(summary, tmp_path / "recapitulatif.pdf")
    _, notice = download(page, "Télécharger l'avis d'expédition")
    text = pdf_text(notice, tmp_path / "avis.pdf")
    assert "DUPLICATA" in text and tracking.inner_text() in text and plate in text

    # The demo's mailbox: this dossier's mails, the newest first.
    page.goto(f"{portal}/demo/courriels")
    expect(page.get_by_role("heading", name="Courriels envoyés")).to_be_visible()
    sent = reload_until(page, lambda: page.get_by_role(
        "heading", name=re.compile(f"{number}.*expédié")), timeout=60)
    expect(sent).to_be_visible()
    subjects = [s for s in page.get_by_role("heading", level=2).all_inner_texts() if number in s]
    assert len(subjects) == 3, subjects
    assert "expédié" in subjects[0]
    assert "certificat provisoire est prêt" in subjects[1]
    assert "est enregistrée" in subjects[2]
    latest = page.get_by_role("article").filter(has_text=subjects[0]).first
    expect(latest).to_contain_text(citizen.email)
    expect(latest.locator(f'a[href*="/dossiers/{dossier_id}"]')).to_be_visible()
    screens.shot(page, "courriels")
