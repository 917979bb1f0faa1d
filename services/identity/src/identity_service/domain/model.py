"""Accounts and the e-mail index that keeps addresses unique."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ROLES = ("citizen", "cert_agent", "auditor", "operator")
MIN_PASSWORD_LENGTH = 8
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentityError(Exception):
    """A refusal with a message a person understands (French)."""


class InvalidAccount(IdentityError):
    pass


class SignInRefused(IdentityError):
    """A sign-in through the identity provider that cannot be completed (401)."""


class IdentityAlreadyLinked(IdentityError):
    """One person, one account (409)."""

    def __init__(self) -> None:
        super().__init__(
            "Cette identité FranceConnect est déjà liée à un autre compte, ou ce compte à une "
            "autre identité. Connectez-vous avec « S'identifier avec FranceConnect »."
        )


class WrongCredentials(IdentityError):
    def __init__(self) -> None:
        super().__init__("Adresse e-mail ou mot de passe incorrect.")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_account(email: str, password: str, given_name: str, family_name: str) -> None:
    if not EMAIL.match(email):
        raise InvalidAccount("L'adresse e-mail n'est pas valide.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount("Le mot de passe doit contenir au moins 8 caractères.")
    if not given_name.strip() or not family_name.strip():
        raise InvalidAccount("Le prénom et le nom sont obligatoires.")


class Account(Aggregate):
    """A person who can log in. Event topics are explicit: renaming this module cannot break replay."""

    TOPIC = "identity:Account"

    class Event(Aggregate.Event):
        TOPIC = "identity:Account.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "identity:Account.Created"

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Registered: ClassVar[type[Any]]

    @event("Registered", topic="identity:Account.Registered")
    def __init__(
        self, email: str, password_hash: str, given_name: str, family_name: str, roles: list[str]
    ) -> None:
        self.email = email
        self.password_hash = password_hash
        self.given_name = given_name
        self.family_name = family_name
        self.roles = roles
        self.verified_identity: dict[str, str] | None = None

    @event("IdentityVerified", topic="identity:Account.IdentityVerified")
    def record_verified_identity(self, issuer: str, subject: str, claims: dict[str, str]) -> None:
        """What the identity provider vouched for (given names, family name, birth date and
        place); replaced when the provider says something else at a later sign-in."""
        self.verified_identity = {"issuer": issuer, "subject": subject, **claims}

    def verify_identity(self, issuer: str, subject: str, claims: dict[str, str]) -> bool:
        """False when the same claims were already recorded."""
        if self.verified_identity == {"issuer": issuer, "subject": subject, **claims}:
            return False
        self.record_verified_identity(issuer, subject, claims)
        return True


class EmailIndex(Aggregate):
    """One per e-mail address; its id derives from the address, so a second one conflicts."""

    TOPIC = "identity:EmailIndex"

    class Event(Aggregate.Event):
        TOPIC = "identity:EmailIndex.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "identity:EmailIndex.Created"

    @staticmethod
    def create_id(email: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:identity:email:{email}")

    @event("Indexed", topic="identity:EmailIndex.Indexed")
    def __init__(self, email: str, account_id: UUID) -> None:
        self.account_id = account_id


class SubjectIndex(Aggregate):
    """One per person an identity provider knows (issuer and subject): their account."""

    TOPIC = "identity:SubjectIndex"

    class Event(Aggregate.Event):
        TOPIC = "identity:SubjectIndex.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "identity:SubjectIndex.Created"

    @staticmethod
    def create_id(issuer: str, subject: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:identity:subject:{issuer}#{subject}")

    @event("Indexed", topic="identity:SubjectIndex.Indexed")
    def __init__(self, issuer: str, subject: str, account_id: UUID) -> None:
        self.account_id = account_id


class SignIn(Aggregate):
    """One sign-in through the identity provider, from the redirection to the return: what
    binds the answer to the request (`state`, `nonce`, the PKCE verifier). Used once."""

    TOPIC = "identity:SignIn"

    class Event(Aggregate.Event):
        TOPIC = "identity:SignIn.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "identity:SignIn.Created"

    @staticmethod
    def create_id(state: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:identity:sign-in:{state}")

    @event("Started", topic="identity:SignIn.Started")
    def __init__(self, state: str, nonce: str, code_verifier: str, redirect_uri: str) -> None:
        self.nonce = nonce
        self.code_verifier = code_verifier
        self.redirect_uri = redirect_uri
        self.used = False

    @event("Used", topic="identity:SignIn.Used")
    def _use(self) -> None:
        self.used = True

    def use(self, now: datetime, lifetime: timedelta) -> None:
        if self.used or now - self.created_on > lifetime:
            raise SignInRefused(SIGN_IN_EXPIRED)
        self._use()


SIGN_IN_EXPIRED = (
    "Cette connexion avec FranceConnect a expiré ou a déjà servi : "
    "cliquez de nouveau sur « S'identifier avec FranceConnect »."
)
