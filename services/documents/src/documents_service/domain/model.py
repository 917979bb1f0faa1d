"""The documents of a dossier, who may read them, and the indexes that find them by id or number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CPI = "cpi"
SUMMARY = "recapitulatif"
DISPATCH_NOTICE = "avis_expedition"  # the definitive certificate's dispatch, for the holder
DECLARATION = "declaration"
# The supporting documents the CERT reviews (codes of the public contracts). A theft
# declaration is listed with the kind `declaration`, as it always was; the others with their
# code.
THEFT_DECLARATION = "declaration_vol"
SUPPORTING_KINDS = (
    THEFT_DECLARATION, "mandat", "piece_identite_titulaire", "piece_identite_demandeur",
    "certificat_cession",
)
# Staff who review or audit supporting documents; they never download a citizen's CPI.
STAFF_ROLES = ("cert_agent", "auditor")


def listed_kind(supporting_kind: str) -> str:
    """The kind a supporting document is listed and stored under."""
    return DECLARATION if supporting_kind == THEFT_DECLARATION else supporting_kind


def supporting_kind(document: dict[str, Any]) -> str | None:
    """The supporting document kind of a stored document; None for the CPI and summary."""
    kind = document["kind"]
    if kind == DECLARATION:
        return THEFT_DECLARATION
    return kind if kind in SUPPORTING_KINDS else None


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
    def __init__(self, kind: str = THEFT_DECLARATION) -> None:
        if kind == THEFT_DECLARATION:
            super().__init__("Ce dossier n'attend pas de déclaration de vol.")
        else:
            super().__init__(
                f"Ce dossier n'attend pas de pièce « {kind} » : envoyez l'une des pièces "
                "justificatives demandées."
            )


class UnknownDocumentKind(DocumentsError):
    def __init__(self) -> None:
        super().__init__(
            "Type de pièce inconnu. Types acceptés : " + ", ".join(SUPPORTING_KINDS) + "."
        )


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

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        CertificateIssued: ClassVar[type[Any]]
        DefinitiveOrdered: ClassVar[type[Any]]
        DefinitiveDispatched: ClassVar[type[Any]]
        DeclarationUploaded: ClassVar[type[Any]]

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
        self.requester: dict[str, Any] | None = None
        self.awaited_kinds: list[str] = []  # supporting documents the citizen may send now
        self.accepted_documents: list[str] = []
        self.reviews: list[str] = []
        self.documents: list[dict[str, Any]] = []
        self.certificate: dict[str, Any] | None = None
        self.definitive: dict[str, Any] | None = None  # the duplicate itself, once ordered
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

    def record_requester(self, requester: dict[str, Any] | None) -> None:
        if requester and self.requester is None:
            self._requester_recorded(requester)

    @event("RequesterRecorded", topic="documents:DossierFile.RequesterRecorded")
    def _requester_recorded(self, requester: dict[str, Any]) -> None:
        self.requester = requester

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
        self._await(THEFT_DECLARATION)

    def request_documents(self, kinds: list[str]) -> None:
        """Idempotent: a kind already asked for (awaited or sent) is not asked again."""
        new = [k for k in kinds if k not in self.awaited_kinds and not self.documents_of_kind(k)]
        if new and self.certificate is None and not self.cancelled:
            self._documents_requested(new)

    @event("DocumentsRequested", topic="documents:DossierFile.DocumentsRequested")
    def _documents_requested(self, kinds: list[str]) -> None:
        for kind in kinds:
            self._await(kind)

    def _await(self, kind: str) -> None:
        if kind not in self.awaited_kinds:
            self.awaited_kinds.append(kind)

    def _stop_awaiting(self, kind: str | None) -> None:
        if kind in self.awaited_kinds:
            self.awaited_kinds.remove(kind)

    @property
    def awaiting_declaration(self) -> bool:
        return THEFT_DECLARATION in self.awaited_kinds

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
        """The CERT's verdict on a supporting document. Only a verdict on the latest one of its
        kind reopens upload (the event names date from when theft declarations were the only
        kind)."""
        if str(review_id) in self.reviews:
            return
        kind = self.kind_of(document_id)
        latest = self.latest_of_kind(kind) if kind else None
        about_latest = latest is None or latest["document_id"] == str(document_id)
        if accepted:
            self._declaration_accepted(review_id, document_id)
        else:
            self._declaration_rejected(review_id, document_id, about_latest and not self.cancelled)

    @event("DeclarationAccepted", topic="documents:DossierFile.DeclarationAccepted")
    def _declaration_accepted(self, review_id: UUID, document_id: UUID) -> None:
        self.reviews.append(str(review_id))
        self.accepted_documents.append(str(document_id))
        self._stop_awaiting(self.kind_of(document_id) or THEFT_DECLARATION)

    @event("DeclarationRejected", topic="documents:DossierFile.DeclarationRejected")
    def _declaration_rejected(self, review_id: UUID, document_id: UUID, reopens: bool) -> None:
        self.reviews.append(str(review_id))
        if reopens:
            self._await(self.kind_of(document_id) or THEFT_DECLARATION)

    def record_cancellation(self, cancelled_at: str) -> None:
        """The request was cancelled: no document is taken any more. Recorded once."""
        if not self.cancelled:
            self._cancelled(cancelled_at)

    @event("Cancelled", topic="documents:DossierFile.Cancelled")
    def _cancelled(self, cancelled_at: str) -> None:
        self.cancelled = True
        self.awaited_kinds = []

    # What this service produces.

    def check_may_upload(self, account_id: UUID) -> None:
        if not self.is_started:
            raise DossierNotFound
        if account_id != self.account_id:
            raise AccessDenied
        if self.cancelled:
            raise DossierCancelled

    def check_accepts(self, account_id: UUID, kind: str) -> None:
        self.check_may_upload(account_id)
        if kind not in self.awaited_kinds:
            raise NotAwaitingDeclaration(kind)

    @event("DeclarationUploaded", topic="documents:DossierFile.DeclarationUploaded")
    def add_declaration(self, account_id: UUID, document: dict[str, Any]) -> None:
        """A supporting document of any kind (the document says which)."""
        self.documents.append(document)
        self._stop_awaiting(supporting_kind(document))

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
        self.awaited_kinds = []

    # The definitive certificate: ordered from the printing office once the CPI is issued,
    # then sent by registered post.

    ORDERED = "documents:DossierFile.DefinitiveOrdered"
    DISPATCHED = "documents:DossierFile.DefinitiveDispatched"

    @event("DefinitiveOrdered", topic=ORDERED)
    def order_definitive(self, order_number: str, duplicate_date: str) -> None:
        self.definitive = {
            "status": "in_production", "order_number": order_number,
            "mention": "DUPLICATA", "duplicate_date": duplicate_date,
        }

    @property
    def awaits_dispatch(self) -> bool:
        return self.definitive is not None and self.definitive["status"] == "in_production"

    def record_dispatch(
        self, tracking_number: str, dispatched_at: str, notice: dict[str, Any] | None = None
    ) -> bool:
        """The certificate posted, with its dispatch notice; False when already recorded."""
        if not self.awaits_dispatch:
            return False
        assert self.definitive is not None
        self._dispatched(
            self.definitive["order_number"], self.definitive["duplicate_date"],
            tracking_number, dispatched_at, notice,
        )
        return True

    @event("DefinitiveDispatched", topic=DISPATCHED)
    def _dispatched(
        self, order_number: str, duplicate_date: str, tracking_number: str, dispatched_at: str,
        notice: dict[str, Any] | None = None,  # None in the events recorded before notices
    ) -> None:
        assert self.definitive is not None
        self.definitive = {
            **self.definitive, "status": "dispatched", "tracking_number": tracking_number,
            "dispatched_at": dispatched_at,
        }
        if notice is not None:
            self.documents.append(notice)

    def documents_of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if supporting_kind(d) == kind]

    def latest_of_kind(self, kind: str) -> dict[str, Any] | None:
        sent = self.documents_of_kind(kind)
        return sent[-1] if sent else None

    def kind_of(self, document_id: UUID | str) -> str | None:
        found = [d for d in self.documents if d["document_id"] == str(document_id)]
        return supporting_kind(found[0]) if found else None

    @property
    def accepted_supporting_documents(self) -> list[dict[str, Any]]:
        """The supporting documents the CERT accepted, in the order they were sent."""
        return [d for d in self.documents if d["document_id"] in self.accepted_documents]

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
        """The owner reads everything; CERT agents and auditors read supporting documents only."""
        if reader.account_id == self.account_id:
            return
        if not (reader.is_staff and supporting_kind(document) is not None):
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
