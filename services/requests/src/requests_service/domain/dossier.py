"""The Dossier aggregate: one duplicate request, rebuilt from its events on every read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from requests_service.domain.errors import InvalidRequest, TooEarly, WrongState


def now() -> str:
    return datetime.now(UTC).isoformat()


REASONS = {"perte": "Perte", "vol": "Vol", "deterioration": "Détérioration"}
PERSONS = {"titulaire": "Titulaire", "cotitulaire": "Co-titulaire", "mandataire": "Mandataire"}
MESSAGE_MAX_LENGTH = 4000

# The supporting documents a dossier may require (codes of the public contracts).
THEFT_DECLARATION = "declaration_vol"
MANDATE = "mandat"
HOLDER_IDENTITY = "piece_identite_titulaire"
REQUESTER_IDENTITY = "piece_identite_demandeur"
DEED_OF_SALE = "certificat_cession"
DOCUMENT_KINDS = (THEFT_DECLARATION, MANDATE, HOLDER_IDENTITY, REQUESTER_IDENTITY, DEED_OF_SALE)

STATUS_LABELS = {
    "draft": "En cours de saisie",
    "awaiting_declaration": "En attente de la déclaration de vol",
    "awaiting_documents": "En attente de pièces justificatives",
    "under_review": "En cours de contrôle par le CERT",
    "ready_for_payment": "En attente de paiement",
    "paid": "Payée, certificat en préparation",
    "completed": "Terminée",
    "cancelled": "Annulée",
}
# A dossier whose only required document is the theft declaration keeps the status its
# clients have always known, `awaiting_declaration`; any other dossier waiting for supporting
# documents is `awaiting_documents`.
AWAITING_STATUSES = {"awaiting_declaration", "awaiting_documents"}
OPEN_STATUSES = {"draft", *AWAITING_STATUSES, "under_review", "ready_for_payment", "paid"}
REJECTION_REASONS = {
    "illisible": "Document illisible",
    "incomplet": "Document incomplet",
    "non_conforme": "Document non conforme",
    "autre": "Autre motif",
}
NEXT_ACTIONS = {
    "awaiting_declaration": ("send_declaration", "Envoyer la déclaration de vol"),
    "awaiting_documents": ("send_documents", "Envoyer les pièces justificatives"),
    "under_review": ("wait_cert", "Patienter : le CERT contrôle votre déclaration"),
    "ready_for_payment": ("pay", "Payer les taxes en ligne"),
    "paid": ("wait_certificate", "Patienter : le certificat provisoire est en préparation"),
    "completed": ("download", "Télécharger le certificat provisoire et le récapitulatif"),
}


def required_documents(
    reason: str, person: str, special_case: bool, theft_recorded_in_siv: bool
) -> list[str]:
    """The supporting documents the CERT must accept before the dossier can be paid."""
    kinds = []
    if reason == "vol" and not theft_recorded_in_siv:
        kinds.append(THEFT_DECLARATION)
    if person == "mandataire":
        kinds += [MANDATE, HOLDER_IDENTITY]
    if special_case:
        kinds += [DEED_OF_SALE, REQUESTER_IDENTITY]
    return kinds


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

    # Version 2 of the state adds what the supporting documents need (snapshots upcast).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken before supporting documents: only theft declarations existed."""
        state["requester"] = None
        theft = state["reason"] == "vol" and not state["theft_recorded_in_siv"]
        submitted = state.get("submitted_at") is not None
        state["required_kinds"] = [THEFT_DECLARATION] if theft and submitted else []
        state["document_kinds"] = {d: THEFT_DECLARATION for d in state["declaration_documents"]}
        for decision in state["review_decisions"]:
            decision["kind"] = THEFT_DECLARATION

    class Started(Created):
        """Version 2 adds who asked (`requester`): unknown (None) in older records."""

        TOPIC = "requests:Dossier.Started"
        class_version = 2
        dossier_number: str
        account_id: UUID
        reason: str
        person: str
        special_case: bool
        vehicle: dict[str, Any]
        holder: dict[str, Any]
        theft_recorded_in_siv: bool
        started_at: str
        requester: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["requester"] = None

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Submitted: ClassVar[type[Any]]
        TheftDeclarationRequested: ClassVar[type[Any]]
        DocumentsRequested: ClassVar[type[Any]]
        ReadyForPayment: ClassVar[type[Any]]
        MessagePosted: ClassVar[type[Any]]
        Completed: ClassVar[type[Any]]
        Cancelled: ClassVar[type[Any]]

    @event(Started)
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
        requester: dict[str, Any] | None,
    ) -> None:
        check_choices(reason, person)
        self.dossier_number = dossier_number
        self.requester = requester
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
        self.required_kinds: list[str] = []
        self.document_kinds: dict[str, str] = {}  # every document received -> its kind
        self.declaration_documents: list[str] = []  # the theft declarations among them
        self.review_decisions: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.payment: dict[str, Any] | None = None
        self.certificate: dict[str, Any] | None = None
        self.definitive_certificate: dict[str, Any] | None = None
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
        kinds = required_documents(
            self.reason, self.person, self.special_case, self.theft_recorded_in_siv
        )
        others = [k for k in kinds if k != THEFT_DECLARATION]
        self._submitted(
            next_step="documents" if others else (
                "theft_declaration" if kinds else "payment"
            ),
            at=now(),
            account_id=self.account_id,
            sworn_statement=self.declarations["sworn_statement"],
            legal_terms=self.declarations["legal_terms"],
        )
        # The theft declaration keeps the event it always had; the other kinds come in one.
        if THEFT_DECLARATION in kinds:
            self._theft_declaration_requested(account_id=self.account_id, plate=self.vehicle["plate"])
        if others:
            self._documents_requested(account_id=self.account_id, kinds=others)

    @property
    def needs_documents(self) -> bool:
        """Whether some required supporting document is not accepted yet."""
        return any(self.document_status(kind) != "accepted" for kind in self.required_kinds)

    @property
    def needs_theft_declaration(self) -> bool:
        return THEFT_DECLARATION in self.required_kinds

    @event("Submitted", topic="requests:Dossier.Submitted")
    def _submitted(
        self, next_step: str, at: str, account_id: UUID, sworn_statement: bool, legal_terms: bool
    ) -> None:
        self.submitted_at = at
        self.status = {
            "payment": "draft", "theft_declaration": "awaiting_declaration",
        }.get(next_step, "awaiting_documents")

    @event("TheftDeclarationRequested", topic="requests:Dossier.TheftDeclarationRequested")
    def _theft_declaration_requested(self, account_id: UUID, plate: str) -> None:
        self._require([THEFT_DECLARATION])

    @event("DocumentsRequested", topic="requests:Dossier.DocumentsRequested")
    def _documents_requested(self, account_id: UUID, kinds: list[str]) -> None:
        self._require(kinds)

    def _require(self, kinds: list[str]) -> None:
        self.required_kinds += [k for k in kinds if k not in self.required_kinds]
        self._follow_documents()

    def _follow_documents(self) -> None:
        """The status while documents are required: waiting for one, or all under review."""
        if any(self.document_status(k) in {"awaited", "rejected"} for k in self.required_kinds):
            only_theft = self.required_kinds == [THEFT_DECLARATION]
            self.status = "awaiting_declaration" if only_theft else "awaiting_documents"
        else:
            self.status = "under_review"

    def make_payable(self, amount_due: dict[str, Any]) -> None:
        self._ready_for_payment(amount_due=amount_due, account_id=self.account_id)

    @event("ReadyForPayment", topic="requests:Dossier.ReadyForPayment")
    def _ready_for_payment(self, amount_due: dict[str, Any], account_id: UUID) -> None:
        self.amount_due = amount_due
        self.status = "ready_for_payment"

    def cancel(self, reason: str) -> None:
        if self.status not in {"draft", *AWAITING_STATUSES, "under_review", "ready_for_payment"}:
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

    def receive_document(
        self, kind: str, document_id: str, sha256: str, media_type: str
    ) -> bool:
        if document_id in self.document_kinds or not self.is_open:
            return False
        state = self.document_status(kind)
        if kind not in self.required_kinds or state == "accepted":
            return False  # not asked for, or already settled: nothing to review
        if state == "under_review":
            raise TooEarly("another document of this kind is under review: its rejection comes first")
        if kind == THEFT_DECLARATION:
            self._declaration_received(document_id=document_id, sha256=sha256, media_type=media_type)
        else:
            self._document_received(
                kind=kind, document_id=document_id, sha256=sha256, media_type=media_type
            )
        return True

    @event("DeclarationReceived", topic="requests:Dossier.DeclarationReceived")
    def _declaration_received(self, document_id: str, sha256: str, media_type: str) -> None:
        self.declaration_documents.append(document_id)
        self.document_kinds[document_id] = THEFT_DECLARATION
        self._follow_documents()

    @event("DocumentReceived", topic="requests:Dossier.DocumentReceived")
    def _document_received(self, kind: str, document_id: str, sha256: str, media_type: str) -> None:
        self.document_kinds[document_id] = kind
        self._follow_documents()

    def reject_document(self, review_id: str, document_id: str, reason: str, note: str) -> bool:
        kind = self.reviewable_kind(review_id, document_id)
        if kind is None:
            return False
        if kind == THEFT_DECLARATION:
            self._declaration_rejected(
                review_id=review_id, document_id=document_id, reason=reason, note=note, at=now()
            )
        else:
            self._document_rejected(
                kind=kind, review_id=review_id, document_id=document_id, reason=reason,
                note=note, at=now(),
            )
        return True

    @event("DeclarationRejected", topic="requests:Dossier.DeclarationRejected")
    def _declaration_rejected(
        self, review_id: str, document_id: str, reason: str, note: str, at: str
    ) -> None:
        self._decided(THEFT_DECLARATION, review_id, document_id, "rejected", reason, note, at)

    @event("DocumentRejected", topic="requests:Dossier.DocumentRejected")
    def _document_rejected(
        self, kind: str, review_id: str, document_id: str, reason: str, note: str, at: str
    ) -> None:
        self._decided(kind, review_id, document_id, "rejected", reason, note, at)

    def accept_document(self, review_id: str, document_id: str, note: str) -> bool:
        kind = self.reviewable_kind(review_id, document_id)
        if kind is None:
            return False
        if kind == THEFT_DECLARATION:
            self._declaration_accepted(
                review_id=review_id, document_id=document_id, note=note, at=now()
            )
        else:
            self._document_accepted(
                kind=kind, review_id=review_id, document_id=document_id, note=note, at=now()
            )
        return True

    @event("DeclarationAccepted", topic="requests:Dossier.DeclarationAccepted")
    def _declaration_accepted(self, review_id: str, document_id: str, note: str, at: str) -> None:
        self._decided(THEFT_DECLARATION, review_id, document_id, "accepted", None, note, at)

    @event("DocumentAccepted", topic="requests:Dossier.DocumentAccepted")
    def _document_accepted(
        self, kind: str, review_id: str, document_id: str, note: str, at: str
    ) -> None:
        self._decided(kind, review_id, document_id, "accepted", None, note, at)

    def _decided(
        self, kind: str, review_id: str, document_id: str, decision: str, reason: str | None,
        note: str, at: str,
    ) -> None:
        self.review_decisions.append(
            {"review_id": review_id, "document_id": document_id, "kind": kind,
             "decision": decision, "reason": reason, "note": note, "at": at}
        )
        self._follow_documents()

    def reviewable_kind(self, review_id: str, document_id: str) -> str | None:
        """The kind of a document the CERT may still decide on; None when the decision is
        moot (already applied, dossier closed, a newer document of its kind under review)."""
        if self.decided(review_id) or not self.is_open:
            return None
        if document_id not in self.document_kinds:
            raise TooEarly("the CERT decided on a document whose upload has not arrived yet")
        kind = self.document_kinds[document_id]
        if self.latest_document(kind) != document_id or self.decision_on(document_id):
            return None
        return kind

    def decided(self, review_id: str) -> bool:
        return any(d["review_id"] == review_id for d in self.review_decisions)

    def reply(self, message_id: str, author_id: str, text: str, document_id: str | None) -> None:
        """The citizen writes to the CERT, maybe about one of the declarations they sent."""
        text = text.strip()
        if not text:
            raise InvalidRequest("Le message est vide.", "text")
        if len(text) > MESSAGE_MAX_LENGTH:
            raise InvalidRequest("Le message ne doit pas dépasser 4 000 caractères.", "text")
        if document_id is not None and document_id not in self.document_kinds:
            raise InvalidRequest(
                "Ce document n'a pas été envoyé pour ce dossier : un message ne peut citer "
                "qu'une pièce jointe à ce dossier.",
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

    # --- the definitive certificate, made and posted after the provisional one ------------

    def record_definitive_in_production(self, order_number: str, duplicate_date: str) -> bool:
        if getattr(self, "definitive_certificate", None) is not None:
            return False
        if self.status != "completed":
            raise TooEarly("the certificate's production arrived before the certificate")
        self._definitive_in_production(order_number=order_number, duplicate_date=duplicate_date)
        return True

    @event("DefinitiveCertificateInProduction", topic="requests:Dossier.DefinitiveInProduction")
    def _definitive_in_production(self, order_number: str, duplicate_date: str) -> None:
        self.definitive_certificate = {
            "status": "in_production", "order_number": order_number, "mention": "DUPLICATA",
            "duplicate_date": duplicate_date,
        }

    def record_definitive_dispatched(self, tracking_number: str, at: str) -> bool:
        current = getattr(self, "definitive_certificate", None)
        if current is None:
            raise TooEarly("the dispatch arrived before the production")
        if current["status"] == "dispatched":
            return False
        self._definitive_dispatched(tracking_number=tracking_number, at=at)
        return True

    @event("DefinitiveCertificateDispatched", topic="requests:Dossier.DefinitiveDispatched")
    def _definitive_dispatched(self, tracking_number: str, at: str) -> None:
        assert self.definitive_certificate is not None
        self.definitive_certificate = {
            **self.definitive_certificate, "status": "dispatched",
            "tracking_number": tracking_number, "dispatched_at": at,
        }

    # --- reading -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def latest_document(self, kind: str) -> str | None:
        sent = [d for d, k in self.document_kinds.items() if k == kind]
        return sent[-1] if sent else None

    def decision_on(self, document_id: str) -> dict[str, Any] | None:
        return next((d for d in self.review_decisions if d["document_id"] == document_id), None)

    def document_status(self, kind: str) -> str:
        """awaited, under_review, rejected or accepted: where the latest document of a kind is."""
        latest = self.latest_document(kind)
        if latest is None:
            return "awaited"
        decision = self.decision_on(latest)
        return decision["decision"] if decision else "under_review"

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
