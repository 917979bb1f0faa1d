"""Base class of every public integration event: identity, time, subject and CloudEvents type."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, PrivateAttr

CE_TYPE_PREFIX = "fr.ants"

# The supporting documents a dossier may require, each reviewed by the CERT: the police theft
# declaration, the mandate (cerfa 13757 or a signed letter), the holder's identity document
# (mandate), the requester's identity document and the certificat de cession (cerfa 15776)
# when the vehicle was sold to the requester.
SupportingDocumentKind = Literal[
    "declaration_vol", "mandat", "piece_identite_titulaire", "piece_identite_demandeur",
    "certificat_cession",
]
THEFT_DECLARATION: SupportingDocumentKind = "declaration_vol"


class IntegrationEvent(BaseModel):
    """A fact published by one service for the others.

    Consumers ignore fields they do not know, so a producer may add optional fields to a
    version; removing or retyping a field needs a new version of the event.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    producer: ClassVar[str]
    type_name: ClassVar[str]
    version: ClassVar[int] = 1

    event_id: UUID
    occurred_at: datetime

    # Who caused the event (see ants_events.cloudevents.PROVENANCE_HEADERS): travels in
    # CloudEvents extension headers, not in the payload, so every contract carries it alike.
    _provenance: dict[str, str] = PrivateAttr(default_factory=dict)

    def with_provenance(self, provenance: dict[str, str]) -> IntegrationEvent:
        self._provenance = {k: v for k, v in provenance.items() if v}
        return self

    @property
    def provenance(self) -> dict[str, str]:
        return dict(self._provenance)

    @classmethod
    def ce_type(cls) -> str:
        return f"{CE_TYPE_PREFIX}.{cls.producer}.{cls.type_name}.v{cls.version}"

    @property
    def subject(self) -> str:
        """The aggregate the event is about: the Kafka key and the CloudEvents subject."""
        return str(vars(self)["dossier_id"])  # every event about a dossier has the field


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: str  # decimal as text, e.g. "13.76": no float rounding across languages
    currency: str = "EUR"


class FeeLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str  # e.g. "Y4"
    label: str
    amount: str


class AmountDue(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: str
    currency: str = "EUR"
    lines: tuple[FeeLine, ...]
