"""What the API shows of a review: the file, the dossier's facts, the thread, past decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cert_service.application import ReviewFile
from cert_service.domain.dossier_file import PERSONS, REASONS, DossierFile
from cert_service.domain.review import CLOSE_REASONS, REJECTION_REASONS, STATUS_LABELS, Review

DOCUMENTS_PATH = "/documents/{document_id}"  # served by the documents service, same token
# The supporting documents as the agents name them.
DOCUMENT_LABELS = {
    "declaration_vol": "Déclaration de vol",
    "mandat": "Mandat (cerfa n° 13757 ou lettre signée)",
    "piece_identite_titulaire": "Pièce d'identité du titulaire",
    "piece_identite_demandeur": "Pièce d'identité du demandeur",
    "certificat_cession": "Certificat de cession (cerfa n° 15776)",
}


def review_view(file: ReviewFile) -> dict[str, Any]:
    review = file.review
    return {
        "review_id": str(review.id),
        "dossier_id": str(review.dossier_id),
        "kind": review.kind,
        "kind_label": DOCUMENT_LABELS.get(review.kind),
        "status": review.status,
        "status_label": STATUS_LABELS[review.status],
        "claimed_by": str(review.claimed_by) if review.claimed_by else None,
        "claimed_by_name": review.claimed_by_name,
        "opened_at": review.created_on.isoformat(),
        "decision": decision_view(review),
        "closed_reason": CLOSE_REASONS.get(review.closed_reason) if review.closed_reason else None,
        "document": document_view(review),
        "dossier": dossier_view(file.dossier),
        "thread": thread_view(file.dossier, file.dossier_reviews),
        "earlier_decisions": [
            decision_view(r) for r in file.dossier_reviews if r.is_decided and r.id != review.id
        ],
        "rejection_reasons": [{"code": c, "label": label} for c, label in REJECTION_REASONS.items()],
        "version": review.version,
    }


def document_view(review: Review) -> dict[str, Any]:
    return {
        "document_id": str(review.document_id),
        "kind": review.kind,
        "kind_label": DOCUMENT_LABELS.get(review.kind),
        "media_type": review.media_type,
        "sha256": review.sha256,
        "size": review.size,
        "uploaded_at": review.uploaded_at,
        "document_url": DOCUMENTS_PATH.format(document_id=review.document_id),
    }


def dossier_view(file: DossierFile) -> dict[str, Any]:
    request = file.request or {}
    reason, person = request.get("reason"), request.get("person")
    return {
        "dossier_id": str(file.id),
        "known": file.request is not None,  # False until RequestStarted has arrived
        "dossier_number": request.get("dossier_number"),
        "account_id": request.get("account_id"),
        "reason": reason,
        "reason_label": REASONS.get(reason) if reason else None,
        "person": person,
        "person_label": PERSONS.get(person) if person else None,
        "special_case": request.get("special_case"),
        "vehicle": request.get("vehicle"),
        "holder": request.get("holder"),
        "cancelled": file.is_cancelled,
    }


def decision_view(review: Review) -> dict[str, Any] | None:
    if review.decision is None:
        return None
    reason = review.decision["reason"]
    return {
        "review_id": str(review.id),
        "document_id": str(review.document_id),
        "kind": review.kind,
        **review.decision,
        "reason_label": REJECTION_REASONS.get(reason) if reason else None,
    }


def thread_view(file: DossierFile, reviews: list[Review]) -> list[dict[str, Any]]:
    """Citizen and agent messages with the agents' decision notes, oldest first.

    A rejection note is part of the conversation (the citizen reads it and replies) but is
    not a message event of its own: it is shown from the decision.
    """
    entries = [{"kind": "message", **m} for m in file.messages]
    for review in reviews:
        decision = review.decision
        if decision and decision["note"]:
            entries.append({
                "kind": "decision", "message_id": None, "author_role": "cert_agent",
                "author_id": decision["agent_id"], "author_name": decision["agent_name"],
                "text": decision["note"], "document_id": str(review.document_id),
                "document_kind": review.kind,
                "at": decision["at"], "decision": decision["decision"],
                "reason": decision["reason"],
            })
    return sorted(entries, key=lambda entry: datetime.fromisoformat(entry["at"]))
