"""The PDFs of a duplicate: the provisional certificate (CPI) and the summary once paid, then
the dispatch notice once the definitive certificate is posted.

Rendering is deterministic: the same dossier and certificate give the same bytes (fixed
creation date, no random identifiers), so a retried delivery rewrites identical files.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from ants_pdf.document import (  # noqa: F401 - re-exported for the service's tests
    COLUMN,
    MARGIN,
    MUTED,
    NAVY,
    QR_MASK,
    QR_SIZE,
    PLATE_HEIGHT,
    PLATE_WIDTH,
    RULE,
    PANEL,
    INK,
    Fonts,
    OfficialDocument,
)
from documents_service.domain.model import DossierFile, supporting_kind
from documents_service.rendering import wording


class DossierDocument(OfficialDocument):
    """A dossier's document: the procedure's fixed wording is laid out once for all."""

    fixed_wording = wording.FIXED


@dataclass(frozen=True)
class IssuedCertificate:
    """What the documents print about the certificate being issued."""

    number: str
    issued_at: datetime
    valid_until: date
    verification_url: str


class DocumentRenderer:
    """Renders a dossier's CPI and summary; dates print in the service's time zone.

    What a document shows whatever the dossier (title, labels, frames) is drawn once; each
    document starts from a copy of that page and adds the dossier's values.
    """

    CERTIFICATE = "Certificat provisoire d'immatriculation"
    SUMMARY = "Récapitulatif de la demande de duplicata"
    DISPATCH_NOTICE = "Avis d'expédition du certificat d'immatriculation"

    def __init__(self, font_dir: Path | None, zone: tzinfo) -> None:
        self.typeface = Fonts(font_dir)
        self.zone = zone
        self._frames: dict[str, bytes | None] = {}

    def _date(self, moment: datetime | str) -> str:
        return wording.french_date(wording.local_time(moment, self.zone).date())

    def _start(self, title: str, reference: str, created: datetime) -> OfficialDocument:
        """A document whose first page has its fixed parts drawn.

        With the core font the page is drawn once and copied (pickled: a tenth of a
        millisecond). An embedded TrueType font cannot be shared that way, since fpdf2
        subsets it in place when writing the file: such documents are drawn whole.
        """
        frame = self._frames.get(title, b"")
        if not frame:
            pdf = DossierDocument(self.typeface, reference, created, title)
            pdf.add_page()
            self._draw_frame(pdf, title)
            if frame is None or self.typeface.unicode:
                return pdf
            try:
                frame = pickle.dumps(pdf, pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                # Some future fpdf2 might hold something that does not pickle.
                self._frames[title] = None
                return pdf
            self._frames[title] = frame
        # Bytes this renderer made itself, not data from outside.
        pdf = pickle.loads(frame)
        pdf.typeface = self.typeface
        pdf.reference = reference
        pdf.set_creation_date(created)
        return pdf

    def _draw_frame(self, pdf: OfficialDocument, title: str) -> None:
        if title == self.CERTIFICATE:
            pdf.title_block(
                "CERTIFICAT PROVISOIRE D'IMMATRICULATION",
                "Délivré à la suite d'une demande de duplicata du certificat d'immatriculation",
            )
            pdf.key_figures(["N° du certificat", "Délivré le", "Valable jusqu'au"])
            self._plate_frame(pdf)
            top = pdf.marks["column"] = pdf.get_y()
            qr_x = pdf.marks["qr_x"] = pdf.w - MARGIN - QR_SIZE
            pdf.font(7.5, color=MUTED)
            pdf.marks["qr_caption"] = pdf.block(
                qr_x - 4, top + QR_SIZE + 4, QR_SIZE + 8, 3.8,
                "Vérifiez ce certificat en scannant le code ou à l'adresse :", align="C",
            )
            pdf.set_xy(MARGIN, top)
            pdf.section("Véhicule", COLUMN)
        elif title == self.DISPATCH_NOTICE:
            pdf.title_block(
                "AVIS D'EXPÉDITION DU DUPLICATA",
                "Le duplicata de votre certificat d'immatriculation vous est envoyé par "
                "lettre recommandée",
            )
            pdf.key_figures(["Mention", "Date du duplicata", "N° de suivi"])
            self._plate_frame(pdf)
            pdf.section("Envoi")
        else:
            pdf.title_block(
                "RÉCAPITULATIF DE LA DEMANDE DE DUPLICATA",
                "Certificat d'immatriculation : ce que vous avez déclaré et payé",
            )
            pdf.key_figures(["Dossier n°", "Certificat provisoire n°"])
            pdf.section("Dates")

    def certificate(self, dossier: DossierFile, issued: IssuedCertificate) -> bytes:
        pdf = self._start(
            self.CERTIFICATE,
            f"Certificat provisoire n° {issued.number} - dossier n° {dossier.dossier_number}",
            issued.issued_at,
        )
        pdf.key_values([
            issued.number,
            self._date(issued.issued_at),
            wording.french_date(issued.valid_until),
        ])
        self._plate(pdf, dossier.vehicle.get("plate", ""))

        # The code beside the vehicle, on the first page even if long fields run onto more.
        qr_x, fields_top = pdf.marks["qr_x"], pdf.get_y()
        pdf.qr_code(issued.verification_url, qr_x, pdf.marks["column"] + 2, QR_SIZE)
        pdf.font(6.5, color=NAVY)
        # Break before the number rather than inside it.
        address, _, number = issued.verification_url.rpartition("/")
        qr_bottom = pdf.block(
            qr_x - 4, pdf.marks["qr_caption"], QR_SIZE + 8, 3.5, f"{address}/\n{number}",
            align="C",
        )
        pdf.set_xy(MARGIN, fields_top)

        vehicle = dossier.vehicle
        rows = [
            ("(A) Numéro d'immatriculation", vehicle.get("plate", ""), True),
            ("(E) Numéro d'identification", vehicle.get("vin", ""), False),
            ("(D.1) Marque", vehicle.get("make", ""), False),
            ("(D.3) Dénomination commerciale", vehicle.get("model", ""), False),
        ]
        if vehicle.get("first_registration"):
            first = date.fromisoformat(str(vehicle["first_registration"]))
            rows.append(("(B) Date de 1re immatriculation", wording.french_date(first), False))
        pdf.fields(rows, COLUMN)
        pdf.ln(3)
        pdf.section("Titulaire", COLUMN)
        rows = [("(C.1) Nom, prénom", wording.holder_name(dossier.holder), True)]
        if dossier.holder.get("address"):
            rows.append(("(C.3) Adresse", dossier.holder["address"], False))
        pdf.fields(rows, COLUMN)
        pdf.ln(3)
        pdf.section("Demande", COLUMN)
        pdf.fields([
            ("Dossier n°", dossier.dossier_number, False),
            ("Motif", wording.REASONS.get(dossier.reason, dossier.reason), False),
            *self._requester_rows(dossier),
        ], COLUMN)
        bottom = pdf.get_y() if pdf.page > 1 else max(pdf.get_y(), qr_bottom)
        pdf.set_xy(MARGIN, bottom + 6)
        pdf.notice(
            "Ce certificat provisoire vous permet de circuler en France avec le véhicule "
            f"ci-dessus jusqu'au {wording.french_date(issued.valid_until)} inclus, dans l'attente "
            "du duplicata de votre certificat d'immatriculation, envoyé à votre adresse. "
            "Présentez-le avec une pièce d'identité en cas de contrôle. Il ne peut pas être "
            "prolongé.",
            keep=True,  # the same for every certificate of the day
        )
        return bytes(pdf.output())

    def _plate_frame(self, pdf: OfficialDocument) -> None:
        """The registration plate's frame: white, rounded, with blue bands at both ends."""
        x, y = (pdf.w - PLATE_WIDTH) / 2, pdf.get_y()
        pdf.marks["plate"] = y
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.8)
        pdf.rect(x, y, PLATE_WIDTH, PLATE_HEIGHT, style="DF", round_corners=True, corner_radius=2)
        pdf.set_fill_color(*NAVY)
        pdf.rect(x + 0.4, y + 0.4, 8, PLATE_HEIGHT - 0.8, style="F")
        pdf.rect(x + PLATE_WIDTH - 8.4, y + 0.4, 8, PLATE_HEIGHT - 0.8, style="F")
        pdf.set_line_width(0.2)
        pdf.set_xy(MARGIN, y + PLATE_HEIGHT + 8)

    def _plate(self, pdf: OfficialDocument, plate: str) -> None:
        """The registration number in the plate's frame, black on white."""
        x, y = (pdf.w - PLATE_WIDTH) / 2, pdf.marks["plate"]
        pdf.font(24, bold=True)
        pdf.put(x, y + 1.5, PLATE_WIDTH, PLATE_HEIGHT - 3, plate, align="C")

    def summary(self, dossier: DossierFile, issued: IssuedCertificate) -> bytes:
        pdf = self._start(
            self.SUMMARY, f"Récapitulatif - dossier n° {dossier.dossier_number}", issued.issued_at
        )
        payment = dossier.payment or {}
        submission = dossier.submission or {}
        pdf.key_values([dossier.dossier_number, issued.number])

        pdf.fields([
            (label, wording.french_datetime(moment, self.zone), False)
            for label, moment in (
                ("Demande commencée le", dossier.started_at),
                ("Demande validée le", submission["submitted_at"]),
                ("Paiement enregistré le", payment["paid_at"]),
            )
        ])
        pdf.ln(2)

        pdf.section("Votre demande")
        rows = [
            ("Motif", wording.REASONS.get(dossier.reason, dossier.reason), True),
            ("Personne concernée", wording.PERSONS.get(dossier.person, dossier.person), False),
        ]
        if dossier.special_case:
            rows.append(("Cas particulier", wording.SPECIAL_CASE, False))
        rows += self._requester_rows(dossier)
        pdf.fields(rows)
        pdf.ln(2)

        accepted = self._supporting_rows(dossier)
        if accepted:
            pdf.section("Pièces justificatives acceptées par le CERT")
            pdf.fields(accepted)
            pdf.ln(2)

        pdf.section("Déclarations")
        pdf.fields([
            (f"{self.typeface.tick}  Cochée" if ticked else "Non cochée", text, False)
            for ticked, text in (
                (submission.get("sworn_statement"), wording.SWORN_STATEMENT),
                (submission.get("legal_terms"), wording.LEGAL_TERMS),
            )
        ])
        pdf.ln(2)

        pdf.section("Véhicule et titulaire")
        vehicle = dossier.vehicle
        make_and_model = f"{vehicle.get('make', '')} {vehicle.get('model', '')}".strip()
        pdf.fields([
            ("Numéro d'immatriculation", vehicle.get("plate", ""), True),
            ("Numéro d'identification (VIN)", vehicle.get("vin", ""), False),
            ("Marque et modèle", make_and_model, False),
            ("Titulaire", wording.holder_name(dossier.holder), False),
        ])
        pdf.ln(2)

        pdf.section("Paiement")
        self._fees(pdf, payment)
        pdf.ln(2)
        pdf.fields([
            ("Carte bancaire", f"Carte se terminant par {payment.get('card_last4', '')}", False),
            ("Référence du paiement", payment.get("psp_reference", ""), False),
        ])
        pdf.ln(3)
        if dossier.reason == "deterioration":
            pdf.notice(wording.DAMAGED_CERTIFICATE, keep=True)
            pdf.ln(2)
        pdf.notice(
            "Conservez ce récapitulatif. Le duplicata de votre certificat d'immatriculation vous "
            "sera envoyé à votre adresse ; en attendant, le certificat provisoire "
            f"n° {issued.number} vous permet de circuler jusqu'au "
            f"{wording.french_date(issued.valid_until)} inclus."
        )
        return bytes(pdf.output())

    def dispatch_notice(
        self, dossier: DossierFile, definitive: dict[str, Any], dispatched_at: datetime
    ) -> bytes:
        """What the posted certificate carries (« DUPLICATA » and its date), where it goes
        and how to follow the registered letter (`definitive`: the order, with its
        tracking number)."""
        duplicate_date = wording.french_date(date.fromisoformat(definitive["duplicate_date"]))
        pdf = self._start(
            self.DISPATCH_NOTICE,
            f"Avis d'expédition - dossier n° {dossier.dossier_number}",
            dispatched_at,
        )
        pdf.key_values([definitive["mention"], duplicate_date, definitive["tracking_number"]])
        self._plate(pdf, dossier.vehicle.get("plate", ""))
        holder = dossier.holder
        rows = [
            ("Expédié le", wording.french_datetime(dispatched_at, self.zone), False),
            ("Lettre recommandée n°", definitive["tracking_number"], True),
            ("Commande n°", definitive["order_number"], False),
            ("Adressé à", wording.holder_name(holder), True),
        ]
        if holder.get("address"):
            rows.append(("Adresse", holder["address"], False))
        pdf.fields(rows)
        pdf.ln(2)
        pdf.section("Certificat d'immatriculation envoyé")
        vehicle = dossier.vehicle
        make_and_model = f"{vehicle.get('make', '')} {vehicle.get('model', '')}".strip()
        pdf.fields([
            ("Numéro d'immatriculation", vehicle.get("plate", ""), True),
            ("Numéro d'identification (VIN)", vehicle.get("vin", ""), False),
            ("Marque et modèle", make_and_model, False),
            ("Mention portée", f"{definitive['mention']} du {duplicate_date}", True),
            ("Dossier n°", dossier.dossier_number, False),
            ("Motif de la demande", wording.REASONS.get(dossier.reason, dossier.reason), False),
        ])
        pdf.ln(3)
        pdf.notice(
            "Le certificat d'immatriculation qui vous est envoyé porte la mention "
            f"« {definitive['mention']} » et la date du {duplicate_date}. Il remplace le "
            "certificat dont vous avez demandé le duplicata. Suivez la lettre recommandée avec "
            "son numéro sur le site de La Poste. Dès sa réception, circulez avec ce certificat : "
            "le certificat provisoire n'est plus nécessaire."
        )
        return bytes(pdf.output())

    def _requester_rows(self, dossier: DossierFile) -> list[tuple[str, str, bool]]:
        """Who asked and under which document, when it was not the holder."""
        role = wording.requester_role(dossier.person, dossier.special_case)
        if role is None or not dossier.requester:
            return []
        rows = [("Demandée par", f"{wording.holder_name(dossier.requester)}, {role}", True)]
        proof = "mandat" if dossier.person == "mandataire" else "certificat_cession"
        for document in dossier.accepted_supporting_documents:
            if supporting_kind(document) == proof:
                received = wording.french_datetime(document["created_at"], self.zone)
                rows.append((
                    "Mandat" if proof == "mandat" else "Cession",
                    f"{wording.SUPPORTING_DOCUMENTS[proof]}, reçu le {received} et accepté "
                    "par le CERT",
                    False,
                ))
        return rows

    def _supporting_rows(self, dossier: DossierFile) -> list[tuple[str, str, bool]]:
        return [
            (wording.SUPPORTING_DOCUMENTS[kind],
             f"Reçu le {wording.french_datetime(document['created_at'], self.zone)}", False)
            for document in dossier.accepted_supporting_documents
            if (kind := supporting_kind(document)) is not None
        ]

    def _fees(self, pdf: OfficialDocument, payment: dict[str, Any]) -> None:
        """The fee lines as a table: a navy heading, rules between rows, a shaded total."""
        euro = self.typeface.euro
        widths, aligns = (22.0, 118.0, 40.0), ("L", "L", "R")
        line_height, pad_y, pad_x = 5.5, 1.0, 2.5
        rows = [(
            (line["code"], line["label"], wording.french_amount(line["amount"], euro))
        ) for line in payment.get("lines", [])]
        pdf.font(9.5)
        cells = [
            [pdf.lines(text, width - 2 * pad_x) for text, width in zip(row, widths, strict=True)]
            for row in rows
        ]
        heights = [max(len(lines) for lines in row) * line_height + 2 * pad_y for row in cells]
        row_height = line_height + 2 * pad_y
        if pdf.will_page_break(sum(heights) + 2 * row_height):
            pdf.add_page()
        left, top = MARGIN, pdf.get_y()
        bottom = top + row_height + sum(heights) + row_height

        pdf.set_fill_color(*NAVY)
        pdf.rect(left, top, pdf.epw, row_height, style="F")
        pdf.set_fill_color(*PANEL)
        pdf.rect(left, bottom - row_height, pdf.epw, row_height, style="F")
        pdf.set_draw_color(*NAVY)
        pdf.set_line_width(0.2)
        rule = top + row_height
        for height in (*heights, 0):
            pdf.line(left, rule, left + pdf.epw, rule)
            rule += height

        def row_of(y: float, height: float, texts: list[tuple[str, ...]]) -> None:
            x = left
            for lines, width, align in zip(texts, widths, aligns, strict=True):
                line_y = y + pad_y + (height - 2 * pad_y - len(lines) * line_height) / 2
                for line in lines:
                    pdf.put(x, line_y, width, line_height, line, align, inset=pad_x)
                    line_y += line_height
                x += width

        pdf.font(9.5, bold=True, color=(255, 255, 255))
        row_of(top, row_height, [("Code",), ("Désignation",), ("Montant",)])
        pdf.font(9.5)
        y = top + row_height
        for row_cells, height in zip(cells, heights, strict=True):
            row_of(y, height, row_cells)
            y += height
        pdf.font(9.5, bold=True)
        total = wording.french_amount(Decimal(payment.get("amount", "0")), euro)
        pdf.put(left, y + pad_y, widths[0] + widths[1], line_height, "Total payé", inset=pad_x)
        pdf.put(left + widths[0] + widths[1], y + pad_y, widths[2], line_height, total, "R",
                inset=pad_x)
        pdf.set_xy(MARGIN, bottom)
