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


def paid_dossier(
    reason: str = "perte", special_case: bool = False, family_name: str = "Dupont",
    address: str = "", dossier_number: str = "DUP-2025-000123", plate: str = "AB-123-CD",
):
    dossier = DossierFile(dossier_id=uuid4())
    holder = {"given_name": "Jean", "family_name": family_name}
    if address:
        holder["address"] = address
    dossier.record_start(
        uuid4(), dossier_number, reason, "titulaire", special_case,
        {"plate": plate, "vin": "VF1RFB00012345678", "make": "RENAULT", "model": "CLIO",
         "first_registration": "2019-03-14"},
        holder, "2025-01-31T09:12:00+00:00",
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


@pytest.fixture(params=["dejavu", "core"])
def each_renderer(request: pytest.FixtureRequest) -> DocumentRenderer:
    """With DejaVu embedded, and with the core Helvetica (the service's default), whose
    documents start from a copy of a page drawn once."""
    if request.param == "core":
        return DocumentRenderer(None, PARIS)
    if not Fonts(DEJAVU).unicode:
        pytest.skip("DejaVu fonts are not installed")
    return DocumentRenderer(DEJAVU, PARIS)


def flat(text: str) -> str:
    return " ".join(text.split())


def left_column(content: bytes, page: int = 1) -> str:
    """The text of a page's left 135 mm, where the CPI's fields are (the QR code is to their
    right): what is cut off by the crop, or drawn past the column, is missing here."""
    result = subprocess.run(
        ["pdftotext", "-layout", "-f", str(page), "-l", str(page),
         "-x", "0", "-y", "0", "-W", str(int(135 / 25.4 * 72)), "-H", "842", "-", "-"],
        input=content, capture_output=True, check=True,
    )
    return result.stdout.decode()


LONG_ADDRESS = (
    "Résidence Les Jardins de la Vallée, bâtiment C, escalier 4, appartement 1207, "
    "128 boulevard du Maréchal de Lattre de Tassigny, 13090 Aix-en-Provence Cedex 2"
)


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


def test_same_inputs_give_the_same_bytes(each_renderer) -> None:
    renderer = each_renderer
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

    def grey(px: int, py: int) -> int:
        value = image.getpixel((px, py))
        assert isinstance(value, int)  # one channel: "L"
        return value

    matrix = segno.make(ISSUED.verification_url, error="m", micro=False, mask=QR_MASK).matrix
    module = size / (len(matrix) + 8)
    misread = [
        (row, column)
        for row, line in enumerate(matrix)
        for column, dark in enumerate(line)
        if (grey(
            int((x + (4 + column + 0.5) * module) * pixels_per_mm),
            int((y + (4 + row + 0.5) * module) * pixels_per_mm),
        ) < 128) != bool(dark)
    ]
    assert misread == []


def test_a_long_holder_address_wraps_in_its_column_and_reads_whole(
    each_renderer, pdftotext
) -> None:
    content = each_renderer.certificate(paid_dossier(address=LONG_ADDRESS), ISSUED)

    column = left_column(content)
    lines = [line for line in column.splitlines() if line.strip()]
    first = next(i for i, line in enumerate(lines) if "(C.3) Adresse" in line)
    assert flat(LONG_ADDRESS) in flat("\n".join(lines[first:])).replace("(C.3) Adresse ", "")
    # Several lines, the next section below the last of them.
    last = next(i for i, line in enumerate(lines) if "Cedex 2" in line)
    assert last - first >= 3
    assert "DEMANDE" in lines[last + 1]
    assert "Vérifiez ce certificat" in pdftotext(content)


def test_a_word_wider_than_its_column_is_cut_and_reads_whole(each_renderer, pdftotext) -> None:
    word = "Lieu-dit-" + "-".join(["La-Grande-Combe-des-Trois-Fontaines"] * 12)
    content = each_renderer.certificate(paid_dossier(address=f"{word} 13090 Aix"), ISSUED)

    column = left_column(content)
    assert word in "".join(column.split())
    assert "13090 Aix" in column


def test_a_value_longer_than_a_page_goes_on_to_the_next(pdftotext) -> None:
    renderer = DocumentRenderer(None, PARIS)
    address = " ".join(f"Bâtiment {n}, escalier {n}, appartement {n}0{n}," for n in range(40))
    content = renderer.certificate(paid_dossier(address=f"{address} 13090 Aix"), ISSUED)

    text = pdftotext(content)
    assert "Page 1/2" in text and "Page 2/2" in text
    # Both pages' columns, without the header and footer that come between.
    running = ("DEMANDE DE DUPLICATA", "Certificat provisoire n°")
    both_pages = flat("\n".join(
        line for page in (1, 2) for line in left_column(content, page).splitlines()
        if not any(mark in line for mark in running)
    ))
    assert flat(address) in both_pages.replace("(C.3) Adresse ", "")
    assert "DUP-2025-000123" in left_column(content, 2)
    # The code stays beside the vehicle, with its caption and address.
    first_page = subprocess.run(
        ["pdftotext", "-layout", "-l", "1", "-", "-"], input=content, capture_output=True,
        check=True,
    ).stdout.decode()
    assert "Vérifiez ce certificat" in first_page and "CPI-2025-7K3M9QXP" in first_page


def test_each_dossier_gets_its_own_values_from_a_renderer_used_before(
    each_renderer, pdftotext
) -> None:
    renderer = each_renderer
    renderer.certificate(paid_dossier(), ISSUED)
    renderer.summary(paid_dossier(), ISSUED)
    other = IssuedCertificate(
        number="CPI-2025-ZZZZ0000", issued_at=datetime(2025, 3, 3, 8, 0, tzinfo=UTC),
        valid_until=date(2025, 4, 3),
        verification_url="https://duplicata.example/verification/CPI-2025-ZZZZ0000",
    )
    dossier = paid_dossier(dossier_number="DUP-2025-000999", plate="ZZ-999-ZZ")

    documents = [renderer.certificate(dossier, other), renderer.summary(dossier, other)]
    cpi, summary = (flat(pdftotext(content)) for content in documents)

    for content, text in zip(documents, (cpi, summary), strict=True):
        assert "CPI-2025-ZZZZ0000" in text and "DUP-2025-000999" in text
        assert "CPI-2025-7K3M9QXP" not in text and "DUP-2025-000123" not in text
        assert b"/CreationDate (D:20250303080000Z)" in content
    assert "ZZ-999-ZZ" in cpi and "03/03/2025" in cpi and "03/04/2025" in cpi
    assert "AB-123-CD" not in cpi


def mandate_dossier(reason: str = "perte") -> DossierFile:
    """Paul ROUX asked for Lucie ROUX under a mandate the CERT accepted."""
    dossier = DossierFile(dossier_id=uuid4())
    account = uuid4()
    dossier.record_start(
        account, "DUP-2025-000456", reason, "mandataire", False,
        {"plate": "GH-321-JK", "vin": "VF1RFB00X64321987", "make": "RENAULT", "model": "CAPTUR"},
        {"given_name": "Lucie", "family_name": "ROUX", "address": "27 rue Nationale, 59800 Lille"},
        "2025-01-31T09:12:00+00:00",
    )
    dossier.record_requester({"given_name": "Paul", "family_name": "ROUX"})
    dossier.record_submission(True, True, "2025-01-31T09:20:00+00:00")
    dossier.request_documents(["mandat", "piece_identite_titulaire"])
    for kind in ("mandat", "piece_identite_titulaire"):
        document_id = uuid4()
        dossier.add_declaration(account, {
            "document_id": str(document_id), "kind": kind, "media_type": "application/pdf",
            "sha256": "0" * 64, "size": 10, "filename": f"{kind}.pdf",
            "created_at": "2025-01-31T09:22:00+00:00",
        })
        dossier.record_review(uuid4(), document_id, accepted=True)
    dossier.record_payment(
        uuid4(), "13.76", "EUR", [{"code": "Y4", "label": "Taxe fixe", "amount": "13.76"}],
        "PSP-8F3A21", "4242", "2025-01-31T09:25:00+00:00",
    )
    return dossier


def test_a_mandates_cpi_names_the_holder_and_who_asked_under_which_mandate(renderer, pdftotext) -> None:
    text = flat(pdftotext(renderer.certificate(mandate_dossier(), ISSUED)))
    holder = text.index("TITULAIRE")
    assert text.index("ROUX Lucie") > holder
    assert "Demandée par ROUX Paul, mandataire du titulaire" in text
    assert "Mandat du titulaire (cerfa n° 13757 ou lettre signée), reçu le 31/01/2025 à 10:22" in text


def test_a_mandates_summary_lists_the_documents_the_cert_accepted(renderer, pdftotext) -> None:
    text = flat(pdftotext(renderer.summary(mandate_dossier(), ISSUED)))
    assert "ROUX Lucie" in text and "Demandée par ROUX Paul, mandataire du titulaire" in text
    assert "PIÈCES JUSTIFICATIVES ACCEPTÉES PAR LE CERT" in text
    assert "Pièce d'identité du titulaire Reçu le 31/01/2025 à 10:22" in text
    assert "conservez-le" not in text


def test_a_damaged_certificates_summary_says_to_keep_it_five_years(renderer, pdftotext) -> None:
    text = flat(pdftotext(renderer.summary(paid_dossier(reason="deterioration"), ISSUED)))
    assert "conservez-le" in text and "pendant cinq ans" in text
