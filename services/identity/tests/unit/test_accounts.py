"""Accounts and tokens, in memory."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from ants_events.identity import AccountRegisteredV2
from ants_runtime.auth import InvalidToken, Principal, TokenIssuer, TokenVerifier, ensure_keypair
from identity_service.adapters.mail import AccountMails, MemoryOutbox
from identity_service.application import IdentityApplication
from identity_service.domain.model import InvalidAccount, WrongCredentials
from identity_service.domain.passwords import Passwords
from identity_service.integration.outbound import to_contract

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class CountingPasswords(Passwords):
    """The real scrypt hashing, counting every derivation."""

    def __init__(self) -> None:
        super().__init__()
        self.derivations = 0

    def derive(self, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        self.derivations += 1
        return super().derive(password, salt, n, r, p)


@pytest.fixture()
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture()
def passwords() -> CountingPasswords:
    return CountingPasswords()


@pytest.fixture()
def identity(outbox: MemoryOutbox, passwords: CountingPasswords) -> IdentityApplication:
    return IdentityApplication(env=MEMORY, passwords=passwords, mails=AccountMails(outbox))


def mails_to(outbox: MemoryOutbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in outbox.messages if m["To"] == address]


def test_a_citizen_registers_and_logs_in(identity: IdentityApplication) -> None:
    identity.register("Marie.Martin@Example.fr", "un-secret-1", "Marie", "MARTIN")
    account = identity.authenticate("marie.martin@example.fr", "un-secret-1")
    assert account.email == "marie.martin@example.fr"
    assert (account.given_name, account.family_name) == ("Marie", "MARTIN")
    assert account.roles == ["citizen"]


def test_registering_a_taken_address_changes_nothing_and_tells_its_owner_by_mail(
    identity: IdentityApplication, outbox: MemoryOutbox
) -> None:
    identity.register("a@example.fr", "un-secret-1", "Anne", "BLANC")
    identity.register("A@example.fr ", "autre-secret", "Intrus", "NOIR")  # refused silently

    assert identity.authenticate("a@example.fr", "un-secret-1").given_name == "Anne"
    with pytest.raises(WrongCredentials):
        identity.authenticate("a@example.fr", "autre-secret")
    assert mails_to(outbox, "a@example.fr") == [
        "Votre compte a été créé", "Demande de création de compte"
    ]
    assert "Bonjour Anne" in outbox.messages[0].get_content()
    assert "a déjà un compte" in outbox.messages[1].get_content()


def test_registration_takes_the_same_work_whether_or_not_the_address_is_taken(
    identity: IdentityApplication, passwords: CountingPasswords, outbox: MemoryOutbox
) -> None:
    identity.register("libre@example.fr", "un-secret-1", "A", "B")
    free = passwords.derivations
    identity.register("libre@example.fr", "un-secret-1", "A", "B")
    assert passwords.derivations - free == free == 1
    assert len(outbox.messages) == 2  # one mail each time


def test_a_login_takes_the_same_password_work_whether_or_not_the_account_exists(
    identity: IdentityApplication, passwords: CountingPasswords
) -> None:
    identity.register("a@example.fr", "un-secret-1", "A", "B")
    before = passwords.derivations
    with pytest.raises(WrongCredentials) as wrong:
        identity.authenticate("a@example.fr", "mauvais-secret")
    known = passwords.derivations - before
    with pytest.raises(WrongCredentials) as unknown:
        identity.authenticate("inconnu@example.fr", "un-secret-1")
    assert passwords.derivations - before - known == known == 1
    assert str(wrong.value) == str(unknown.value) == "Adresse e-mail ou mot de passe incorrect."


def test_a_password_never_matches_an_address_without_account(passwords: Passwords) -> None:
    assert passwords.verify("", None) is False
    assert passwords.verify("un-secret-1", passwords.hash("un-secret-1")) is True


@pytest.mark.parametrize(
    ("email", "password", "given", "family"),
    [("pas-une-adresse", "un-secret-1", "A", "B"), ("a@b.fr", "court", "A", "B"), ("a@b.fr", "un-secret-1", " ", "B")],
)
def test_invalid_accounts_are_refused(identity: IdentityApplication, email: str, password: str, given: str, family: str) -> None:
    with pytest.raises(InvalidAccount):
        identity.register(email, password, given, family)


def test_the_password_is_never_stored_nor_published_and_the_e_mail_is_not_published(
    identity: IdentityApplication,
) -> None:
    identity.register("a@example.fr", "un-secret-1", "Anne", "BLANC")
    account = identity.find_by_email("a@example.fr")
    assert account is not None
    stored = [json.dumps(e.__dict__, default=str) for e in identity.events.get(account.id)]
    assert not any("un-secret-1" in s for s in stored)
    contract = to_contract(next(iter(identity.events.get(account.id))))
    assert isinstance(contract, AccountRegisteredV2)
    published = contract.model_dump_json()
    assert "password" not in published and "a@example.fr" not in published
    assert (contract.account_id, contract.given_name, contract.roles) == (account.id, "Anne", ("citizen",))


def test_demo_seed_is_idempotent_and_sends_no_mail(
    identity: IdentityApplication, outbox: MemoryOutbox
) -> None:
    seed = json.loads((Path(__file__).parents[2] / "src/identity_service/demo_accounts.json").read_text())
    assert identity.seed(seed) == len(seed) == 7
    assert identity.seed(seed) == 0
    assert identity.authenticate("agent.cert@example.fr", "demo-2026").roles == ["cert_agent"]
    assert outbox.messages == []


def test_tokens_are_verified_with_the_public_key_alone(tmp_path: Path) -> None:
    ensure_keypair(tmp_path / "k", tmp_path / "k.pub")
    issuer = TokenIssuer((tmp_path / "k").read_bytes())
    principal = Principal(uuid4(), "a@b.fr", "A", "B", frozenset({"citizen"}))
    token = issuer.issue(principal)
    assert TokenVerifier.from_file(tmp_path / "k.pub").verify(token) == principal
    with pytest.raises(InvalidToken):
        TokenVerifier.from_file(tmp_path / "k.pub").verify(token[:-4] + "AAAA")
    ensure_keypair(tmp_path / "other", tmp_path / "other.pub")
    with pytest.raises(InvalidToken):
        TokenVerifier.from_file(tmp_path / "other.pub").verify(token)
