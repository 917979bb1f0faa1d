"""Events published by the requests service (the dossier's life)."""

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ants_events.base import AmountDue, IntegrationEvent

Reason = Literal["perte", "vol", "deterioration"]
Person = Literal["titulaire", "cotitulaire", "mandataire"]
NextStep = Literal["payment", "theft_declaration"]


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


class RequestSubmittedV1(RequestsEvent):
    type_name: ClassVar[str] = "RequestSubmitted"

    account_id: UUID
    sworn_statement: bool
    legal_terms: bool
    next_step: NextStep


class TheftDeclarationRequestedV1(RequestsEvent):
    type_name: ClassVar[str] = "TheftDeclarationRequested"

    account_id: UUID
    plate: str


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
