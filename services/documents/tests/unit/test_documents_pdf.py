"""What the CPI and the summary say, read back from the PDFs as a person would read them."""

import shutil
import subprocess
from datetime import date, datetime, UTC
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import segno

from documents_service.domain.model import DossierFile
from documents_service.rendering.pdf import (
    DocumentRenderer,
    Fonts,
    IssuedCertificate,
    OfficialDocument,
    QR_MASK,
)

PARIS = ZoneInfo("Europe/Paris")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
ISSUED = IssuedCertificate(
    number="CPI-2025-7K3M9QXP",
    issued_at=datetime(2025, 1, 31, 9, 25, tzinfo=UTC),
    valid_until=date(2025, 2, 28),
    verification_url="https://duplicata.example/verification/CPI-2025-7K3M9QXP",
)


def paid_dossier(reason: str = "perte", special_case: bool = False, family_name: str = "Dupont"):
    dossier = DossierFile(dossier_id=uuid4())
    dossier.record_start(
        uuid4(), "DUP-2025-000123", reason, "titulaire", special_case,
        {"plate": "AB-123-CD", "vin": "VF1RFB00012345678", "make": "RENAULT", "model": "CLIO",
         "first_registration": "2019-03-14"},
        {"given_name": "Jean", "family_name": family_name}, "2025-01-31T09:12:00+00:00",
    )
    dossier.record_submission(True, True, "2025-01-31T09:20:00+00:00")
    dossier.record_payment(
        uuid4(), "13.76", "EUR",
        [{"code": "Y4", "label": "Taxe fixe", "amount": "11.00"},
         {"code": "Y5", "label": "Redevance d'acheminement", "amount": "2.76"}],
        "PSP-8F3A21", "4242", "2025-01-31T09:25:00+00:00",
    )
    return dossier


@pytest.fixture
def renderer() -> DocumentRenderer:
    if not Fonts(DEJAVU).unicode:
        pytest.skip("DejaVu fonts are not installed")
    return DocumentRenderer(DEJAVU, PARIS)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_cpi_shows_the_vehicle_the_holder_and_the_validity(renderer, pdftotext) -> None:
    text = flat(pdftotext(renderer.certificate(paid_dossier(), ISSUED)))

    assert "CERTIFICAT PROVISOIRE D'IMMATRICULATION" in text
    assert "CPI-2025-7K3M9QXP" in text
    assert "AB-123-CD" in text
    assert "VF1RFB00012345678" in text
    assert "RENAULT" in text and "CLIO" in text
    assert "DUPONT Jean" in text
    assert "31/01/2025" in text  # issue date (10:25 in Paris)
    assert "VALABLE JUSQU'AU" in text and "28/02/2025" in text
    assert "circuler en France avec le véhicule ci-dessus jusqu'au 28/02/2025 inclus" in text
    assert "DUP-2025-000123" in text


def test_summary_tells_what_was_declared_and_paid(renderer, pdftotext) -> None:
    text = flat(pdftotext(renderer.summary(paid_dossier(special_case=True), ISSUED)))

    assert "RÉCAPITULATIF DE LA DEMANDE DE DUPLICATA" in text
    assert "DUP-2025-000123" in text
    assert "Demande commencée le 31/01/2025 à 10:12" in text
    assert "Demande validée le 31/01/2025 à 10:20" in text
    assert "Paiement enregistré le 31/01/2025 à 10:25" in text
    assert "Motif Perte" in text
    assert "Titulaire du certificat d'immatriculation" in text
    assert "Le véhicule m'a été cédé mais je ne dispose plus du certificat" in text
    assert "Je certifie sur l'honneur" in text
    assert "sanctions encourues en cas de fausse déclaration" in text
    assert "Y4 Taxe fixe 11,00 €" in text
    assert "Y5 Redevance d'acheminement 2,76 €" in text
    assert "Total payé 13,76 €" in text
    assert "4242" in text
    assert "PSP-8F3A21" in text


@pytest.mark.parametrize("reason, label", [("vol", "Vol"), ("deterioration", "Détérioration")])
def test_summary_names_the_reason_in_french(renderer, pdftotext, reason, label) -> None:
    text = flat(pdftotext(renderer.summary(paid_dossier(reason=reason), ISSUED)))

    assert f"Motif {label}" in text
    assert "Cas particulier" not in text


def test_same_inputs_give_the_same_bytes(renderer) -> None:
    dossier = paid_dossier()

    assert renderer.certificate(dossier, ISSUED) == renderer.certificate(dossier, ISSUED)
    assert renderer.summary(dossier, ISSUED) == renderer.summary(dossier, ISSUED)


def test_without_a_unicode_font_amounts_read_eur_and_any_name_prints(pdftotext) -> None:
    core = DocumentRenderer(None, PARIS)
    dossier = paid_dossier(family_name="Wałęsa")

    summary = flat(pdftotext(core.summary(dossier, ISSUED)))
    cpi = flat(pdftotext(core.certificate(dossier, ISSUED)))

    assert "Total payé 13,76 EUR" in summary
    assert "Détérioration" not in summary and "Perte" in summary
    assert "WALESA Jean" in cpi


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm is not installed")
def test_qr_code_drawn_on_the_page_is_the_verification_url(tmp_path: Path) -> None:
    from PIL import Image

    pdf = OfficialDocument(Fonts(None), "ref", ISSUED.issued_at, "QR")
    pdf.add_page()
    x = y = 40.0
    size = 82.0
    pdf.qr_code(ISSUED.verification_url, x, y, size)
    (tmp_path / "qr.pdf").write_bytes(bytes(pdf.output()))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "254", "-singlefile", tmp_path / "qr.pdf", tmp_path / "qr"],
        check=True,
    )
    image = Image.open(tmp_path / "qr.png").convert("L")
    pixels_per_mm = 10

    matrix = segno.make(ISSUED.verification_url, error="m", micro=False, mask=QR_MASK).matrix
    module = size / (len(matrix) + 8)
    misread = [
        (row, column)
        for row, line in enumerate(matrix)
        for column, dark in enumerate(line)
        if (image.getpixel((
            int((x + (4 + column + 0.5) * module) * pixels_per_mm),
            int((y + (4 + row + 0.5) * module) * pixels_per_mm),
        )) < 128) != bool(dark)
    ]
    assert misread == []
