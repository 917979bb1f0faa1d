"""The identity service process over HTTP: registration and login give nothing away, and
guessing passwords is refused for a while, per account and per client address."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ants_events import topics
from ants_events.identity import AccountRegisteredV2
from ants_stack.testing import (
    POSTGRES_UNREACHABLE,
    postgres_database,
    postgres_reachable,
    read_topic,
)

PASSWORD = "un-secret-1"
WRONG = "Adresse e-mail ou mot de passe incorrect."
TOO_MANY = "Trop de tentatives de connexion infructueuses. Réessayez dans "
# Refused at the 5th failure at once (no slowing down first), per account; per client
# address at the 3rd.
STRICT = {
    "IDENTITY_LOGIN_LIMIT": "5", "IDENTITY_LOGIN_FREE": "5",
    "IDENTITY_LOGIN_ADDRESS_LIMIT": "3", "IDENTITY_LOGIN_ADDRESS_FREE": "3",
}


def account(email: str, password: str = PASSWORD, given_name: str = "Marie") -> dict[str, Any]:
    return {"email": email, "password": password, "given_name": given_name,
            "family_name": "MARTIN"}


def credentials(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"email": email, "password": password}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def strict_service(start_identity, tmp_path_factory):  # type: ignore[no-untyped-def]
    return start_identity(tmp_path_factory.mktemp("identity-strict"), STRICT)


async def test_registration_answers_the_same_whether_or_not_the_address_has_an_account(
    identity_service, new_address
) -> None:
    email = new_address()
    async with identity_service.http() as http:
        first = await http.post("/accounts", json=account(email))
        again = await http.post("/accounts", json=account(email.upper(), "autre-secret", "Intrus"))
        assert (first.status_code, first.json()) == (again.status_code, again.json())
        assert first.status_code == 202
        assert first.json()["message"].startswith("Votre demande de création de compte est enregistrée")

        # The owner learns by mail what happened; the account is the first one, unchanged.
        mails = identity_service.mails_to(email)
        assert [m["Subject"] for m in mails] == [
            "Votre compte a été créé", "Demande de création de compte"
        ]
        assert "a déjà un compte" in mails[1].get_content()
        assert (await http.post("/sessions", json=credentials(email))).status_code == 200
        intruder = await http.post("/sessions", json=credentials(email, "autre-secret"))
        assert (intruder.status_code, intruder.json()["message"]) == (401, WRONG)


async def test_an_unknown_address_and_a_wrong_password_get_the_same_refusal(
    identity_service, new_address
) -> None:
    email = new_address()
    async with identity_service.http() as http:
        await http.post("/accounts", json=account(email))
        wrong = await http.post("/sessions", json=credentials(email, "mauvais-secret"))
        unknown = await http.post("/sessions", json=credentials(new_address()))
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.json()["message"] == WRONG


async def test_thirty_wrong_passwords_on_one_account_end_in_429(
    identity_service, new_address
) -> None:
    email = new_address()
    async with identity_service.http() as http:
        await http.post("/accounts", json=account(email))
        answers = [
            await http.post("/sessions", json=credentials(email, f"essai-{i}")) for i in range(30)
        ]
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {401, 429}
    assert statuses[:3] == [401, 401, 401]
    assert statuses.count(401) <= 5  # slowed after 3 failures, refused after 5
    last = answers[-1]
    assert last.status_code == 429
    assert last.json()["message"].startswith(TOO_MANY)
    assert int(last.headers["Retry-After"]) >= 1


async def test_an_account_stays_refused_after_a_restart_and_even_the_right_password_waits(
    strict_service, new_address
) -> None:
    email = new_address()
    async with strict_service.http() as http:
        await http.post("/accounts", json=account(email))
        for i in range(5):
            assert (await http.post("/sessions", json=credentials(email, f"essai-{i}"))).status_code == 401
        refused = await http.post("/sessions", json=credentials(email))
    assert refused.status_code == 429
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert refused.json()["message"] == TOO_MANY + "15 minutes."

    strict_service.restart()
    async with strict_service.http() as http:
        assert (await http.post("/sessions", json=credentials(email))).status_code == 429
        # Another account is not concerned.
        other = new_address()
        await http.post("/accounts", json=account(other))
        assert (await http.post("/sessions", json=credentials(other))).status_code == 200


async def test_one_client_address_creating_account_after_account_is_refused(
    identity_service, new_address
) -> None:
    """Each registration sends a mail: one client cannot make the service mail anyone at
    will. Beyond the first few in an hour they are slowed, then refused."""
    client = {"X-Forwarded-For": "203.0.113.42"}  # named by a trusted proxy (127.0.0.1)
    async with identity_service.http() as http:
        answers = [
            await http.post("/accounts", json=account(new_address()), headers=client)
            for _ in range(8)
        ]
        others = await http.post(
            "/accounts", json=account(new_address()), headers={"X-Forwarded-For": "198.51.100.9"}
        )
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [202] * 5
    assert statuses[-1] == 429
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert "Trop de demandes de création de compte" in answers[-1].json()["message"]
    assert others.status_code == 202


async def test_one_client_address_guessing_many_accounts_is_refused(
    strict_service, new_address
) -> None:
    guesser = {"X-Forwarded-For": "203.0.113.7"}  # named by a trusted proxy (127.0.0.1)
    async with strict_service.http() as http:
        for _ in range(3):
            answer = await http.post("/sessions", json=credentials(new_address()), headers=guesser)
            assert answer.status_code == 401
        refused = await http.post("/sessions", json=credentials(new_address()), headers=guesser)
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        # Someone else, and a trusted proxy that names no client (the portal), go on.
        elsewhere = {"X-Forwarded-For": "198.51.100.2"}
        assert (await http.post("/sessions", json=credentials(new_address()), headers=elsewhere)).status_code == 401
        assert (await http.post("/sessions", json=credentials(new_address()))).status_code == 401


async def test_the_store_and_the_mails_are_readable_by_the_service_user_only(
    identity_service, new_address
) -> None:
    async with identity_service.http() as http:
        await http.post("/accounts", json=account(new_address()))
    folder = identity_service.store_dir
    assert mode(folder) == 0o700
    assert mode(folder / "events.sqlite") == 0o600
    for journal in folder.glob("events.sqlite-*"):
        assert mode(journal) == 0o600, journal.name
    assert mode(folder / "mail") == 0o700
    assert {mode(m) for m in (folder / "mail").glob("*.eml")} == {0o600}


async def test_account_registered_is_published_without_the_e_mail(
    identity_service, broker, new_address
) -> None:
    email = new_address()
    async with identity_service.http() as http:
        await http.post("/accounts", json=account(email))
        token = (await http.post("/sessions", json=credentials(email))).json()["access_token"]
        me = (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
    # A write answers once its events are on the broker.
    records = [r for r in await read_topic(broker, topics.IDENTITY)
               if r.key == me["account_id"].encode()]
    assert len(records) == 1
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["ce_type"] == AccountRegisteredV2.ce_type()
    assert email.encode() not in records[0].value
    assert json.loads(records[0].value)["given_name"] == "Marie"


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    if not postgres_reachable():
        pytest.skip(POSTGRES_UNREACHABLE)
    with postgres_database("ants_identity_test") as name:
        yield {**STRICT, "IDENTITY_LOGIN_LIMIT": "3", "IDENTITY_LOGIN_FREE": "3",
               "PERSISTENCE_MODULE": "eventsourcing.postgres", "IDENTITY_POSTGRES_DBNAME": name}


async def test_replicas_on_postgresql_count_the_same_failures(
    start_identity: Callable[..., Any], tmp_path, postgres_env, new_address
) -> None:
    first = start_identity(tmp_path / "first", postgres_env)
    second = start_identity(tmp_path / "second", postgres_env)
    email = new_address()
    async with first.http() as one, second.http() as two:
        await one.post("/accounts", json=account(email))
        for http in (one, two, one):
            assert (await http.post("/sessions", json=credentials(email, "mauvais"))).status_code == 401
        assert (await two.post("/sessions", json=credentials(email))).status_code == 429
    first.stop()
    second.stop()
