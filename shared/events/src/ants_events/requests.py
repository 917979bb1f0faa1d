"""Events published by the requests service (the dossier's life)."""

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ants_events.base import AmountDue, IntegrationEvent, SupportingDocumentKind

Reason = Literal["perte", "vol", "deterioration"]
Person = Literal["titulaire", "cotitulaire", "mandataire"]
NextStep = Literal["payment", "theft_declaration"]
NextStepV2 = Literal["payment", "theft_declaration", "documents"]


class Vehicle(BaseModel):
    model_config = ConfigDict(frozen=True)

    plate: str
    vin: str
    make: str
    model: str
    first_registration: date | None = None


class Holder(BaseModel):
    model_config = ConfigDict(frozen=True)

    given_name: str
    family_name: str
    address: str = ""


class Requester(BaseModel):
    """Who asked, when it is not necessarily the holder (a mandataire, a buyer)."""

    model_config = ConfigDict(frozen=True)

    given_name: str
    family_name: str


class RequestsEvent(IntegrationEvent):
    producer: ClassVar[str] = "requests"

    dossier_id: UUID


class RequestStartedV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestStarted"

    dossier_number: str
    account_id: UUID
    reason: Reason
    person: Person
    special_case: bool
    vehicle: Vehicle
    holder: Holder
    # Added later, optional: the account holder who asked (absent from older records).
    requester: Requester | None = None


class RequestSubmittedV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestSubmitted"

    account_id: UUID
    sworn_statement: bool
    legal_terms: bool
    next_step: NextStep


class RequestSubmittedV2(RequestsEvent):
    """The declarations were ticked and the request validated; what happens next.

    Published only when the next step is `documents` (supporting documents other than the
    theft declaration are awaited: DocumentsRequested follows and lists them), which v1
    cannot say: the loss and theft cases keep
    publishing v1, so v1 consumers see them as before. A consumer of v2 also reads v1.
    """

    type_name: ClassVar[str] = "RequestSubmitted"
    version: ClassVar[int] = 2

    account_id: UUID
    sworn_statement: bool
    legal_terms: bool
    next_step: NextStepV2


class TheftDeclarationRequestedV1(RequestsEvent):
    type_name: ClassVar[str] = "TheftDeclarationRequested"

    account_id: UUID
    plate: str


class DocumentsRequestedV1(RequestsEvent):
    """The dossier is on hold until the CERT accepts these supporting documents.

    Lists the kinds other than the theft declaration, which keeps its own
    TheftDeclarationRequested (published beside this event when both are needed).
    """

    type_name: ClassVar[str] = "DocumentsRequested"

    account_id: UUID
    kinds: tuple[SupportingDocumentKind, ...]


class RequestReadyForPaymentV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestReadyForPayment"

    account_id: UUID
    amount_due: AmountDue


class RequestCompletedV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestCompleted"

    certificate_number: str


class RequestCancelledV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestCancelled"

    reason: str


class CitizenMessagePostedV1(RequestsEvent):
    """A citizen wrote to the CERT about a dossier (MessagePosted, citizen side)."""

    type_name: ClassVar[str] = "MessagePosted"

    message_id: UUID
    author_id: UUID
    author_role: Literal["citizen"] = "citizen"
    text: str
    document_id: UUID | None = None
