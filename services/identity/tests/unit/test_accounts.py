"""Accounts and tokens, in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ants_runtime.auth import InvalidToken, Principal, TokenIssuer, TokenVerifier, ensure_keypair
from identity_service.application import IdentityApplication
from identity_service.domain.model import EmailAlreadyRegistered, InvalidAccount, WrongCredentials
from identity_service.integration.outbound import to_contract


@pytest.fixture()
def identity() -> IdentityApplication:
    return IdentityApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_citizen_registers_and_logs_in(identity: IdentityApplication) -> None:
    account_id = identity.register("Marie.Martin@Example.fr", "un-secret-1", "Marie", "MARTIN")
    account = identity.authenticate("marie.martin@example.fr", "un-secret-1")
    assert account.id == account_id
    assert account.roles == ["citizen"]


def test_an_address_is_registered_once(identity: IdentityApplication) -> None:
    identity.register("a@example.fr", "un-secret-1", "A", "B")
    with pytest.raises(EmailAlreadyRegistered):
        identity.register("A@example.fr ", "autre-secret", "C", "D")


@pytest.mark.parametrize(
    ("email", "password", "given", "family"),
    [("pas-une-adresse", "un-secret-1", "A", "B"), ("a@b.fr", "court", "A", "B"), ("a@b.fr", "un-secret-1", " ", "B")],
)
def test_invalid_accounts_are_refused(identity: IdentityApplication, email: str, password: str, given: str, family: str) -> None:
    with pytest.raises(InvalidAccount):
        identity.register(email, password, given, family)


def test_a_wrong_password_or_unknown_address_gives_the_same_answer(identity: IdentityApplication) -> None:
    identity.register("a@example.fr", "un-secret-1", "A", "B")
    with pytest.raises(WrongCredentials) as wrong:
        identity.authenticate("a@example.fr", "mauvais")
    with pytest.raises(WrongCredentials) as unknown:
        identity.authenticate("inconnu@example.fr", "un-secret-1")
    assert str(wrong.value) == str(unknown.value)


def test_the_password_is_never_stored_nor_published(identity: IdentityApplication) -> None:
    account_id = identity.register("a@example.fr", "un-secret-1", "A", "B")
    stored = [json.dumps(e.__dict__, default=str) for e in identity.events.get(account_id)]
    assert not any("un-secret-1" in s for s in stored)
    contract = to_contract(next(iter(identity.events.get(account_id))))
    assert contract is not None and "password" not in contract.model_dump_json()


def test_demo_seed_is_idempotent(identity: IdentityApplication) -> None:
    seed = json.loads((Path(__file__).parents[2] / "src/identity_service/demo_accounts.json").read_text())
    assert identity.seed(seed) == 5
    assert identity.seed(seed) == 0
    assert identity.authenticate("agent.cert@example.fr", "demo-2026").roles == ["cert_agent"]


def test_tokens_are_verified_with_the_public_key_alone(tmp_path: Path) -> None:
    ensure_keypair(tmp_path / "k", tmp_path / "k.pub")
    issuer = TokenIssuer((tmp_path / "k").read_bytes())
    from uuid import uuid4

    principal = Principal(uuid4(), "a@b.fr", "A", "B", frozenset({"citizen"}))
    token = issuer.issue(principal)
    assert TokenVerifier.from_file(tmp_path / "k.pub").verify(token) == principal
    with pytest.raises(InvalidToken):
        TokenVerifier.from_file(tmp_path / "k.pub").verify(token[:-4] + "AAAA")
    ensure_keypair(tmp_path / "other", tmp_path / "other.pub")
    with pytest.raises(InvalidToken):
        TokenVerifier.from_file(tmp_path / "other.pub").verify(token)
