"""What the API shows of a dossier."""

from __future__ import annotations

from typing import Any

from requests_service.application import RequestsApplication
from requests_service.domain.dossier import (
    NEXT_ACTIONS,
    PERSONS,
    REASONS,
    REJECTION_REASONS,
    STATUS_LABELS,
    THEFT_DECLARATION,
    Dossier,
)


def dossier_view(dossier: Dossier, app: RequestsApplication) -> dict[str, Any]:
    action = next_action(dossier)
    return {
        "dossier_id": str(dossier.id),
        "dossier_number": dossier.dossier_number,
        "status": dossier.status,
        "status_label": STATUS_LABELS[dossier.status],
        "reason": dossier.reason,
        "reason_label": REASONS[dossier.reason],
        "person": dossier.person,
        "person_label": PERSONS[dossier.person],
        "special_case": dossier.special_case,
        "plate": dossier.vehicle["plate"],
        "vehicle": dossier.vehicle,
        "holder": {"given_name": dossier.holder["given_name"], "family_name": dossier.holder["family_name"]},
        "requester": dossier.requester,
        "required_documents": required_documents_view(dossier),
        "declarations": dossier.declarations,
        "amount_due": dossier.amount_due or app.amount_due(),
        "payment": dossier.payment,
        "certificate": dossier.certificate,
        "definitive_certificate": definitive_view(getattr(dossier, "definitive_certificate", None)),
        "next_action": {"code": action[0], "label": action[1]} if action else None,
        "latest_cert_note": with_reason_label(dossier.latest_cert_note),
        "latest_cert_decision": with_reason_label(dossier.latest_cert_decision),
        "declaration_documents": dossier.declaration_documents,
        "started_at": dossier.started_at,
        "submitted_at": dossier.submitted_at,
        "updated_at": dossier.modified_on.isoformat(),
        "version": dossier.version,
    }


DEFINITIVE_LABELS = {
    "in_production": "Certificat en cours de fabrication",
    "dispatched": "Certificat expédié",
}


def definitive_view(definitive: dict[str, Any] | None) -> dict[str, Any] | None:
    """The duplicate itself, after the provisional certificate: made, then posted."""
    if definitive is None:
        return None
    return {**definitive, "status_label": DEFINITIVE_LABELS[definitive["status"]]}


# The French wording of the supporting documents and of where each one is.
DOCUMENT_LABELS = {
    "declaration_vol": "Déclaration de vol (récépissé de la police ou de la gendarmerie)",
    "mandat": "Mandat signé par le titulaire (cerfa n° 13757 ou lettre signée)",
    "piece_identite_titulaire": "Copie de la pièce d'identité du titulaire",
    "piece_identite_demandeur": "Copie de votre pièce d'identité",
    "certificat_cession": "Certificat de cession (cerfa n° 15776) signé par le vendeur",
}
DOCUMENT_STATUS_LABELS = {
    "awaited": "À envoyer",
    "under_review": "En cours de contrôle par le CERT",
    "rejected": "Refusé : à renvoyer",
    "accepted": "Accepté",
}


def required_documents_view(dossier: Dossier) -> list[dict[str, Any]]:
    """Each required supporting document: where it is, its files, the CERT's latest word."""
    view = []
    for kind in dossier.required_kinds:
        status = dossier.document_status(kind)
        latest = dossier.latest_document(kind)
        decision = dossier.decision_on(latest) if latest else None
        view.append({
            "kind": kind,
            "label": DOCUMENT_LABELS[kind],
            "status": status,
            "status_label": DOCUMENT_STATUS_LABELS[status],
            "document_ids": [d for d, k in dossier.document_kinds.items() if k == kind],
            "latest_document_id": latest,
            "decision": with_reason_label(decision),
        })
    return view


def with_reason_label(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {**decision, "reason_label": REJECTION_REASONS.get(decision["reason"] or "")}


def next_action(dossier: Dossier) -> tuple[str, str] | None:
    if dossier.status == "draft":
        if dossier.declarations:
            return ("submit", "Valider la demande")
        return ("declare", "Cocher les déclarations légales")
    if dossier.status == "under_review" and dossier.required_kinds != [THEFT_DECLARATION]:
        return ("wait_cert", "Patienter : le CERT contrôle vos pièces justificatives")
    return NEXT_ACTIONS.get(dossier.status)


def history_view(events: list[Any]) -> list[dict[str, Any]]:
    """The dossier's events as an auditor reads them: in order, with their data."""
    hidden = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    return [
        {
            "version": e.originator_version,
            "type": type(e).__qualname__.split(".")[-1],
            "at": e.timestamp.isoformat(),
            "data": {k: _plain(v) for k, v in e.__dict__.items() if k not in hidden},
        }
        for e in events
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
