"""The documents of a dossier, who may read them, and the indexes that find them by id or number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CPI = "cpi"
SUMMARY = "recapitulatif"
DECLARATION = "declaration"
# Staff who review or audit theft declarations; they never download a citizen's CPI.
STAFF_ROLES = ("cert_agent", "auditor")


class DocumentsError(Exception):
    """A refusal with a message a person understands (French)."""


class DossierNotFound(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Dossier inconnu.")


class DocumentNotFound(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Document inconnu.")


class CertificateNotFound(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Certificat inconnu.")


class AccessDenied(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Vous n'avez pas accès à ce document.")


class NotAwaitingDeclaration(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Ce dossier n'attend pas de déclaration de vol.")


class DossierCancelled(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Cette demande a été annulée : elle n'accepte plus de document.")


class ConcurrentUpload(DocumentsError):
    def __init__(self) -> None:
        super().__init__("Un autre envoi vient d'être enregistré pour ce dossier. Réessayez.")


@dataclass(frozen=True)
class Reader:
    """Whoever asks for a dossier's documents."""

    account_id: UUID
    roles: frozenset[str]

    @property
    def is_staff(self) -> bool:
        return bool(self.roles.intersection(STAFF_ROLES))


class DossierFile(Aggregate):
    """What the documents service knows of one dossier; its id is the dossier id.

    Facts arrive from three topics in no guaranteed order between them, so the file opens on
    whichever comes first, and the certificate is issued once the start, the submission and
    the payment are all known.
    """

    # Stored names of the aggregate and its events, fixed here rather than derived from the
    # module path, so moving or renaming code cannot break the replay of stored events.
    TOPIC = "documents:DossierFile"

    class Event(Aggregate.Event):
        TOPIC = "documents:DossierFile.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "documents:DossierFile.Created"

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id

    @event("Opened", topic="documents:DossierFile.Opened")
    def __init__(self, dossier_id: UUID) -> None:
        self.account_id: UUID | None = None
        self.dossier_number = ""
        self.reason = ""
        self.person = ""
        self.special_case = False
        self.vehicle: dict[str, Any] = {}
        self.holder: dict[str, Any] = {}
        self.started_at = ""
        self.submission: dict[str, Any] | None = None
        self.payment: dict[str, Any] | None = None
        self.awaiting_declaration = False
        self.reviews: list[str] = []
        self.documents: list[dict[str, Any]] = []
        self.certificate: dict[str, Any] | None = None
        self.cancelled = False

    @property
    def is_started(self) -> bool:
        return self.account_id is not None

    @property
    def ready_for_certificate(self) -> bool:
        return (
            self.is_started
            and self.submission is not None
            and self.payment is not None
            and self.certificate is None
        )

    # Facts from the other services: each is recorded once, by its business key.

    def record_start(
        self, account_id: UUID, dossier_number: str, reason: str, person: str,
        special_case: bool, vehicle: dict[str, Any], holder: dict[str, Any], started_at: str,
    ) -> None:
        if not self.is_started:
            self._started(
                account_id, dossier_number, reason, person, special_case, vehicle, holder,
                started_at,
            )

    @event("Started", topic="documents:DossierFile.Started")
    def _started(
        self, account_id: UUID, dossier_number: str, reason: str, person: str,
        special_case: bool, vehicle: dict[str, Any], holder: dict[str, Any], started_at: str,
    ) -> None:
        self.account_id = account_id
        self.dossier_number = dossier_number
        self.reason = reason
        self.person = person
        self.special_case = special_case
        self.vehicle = vehicle
        self.holder = holder
        self.started_at = started_at

    def record_submission(
        self, sworn_statement: bool, legal_terms: bool, submitted_at: str
    ) -> None:
        if self.submission is None:
            self._submitted(sworn_statement, legal_terms, submitted_at)

    @event("Submitted", topic="documents:DossierFile.Submitted")
    def _submitted(self, sworn_statement: bool, legal_terms: bool, submitted_at: str) -> None:
        self.submission = {
            "sworn_statement": sworn_statement,
            "legal_terms": legal_terms,
            "submitted_at": submitted_at,
        }

    def request_declaration(self) -> None:
        if not self.awaiting_declaration and self.certificate is None and not self.cancelled:
            self._declaration_requested()

    @event("DeclarationRequested", topic="documents:DossierFile.DeclarationRequested")
    def _declaration_requested(self) -> None:
        self.awaiting_declaration = True

    def record_payment(
        self, payment_id: UUID, amount: str, currency: str, lines: list[dict[str, str]],
        psp_reference: str, card_last4: str, paid_at: str,
    ) -> None:
        """A dossier is paid once: a second payment record changes nothing here."""
        if self.payment is None:
            self._paid(payment_id, amount, currency, lines, psp_reference, card_last4, paid_at)

    @event("PaymentRecorded", topic="documents:DossierFile.PaymentRecorded")
    def _paid(
        self, payment_id: UUID, amount: str, currency: str, lines: list[dict[str, str]],
        psp_reference: str, card_last4: str, paid_at: str,
    ) -> None:
        self.payment = {
            "payment_id": str(payment_id),
            "amount": amount,
            "currency": currency,
            "lines": lines,
            "psp_reference": psp_reference,
            "card_last4": card_last4,
            "paid_at": paid_at,
        }

    def record_review(self, review_id: UUID, document_id: UUID, accepted: bool) -> None:
        """The CERT's verdict on a declaration. Only a verdict on the latest one reopens upload."""
        if str(review_id) in self.reviews:
            return
        latest = self.latest_declaration
        about_latest = latest is None or latest["document_id"] == str(document_id)
        if accepted:
            self._declaration_accepted(review_id, document_id)
        else:
            self._declaration_rejected(review_id, document_id, about_latest and not self.cancelled)

    @event("DeclarationAccepted", topic="documents:DossierFile.DeclarationAccepted")
    def _declaration_accepted(self, review_id: UUID, document_id: UUID) -> None:
        self.reviews.append(str(review_id))
        self.awaiting_declaration = False

    @event("DeclarationRejected", topic="documents:DossierFile.DeclarationRejected")
    def _declaration_rejected(self, review_id: UUID, document_id: UUID, reopens: bool) -> None:
        self.reviews.append(str(review_id))
        if reopens:
            self.awaiting_declaration = True

    def record_cancellation(self, cancelled_at: str) -> None:
        """The request was cancelled: no document is taken any more. Recorded once."""
        if not self.cancelled:
            self._cancelled(cancelled_at)

    @event("Cancelled", topic="documents:DossierFile.Cancelled")
    def _cancelled(self, cancelled_at: str) -> None:
        self.cancelled = True
        self.awaiting_declaration = False

    # What this service produces.

    def check_accepts_declaration(self, account_id: UUID) -> None:
        if not self.is_started:
            raise DossierNotFound
        if account_id != self.account_id:
            raise AccessDenied
        if self.cancelled:
            raise DossierCancelled
        if not self.awaiting_declaration:
            raise NotAwaitingDeclaration

    @event("DeclarationUploaded", topic="documents:DossierFile.DeclarationUploaded")
    def add_declaration(self, account_id: UUID, document: dict[str, Any]) -> None:
        self.documents.append(document)
        self.awaiting_declaration = False

    @event("CertificateIssued", topic="documents:DossierFile.CertificateIssued")
    def issue_certificate(
        self, certificate_number: str, issued_at: str, valid_until: str,
        documents: list[dict[str, Any]],
    ) -> None:
        self.certificate = {
            "certificate_number": certificate_number,
            "issued_at": issued_at,
            "valid_until": valid_until,
        }
        self.documents.extend(documents)
        self.awaiting_declaration = False

    @property
    def latest_declaration(self) -> dict[str, Any] | None:
        declarations = [d for d in self.documents if d["kind"] == DECLARATION]
        return declarations[-1] if declarations else None

    def document(self, document_id: UUID) -> dict[str, Any]:
        for document in self.documents:
            if document["document_id"] == str(document_id):
                return document
        raise DocumentNotFound

    # Who may read what.

    def check_can_list(self, reader: Reader) -> None:
        if not self.is_started:
            raise DossierNotFound
        if reader.account_id != self.account_id and not reader.is_staff:
            raise AccessDenied

    def check_can_read(self, reader: Reader, document: dict[str, Any]) -> None:
        """The owner reads everything; CERT agents and auditors read theft declarations only."""
        if reader.account_id == self.account_id:
            return
        if not (reader.is_staff and document["kind"] == DECLARATION):
            raise AccessDenied


class DocumentIndex(Aggregate):
    """Finds a document's dossier from the document id alone."""

    TOPIC = "documents:DocumentIndex"

    class Event(Aggregate.Event):
        TOPIC = "documents:DocumentIndex.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "documents:DocumentIndex.Created"

    @staticmethod
    def create_id(document_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:documents:document:{document_id}")

    @event("Indexed", topic="documents:DocumentIndex.Indexed")
    def __init__(self, document_id: UUID, dossier_id: UUID) -> None:
        self.dossier_id = dossier_id


class CertificateIndex(Aggregate):
    """Finds a dossier from its certificate number (the verification page); one per number."""

    TOPIC = "documents:CertificateIndex"

    class Event(Aggregate.Event):
        TOPIC = "documents:CertificateIndex.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "documents:CertificateIndex.Created"

    @staticmethod
    def create_id(certificate_number: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:documents:certificate:{certificate_number}")

    @event("Indexed", topic="documents:CertificateIndex.Indexed")
    def __init__(self, certificate_number: str, dossier_id: UUID) -> None:
        self.dossier_id = dossier_id
