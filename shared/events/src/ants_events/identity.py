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


class AccountRegisteredV2(IntegrationEvent):
    """An account was created. Carries neither the e-mail address nor password material.

    Other agencies read this topic: the account id is the only link to the person's
    address, which the identity service alone keeps.
    """

    producer: ClassVar[str] = "identity"
    type_name: ClassVar[str] = "AccountRegistered"
    version: ClassVar[int] = 2

    account_id: UUID
    given_name: str
    family_name: str
    roles: tuple[Role, ...]
    # Added later, optional: the e-mail address sealed for the notifications service alone
    # (X25519 + AES-GCM, see ants_runtime.sealed); absent when no such service is set up.
    # Other readers see an opaque string.
    contact: str | None = None

    @property
    def subject(self) -> str:
        return str(self.account_id)
