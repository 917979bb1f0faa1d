"""The French wording of each notice, as plain text and HTML.

Personal data is kept to what the citizen needs to recognise the dossier: its number, and a
link to it. No name, no address, no plate, no note from the CERT (the reason's label only:
the note is read once logged in).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

REJECTION_REASONS = {
    "illisible": "Document illisible",
    "incomplet": "Document incomplet",
    "non_conforme": "Document non conforme",
    "autre": "Autre motif",
}
DOCUMENT_KINDS = {
    "declaration_vol": "la déclaration de vol",
    "mandat": "le mandat",
    "piece_identite_titulaire": "la pièce d'identité du titulaire",
    "piece_identite_demandeur": "votre pièce d'identité",
    "certificat_cession": "le certificat de cession",
}


@dataclass(frozen=True)
class Notice:
    subject: str
    paragraphs: tuple[str, ...]
    action: str


def notice(code: str, number: str, values: dict[str, Any]) -> Notice:
    if code == "request_registered":
        follow = {
            "payment": "Vous pouvez dès maintenant payer les taxes pour obtenir votre "
            "certificat provisoire.",
            "theft_declaration": "Votre demande est en attente : envoyez la déclaration de vol "
            "remise par les forces de l'ordre, que le CERT va contrôler.",
            "documents": "Votre demande est en attente : envoyez les pièces justificatives "
            "demandées, que le CERT va contrôler.",
        }.get(values.get("next_step", ""), "")
        return Notice(
            f"Votre demande de duplicata n° {number} est enregistrée",
            (f"Votre demande de duplicata de certificat d'immatriculation n° {number} a bien "
             "été enregistrée.", follow),
            "Suivre ma demande",
        )
    if code == "document_rejected":
        kind = DOCUMENT_KINDS.get(values.get("kind", ""), "une pièce justificative")
        reason = REJECTION_REASONS.get(values.get("reason", ""), "Autre motif")
        return Notice(
            f"Dossier n° {number} : une pièce est à renvoyer",
            (f"Le CERT n'a pas pu accepter {kind} envoyée pour votre dossier n° {number}.",
             f"Motif : {reason}.",
             "Lisez la note de l'agent dans votre espace, puis envoyez une nouvelle pièce."),
            "Voir la note et renvoyer la pièce",
        )
    if code == "cert_message":
        return Notice(
            f"Dossier n° {number} : le CERT vous a écrit",
            (f"Un agent du CERT vous a écrit au sujet de votre dossier n° {number}.",
             "Lisez son message dans votre espace."),
            "Lire le message",
        )
    if code == "documents_accepted":
        return Notice(
            f"Dossier n° {number} : vous pouvez payer",
            (f"Le CERT a accepté les pièces de votre dossier n° {number}.",
             "Reprenez la demande en cours depuis votre panier et payez les taxes pour obtenir "
             "votre certificat provisoire."),
            "Reprendre ma demande",
        )
    if code == "provisional_certificate_ready":
        return Notice(
            f"Dossier n° {number} : votre certificat provisoire est prêt",
            (f"Votre certificat provisoire d'immatriculation n° {values.get('certificate_number', '')} "
             f"est prêt (dossier n° {number}). Il vous permet de circuler en France jusqu'au "
             f"{values.get('valid_until', '')} inclus.",
             "Téléchargez-le avec le récapitulatif de votre demande. Votre certificat définitif "
             "va être fabriqué puis envoyé par lettre recommandée."),
            "Télécharger mes documents",
        )
    if code == "definitive_certificate_sent":
        return Notice(
            f"Dossier n° {number} : votre certificat d'immatriculation est expédié",
            (f"Le duplicata de votre certificat d'immatriculation (dossier n° {number}) vous a "
             "été expédié par lettre recommandée.",
             f"Numéro de suivi : {values.get('tracking_number', '')}."),
            "Voir mon dossier",
        )
    raise ValueError(f"unknown notice {code}")


SIGNATURE = "Ce message vous est envoyé automatiquement : merci de ne pas y répondre."


def text_body(found: Notice, link: str) -> str:
    paragraphs = [p for p in found.paragraphs if p]
    return "\n\n".join(["Bonjour,", *paragraphs, f"{found.action} : {link}", SIGNATURE]) + "\n"


def html_body(found: Notice, link: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in found.paragraphs if p)
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{html.escape(found.subject)}</title></head>"
        '<body style="font-family: sans-serif; color: #19191e; max-width: 40em">'
        f"<p>Bonjour,</p>{paragraphs}"
        f'<p><a href="{html.escape(link, quote=True)}" style="color: #16265e; font-weight: bold">'
        f"{html.escape(found.action)}</a></p>"
        f'<p style="color: #5f5f69; font-size: 0.9em">{html.escape(SIGNATURE)}</p>'
        "</body></html>"
    )
