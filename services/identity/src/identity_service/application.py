"""Identity use cases: register, authenticate, seed staff accounts."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ants_runtime.store import ServiceApplication
from identity_service.domain.model import (
    Account,
    EmailAlreadyRegistered,
    EmailIndex,
    WrongCredentials,
    check_account,
    normalise_email,
)
from identity_service.domain.passwords import hash_password, verify_password


class IdentityApplication(ServiceApplication):
    name = "identity"

    def register(
        self, email: str, password: str, given_name: str, family_name: str,
        roles: tuple[str, ...] = ("citizen",),
    ) -> UUID:
        email = normalise_email(email)
        check_account(email, password, given_name, family_name)
        if self.find_by_email(email) is not None:
            raise EmailAlreadyRegistered
        account = Account(
            email, hash_password(password), given_name.strip(), family_name.strip(), list(roles)
        )
        try:
            self.save(account, EmailIndex(email=email, account_id=account.id))
        except IntegrityError:  # registered concurrently with the same address
            raise EmailAlreadyRegistered from None
        return account.id

    def find_by_email(self, email: str) -> Account | None:
        email = normalise_email(email)
        try:
            index = self.repository.get(EmailIndex.create_id(email))
        except AggregateNotFoundError:
            return None
        return self.repository.get(index.account_id)

    def authenticate(self, email: str, password: str) -> Account:
        account = self.find_by_email(email)
        if account is None or not verify_password(password, account.password_hash):
            raise WrongCredentials
        return account

    def get_account(self, account_id: UUID) -> Account:
        return self.repository.get(account_id)

    def seed(self, accounts: list[dict[str, object]]) -> int:
        """Create the listed accounts that do not exist yet (demo data, first staff accounts)."""
        created = 0
        for spec in accounts:
            if self.find_by_email(str(spec["email"])) is None:
                self.register(
                    str(spec["email"]), str(spec["password"]), str(spec["given_name"]),
                    str(spec["family_name"]), tuple(spec.get("roles", ["citizen"])),  # type: ignore[arg-type]
                )
                created += 1
        return created
