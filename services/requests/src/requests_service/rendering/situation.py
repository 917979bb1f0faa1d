"""The CSA as a PDF, in the same official layout as the documents service's CPI."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from ants_pdf.document import MARGIN, MUTED, NAVY, QR_SIZE, Fonts, OfficialDocument
from requests_service.adapters.siv import Person, VehicleRecord

TITLE = "Certificat de situation administrative"


def _date(text: str) -> str:
    return date.fromisoformat(text).strftime("%d/%m/%Y")


def _name(person: Person) -> str:
    return f"{person.family_name.upper()} {person.given_name}".strip()


class SituationDocument(OfficialDocument):
    heading = "SYSTÈME D'IMMATRICULATION DES VÉHICULES"


class SituationRenderer:
    def __init__(self, zone: tzinfo, font_dir=None) -> None:  # type: ignore[no-untyped-def]
        self.fonts = Fonts(font_dir)
        self.zone = zone

    def render(
        self, vehicle: VehicleRecord, number: str, issued_at: datetime, verification_url: str
    ) -> bytes:
        local = issued_at.astimezone(self.zone)
        pdf = SituationDocument(self.fonts, f"Certificat de situation administrative n° {number}",
                                issued_at, TITLE)
        pdf.add_page()
        pdf.title_block(
            "CERTIFICAT DE SITUATION ADMINISTRATIVE",
            "Établi d'après le système d'immatriculation des véhicules (SIV)",
        )
        pdf.key_figures(["N° du certificat", "Établi le", "À"])
        pdf.key_values([number, local.strftime("%d/%m/%Y"), local.strftime("%H:%M")])
        top = pdf.get_y()
        qr_x = pdf.w - MARGIN - QR_SIZE
        pdf.qr_code(verification_url, qr_x, top, QR_SIZE)
        pdf.font(6.5, color=NAVY)
        address, _, tail = verification_url.rpartition("/")
        pdf.block(qr_x - 4, top + QR_SIZE + 2, QR_SIZE + 8, 3.5, f"{address}/\n{tail}", align="C")
        column = pdf.w - 2 * MARGIN - QR_SIZE - 8
        pdf.set_xy(MARGIN, top)
        pdf.section("Véhicule", column)
        pdf.fields([
            ("(A) Numéro d'immatriculation", vehicle.plate, True),
            ("(E) Numéro d'identification", vehicle.vin, False),
            ("(D.1) Marque", vehicle.make, False),
            ("(D.3) Dénomination commerciale", vehicle.model, False),
            ("(B) Date de 1re immatriculation", _date(vehicle.first_registration), False),
        ], column)
        pdf.ln(3)
        pdf.section("Titulaire", column)
        rows = [("(C.1) Titulaire", _name(vehicle.holder), True)]
        rows += [("Co-titulaire", _name(p), False) for p in vehicle.co_holders]
        pdf.fields(rows, column)
        pdf.set_xy(MARGIN, max(pdf.get_y(), top + QR_SIZE + 12) + 3)
        pdf.section("Gages")
        if vehicle.pledges:
            pdf.fields([
                (f"Gage inscrit le {_date(p['registered_on'])}", f"Créancier : {p['creditor']}", True)
                for p in vehicle.pledges
            ])
        else:
            pdf.fields([("Gage", "Aucun gage inscrit", False)])
        pdf.ln(3)
        pdf.section("Oppositions")
        if vehicle.objections:
            pdf.fields([
                (f"Opposition du {_date(o['registered_on'])}" if o.get("registered_on") else "Opposition",
                 " - ".join(x for x in (o.get("label", ""), o.get("by", "")) if x), True)
                for o in vehicle.objections
            ])
        else:
            pdf.fields([("Opposition", "Aucune opposition inscrite", False)])
        pdf.ln(3)
        pdf.section("Vol")
        pdf.fields([
            ("Vol du véhicule", "Déclaré" if stolen_vehicle(vehicle) else "Non déclaré",
             stolen_vehicle(vehicle)),
            ("Vol du certificat d'immatriculation",
             "Enregistré" if vehicle.theft_of_title_recorded else "Non enregistré",
             vehicle.theft_of_title_recorded),
        ])
        pdf.ln(4)
        pdf.font(8.5, color=MUTED)
        pdf.notice(
            "Ce certificat atteste de la situation administrative du véhicule dans le SIV à la "
            "date et à l'heure indiquées ci-dessus. Vérifiez-le en scannant le code ou à "
            "l'adresse indiquée sous le code.", keep=True,
        )
        return bytes(pdf.output())


def stolen_vehicle(vehicle: VehicleRecord) -> bool:
    """A theft of the vehicle is recorded in the SIV as an objection of kind `vol`."""
    return any(o.get("kind") == "vol" for o in vehicle.objections)
