"""Accounts and the e-mail index that keeps addresses unique."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ROLES = ("citizen", "cert_agent", "auditor", "operator")
MIN_PASSWORD_LENGTH = 8
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentityError(Exception):
    """A refusal with a message a person understands (French)."""


class InvalidAccount(IdentityError):
    pass


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

    @event("Registered", topic="identity:Account.Registered")
    def __init__(
        self, email: str, password_hash: str, given_name: str, family_name: str, roles: list[str]
    ) -> None:
        self.email = email
        self.password_hash = password_hash
        self.given_name = given_name
        self.family_name = family_name
        self.roles = roles


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
