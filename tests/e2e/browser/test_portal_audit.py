"""The auditor's page in the portal: Julien's whole history across services, read-only, and
the bundle of proofs downloaded and verified offline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.browser.conftest import ON_SQLITE_STACK
from tests.e2e.browser.support import Screens, log_in, menu
from tests.e2e.client import Api
from tests.e2e.test_audit import julien_s_theft_case

pytestmark = [pytest.mark.e2e, ON_SQLITE_STACK]
STEPS = ["Demande créée", "Dossier en attente de la déclaration de vol", "Pièce envoyée",
         "Pièce refusée par le CERT", "Pièce acceptée par le CERT", "Paiement enregistré",
         "Certificat provisoire délivré", "Demande terminée"]


def test_the_auditor_reads_a_dossier_s_history_and_downloads_its_proofs(
    portal: str, api: Api, open_context: Callable[..., BrowserContext], screens: Screens,
    tmp_path: Path,
) -> None:
    dossier_id = julien_s_theft_case(api)
    number = api.dossier(api.login("julien.paul@example.fr"), dossier_id)["dossier_number"]
    page = open_context().new_page()

    log_in(page, portal, "auditeur@example.fr")
    menu(page).get_by_role("link", name="Audit des dossiers").click()
    expect(page.get_by_role("heading", name="Audit des dossiers")).to_be_visible()
    page.get_by_label("Identifiant du dossier").fill(number)  # the number is not the identifier
    page.get_by_role("button", name="Consulter l'historique").click()
    expect(page.get_by_text("Cet identifiant n'est pas celui d'un dossier")).to_be_visible()
    screens.shot(page, "identifiant-errone")

    page.get_by_label("Identifiant du dossier").fill(dossier_id)
    page.get_by_role("button", name="Consulter l'historique").click()
    expect(page.get_by_role("heading", name=f"Audit du dossier {number}")).to_be_visible()
    timeline = page.locator("table.audit-timeline")
    for step in STEPS:
        expect(timeline).to_contain_text(step)
    expect(timeline).to_contain_text("Agent du CERT")
    expect(timeline).to_contain_text("Usager")
    expect(timeline).to_contain_text("Service Documents (réaction)")
    expect(page.locator("main form")).to_have_count(0)  # read-only
    screens.shot(page, "historique-du-dossier")

    payment = timeline.locator("tbody tr").filter(has_text="Paiement enregistré")
    payment.get_by_text("Afficher").click()
    expect(payment.locator("pre")).to_contain_text('"card_last4"')
    screens.shot(page, "donnees-du-paiement")

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le fichier de preuves (JSON)").click()
    bundle_file = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle_file)
    bundle = json.loads(bundle_file.read_text())
    assert bundle["format"] == "ants-audit-bundle/1"
    assert {"PaymentRecorded", "CertificateIssued"} <= {e["type"] for e in bundle["events"]}
    verified = subprocess.run([sys.executable, "-m", "ants_audit", "verify", str(bundle_file)],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr
