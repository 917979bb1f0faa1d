"""Events published by the identity service."""

from typing import ClassVar, Literal
from uuid import UUID

from ants_events.base import IntegrationEvent

Role = Literal["citizen", "cert_agent", "auditor", "operator"]


class AccountRegisteredV1(IntegrationEvent):
    """An account was created. Carries no password material, ever."""

    producer: ClassVar[str] = "identity"
    type_name: ClassVar[str] = "AccountRegistered"

    account_id: UUID
    email: str
    given_name: str
    family_name: str
    roles: tuple[Role, ...]

    @property
    def subject(self) -> str:
        return str(self.account_id)
