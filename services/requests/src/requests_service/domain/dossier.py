"""The Dossier aggregate: one duplicate request, rebuilt from its events on every read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from requests_service.domain.errors import InvalidRequest, TooEarly, WrongState


def now() -> str:
    return datetime.now(UTC).isoformat()


REASONS = {"perte": "Perte", "vol": "Vol", "deterioration": "Détérioration"}
PERSONS = {"titulaire": "Titulaire", "cotitulaire": "Co-titulaire", "mandataire": "Mandataire"}
MESSAGE_MAX_LENGTH = 4000

STATUS_LABELS = {
    "draft": "En cours de saisie",
    "awaiting_declaration": "En attente de la déclaration de vol",
    "under_review": "En cours de contrôle par le CERT",
    "ready_for_payment": "En attente de paiement",
    "paid": "Payée, certificat en préparation",
    "completed": "Terminée",
    "cancelled": "Annulée",
}
OPEN_STATUSES = {"draft", "awaiting_declaration", "under_review", "ready_for_payment", "paid"}
REJECTION_REASONS = {
    "illisible": "Document illisible",
    "incomplet": "Document incomplet",
    "non_conforme": "Document non conforme",
    "autre": "Autre motif",
}
NEXT_ACTIONS = {
    "awaiting_declaration": ("send_declaration", "Envoyer la déclaration de vol"),
    "under_review": ("wait_cert", "Patienter : le CERT contrôle votre déclaration"),
    "ready_for_payment": ("pay", "Payer les taxes en ligne"),
    "paid": ("wait_certificate", "Patienter : le certificat provisoire est en préparation"),
    "completed": ("download", "Télécharger le certificat provisoire et le récapitulatif"),
}


def check_choices(reason: str, person: str) -> None:
    """The reason and the person concerned are among those the procedure offers."""
    if reason not in REASONS:
        raise InvalidRequest("Choisissez le motif : perte, vol ou détérioration.", "reason")
    if person not in PERSONS:
        raise InvalidRequest("Choisissez la personne concernée par la demande.", "person")


class Dossier(Aggregate):
    """One duplicate request. Event topics are explicit: renaming this module cannot break replay."""

    TOPIC = "requests:Dossier"

    class Event(Aggregate.Event):
        TOPIC = "requests:Dossier.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "requests:Dossier.Created"

    @event("Started", topic="requests:Dossier.Started")
    def __init__(
        self,
        id: UUID,
        dossier_number: str,
        account_id: UUID,
        reason: str,
        person: str,
        special_case: bool,
        vehicle: dict[str, Any],
        holder: dict[str, Any],
        theft_recorded_in_siv: bool,
        started_at: str,
    ) -> None:
        check_choices(reason, person)
        self.dossier_number = dossier_number
        self.account_id = account_id
        self.reason = reason
        self.person = person
        self.special_case = special_case
        self.vehicle = vehicle
        self.holder = holder
        self.theft_recorded_in_siv = theft_recorded_in_siv
        self.started_at = started_at
        self.status = "draft"
        self.declarations: dict[str, bool] = {}
        self.submitted_at: str | None = None
        self.amount_due: dict[str, Any] | None = None
        self.declaration_documents: list[str] = []
        self.review_decisions: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.payment: dict[str, Any] | None = None
        self.certificate: dict[str, Any] | None = None
        self.cancellation: str | None = None

    # --- the citizen's steps -------------------------------------------------------------

    def accept_declarations(self, sworn_statement: bool, legal_terms: bool) -> None:
        self.check_status("draft", action="cocher les déclarations")
        if not (sworn_statement and legal_terms):
            raise InvalidRequest(
                "Vous devez cocher les deux déclarations (attestation sur l'honneur et "
                "conditions légales d'utilisation) avant de valider la demande.",
                "declarations",
            )
        self._declarations_accepted(sworn_statement=sworn_statement, legal_terms=legal_terms)

    @event("DeclarationsAccepted", topic="requests:Dossier.DeclarationsAccepted")
    def _declarations_accepted(self, sworn_statement: bool, legal_terms: bool) -> None:
        self.declarations = {"sworn_statement": sworn_statement, "legal_terms": legal_terms}

    def submit(self) -> None:
        self.check_status("draft", action="valider la demande")
        if not self.declarations:
            raise WrongState(
                "Cochez les déclarations légales avant de valider la demande.", "declarations"
            )
        self._submitted(
            next_step="theft_declaration" if self.needs_theft_declaration else "payment",
            at=now(),
            account_id=self.account_id,
            sworn_statement=self.declarations["sworn_statement"],
            legal_terms=self.declarations["legal_terms"],
        )
        if self.needs_theft_declaration:
            self._theft_declaration_requested(account_id=self.account_id, plate=self.vehicle["plate"])

    @property
    def needs_theft_declaration(self) -> bool:
        return self.reason == "vol" and not self.theft_recorded_in_siv

    @event("Submitted", topic="requests:Dossier.Submitted")
    def _submitted(
        self, next_step: str, at: str, account_id: UUID, sworn_statement: bool, legal_terms: bool
    ) -> None:
        self.submitted_at = at
        self.status = "draft" if next_step == "payment" else "awaiting_declaration"

    @event("TheftDeclarationRequested", topic="requests:Dossier.TheftDeclarationRequested")
    def _theft_declaration_requested(self, account_id: UUID, plate: str) -> None:
        self.status = "awaiting_declaration"

    def make_payable(self, amount_due: dict[str, Any]) -> None:
        self._ready_for_payment(amount_due=amount_due, account_id=self.account_id)

    @event("ReadyForPayment", topic="requests:Dossier.ReadyForPayment")
    def _ready_for_payment(self, amount_due: dict[str, Any], account_id: UUID) -> None:
        self.amount_due = amount_due
        self.status = "ready_for_payment"

    def cancel(self, reason: str) -> None:
        if self.status not in {"draft", "awaiting_declaration", "under_review", "ready_for_payment"}:
            raise WrongState("Cette demande ne peut plus être annulée.")
        self._cancelled(reason=reason)

    @event("Cancelled", topic="requests:Dossier.Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.cancellation = reason
        self.status = "cancelled"

    # --- facts from the other services (idempotent by business key) -----------------------

    # Facts from different topics arrive in any order. Each method answers False for a fact
    # already applied or made moot (a cancelled dossier) and raises TooEarly for one that
    # follows a fact not seen yet, so that it is applied later rather than lost.

    def receive_declaration(self, document_id: str, sha256: str, media_type: str) -> bool:
        if document_id in self.declaration_documents or not self.is_open:
            return False
        if self.status != "awaiting_declaration":
            raise TooEarly("another declaration is under review: its rejection comes first")
        self._declaration_received(document_id=document_id, sha256=sha256, media_type=media_type)
        return True

    @event("DeclarationReceived", topic="requests:Dossier.DeclarationReceived")
    def _declaration_received(self, document_id: str, sha256: str, media_type: str) -> None:
        self.declaration_documents.append(document_id)
        self.status = "under_review"

    def reject_declaration(self, review_id: str, document_id: str, reason: str, note: str) -> bool:
        if self.decided(review_id) or not self.is_open:
            return False
        self.check_declaration_received(document_id)
        if self.status != "under_review":
            return False
        self._declaration_rejected(
            review_id=review_id, document_id=document_id, reason=reason, note=note, at=now()
        )
        return True

    @event("DeclarationRejected", topic="requests:Dossier.DeclarationRejected")
    def _declaration_rejected(
        self, review_id: str, document_id: str, reason: str, note: str, at: str
    ) -> None:
        self.review_decisions.append(
            {"review_id": review_id, "document_id": document_id, "decision": "rejected",
             "reason": reason, "note": note, "at": at}
        )
        self.status = "awaiting_declaration"

    def accept_declaration(self, review_id: str, document_id: str, note: str) -> bool:
        if self.decided(review_id) or not self.is_open:
            return False
        self.check_declaration_received(document_id)
        if self.status != "under_review":
            return False
        self._declaration_accepted(review_id=review_id, document_id=document_id, note=note, at=now())
        return True

    @event("DeclarationAccepted", topic="requests:Dossier.DeclarationAccepted")
    def _declaration_accepted(self, review_id: str, document_id: str, note: str, at: str) -> None:
        self.review_decisions.append(
            {"review_id": review_id, "document_id": document_id, "decision": "accepted",
             "reason": None, "note": note, "at": at}
        )

    def check_declaration_received(self, document_id: str) -> None:
        if document_id not in self.declaration_documents:
            raise TooEarly("the CERT decided on a declaration whose upload has not arrived yet")

    def decided(self, review_id: str) -> bool:
        return any(d["review_id"] == review_id for d in self.review_decisions)

    def reply(self, message_id: str, author_id: str, text: str, document_id: str | None) -> None:
        """The citizen writes to the CERT, maybe about one of the declarations they sent."""
        text = text.strip()
        if not text:
            raise InvalidRequest("Le message est vide.", "text")
        if len(text) > MESSAGE_MAX_LENGTH:
            raise InvalidRequest("Le message ne doit pas dépasser 4 000 caractères.", "text")
        if document_id is not None and document_id not in self.declaration_documents:
            raise InvalidRequest(
                "Ce document n'a pas été envoyé pour ce dossier : un message ne peut citer "
                "qu'une déclaration de vol jointe à ce dossier.",
                "document_id",
            )
        self.post_message(message_id, author_id, "citizen", text, document_id)

    def post_message(
        self, message_id: str, author_id: str, author_role: str, text: str,
        document_id: str | None = None,
    ) -> bool:
        if any(m["message_id"] == message_id for m in self.messages):
            return False
        self._message_posted(
            message_id=message_id, author_id=author_id, author_role=author_role, text=text,
            document_id=document_id, at=now(),
        )
        return True

    @event("MessagePosted", topic="requests:Dossier.MessagePosted")
    def _message_posted(
        self, message_id: str, author_id: str, author_role: str, text: str,
        document_id: str | None, at: str,
    ) -> None:
        self.messages.append(
            {"message_id": message_id, "author_id": author_id, "author_role": author_role,
             "text": text, "document_id": document_id, "at": at}
        )

    def record_payment(self, payment_id: str, amount: str, currency: str) -> bool:
        if self.payment is not None:
            return False
        if self.status == "cancelled":
            # Paid while being cancelled: the money was taken, so the dossier keeps the fact.
            self._paid_after_cancellation(
                payment_id=payment_id, amount=amount, currency=currency, at=now()
            )
            return True
        if self.status != "ready_for_payment":
            raise TooEarly("a payment for a dossier not yet payable")
        self._paid(payment_id=payment_id, amount=amount, currency=currency, at=now())
        return True

    @event("PaidAfterCancellation", topic="requests:Dossier.PaidAfterCancellation")
    def _paid_after_cancellation(self, payment_id: str, amount: str, currency: str, at: str) -> None:
        self.payment = {"payment_id": payment_id, "amount": amount, "currency": currency,
                        "at": at}

    @event("Paid", topic="requests:Dossier.Paid")
    def _paid(self, payment_id: str, amount: str, currency: str, at: str) -> None:
        self.payment = {"payment_id": payment_id, "amount": amount, "currency": currency,
                        "at": at}
        self.status = "paid"

    def complete(self, certificate_number: str, valid_until: str, documents: list[dict[str, str]]) -> bool:
        if self.status in {"completed", "cancelled"}:
            return False
        if self.status != "paid":
            raise TooEarly("the certificate arrived before the payment")
        self._completed(
            certificate_number=certificate_number, valid_until=valid_until, documents=documents,
            at=now(),
        )
        return True

    @event("Completed", topic="requests:Dossier.Completed")
    def _completed(
        self, certificate_number: str, valid_until: str, documents: list[dict[str, str]], at: str
    ) -> None:
        self.certificate = {"certificate_number": certificate_number, "valid_until": valid_until,
                            "documents": documents, "at": at}
        self.status = "completed"

    # --- reading -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def latest_cert_decision(self) -> dict[str, Any] | None:
        return self.review_decisions[-1] if self.review_decisions else None

    @property
    def latest_cert_note(self) -> dict[str, Any] | None:
        notes = [d for d in self.review_decisions if d["note"]]
        return notes[-1] if notes else None

    def check_status(self, *allowed: str, action: str) -> None:
        if self.status not in allowed:
            raise WrongState(
                f"Impossible de {action} : la demande est « {STATUS_LABELS[self.status]} »."
            )


class VehicleLock(Aggregate):
    """One per vehicle: at most one open duplicate request. Concurrent claims conflict."""

    TOPIC = "requests:VehicleLock"

    class Event(Aggregate.Event):
        TOPIC = "requests:VehicleLock.Event"

    @staticmethod
    def create_id(plate: str) -> UUID:
        from uuid import NAMESPACE_URL, uuid5

        return uuid5(NAMESPACE_URL, f"ants:requests:vehicle:{plate}")

    @event("Created", topic="requests:VehicleLock.Created")
    def __init__(self, plate: str) -> None:
        self.plate = plate
        self.open_dossier_id: UUID | None = None

    @event("Claimed", topic="requests:VehicleLock.Claimed")
    def claim(self, dossier_id: UUID) -> None:
        self.open_dossier_id = dossier_id

    def release(self, dossier_id: UUID) -> None:
        if self.open_dossier_id == dossier_id:
            self._released(dossier_id=dossier_id)

    @event("Released", topic="requests:VehicleLock.Released")
    def _released(self, dossier_id: UUID) -> None:
        self.open_dossier_id = None


class Basket(Aggregate):
    """One per account: the dossiers the account started, newest last.

    No longer written: the basket is now the dossier list read model, which costs the same
    however many dossiers an account holds. Kept, with its event topics, so that stores
    written before still replay.
    """

    TOPIC = "requests:Basket"

    class Event(Aggregate.Event):
        TOPIC = "requests:Basket.Event"

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        from uuid import NAMESPACE_URL, uuid5

        return uuid5(NAMESPACE_URL, f"ants:requests:basket:{account_id}")

    @event("Created", topic="requests:Basket.Created")
    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.dossier_ids: list[UUID] = []

    @event("DossierAdded", topic="requests:Basket.DossierAdded")
    def add(self, dossier_id: UUID) -> None:
        self.dossier_ids.append(dossier_id)
