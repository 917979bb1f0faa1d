"""Failed logins slowed, then refused for a while; per account and per client address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from identity_service.adapters.mail import AccountMails, MemoryOutbox
from identity_service.application import IdentityApplication
from identity_service.domain.model import WrongCredentials
from identity_service.domain.throttle import ThrottlePolicy, TooManyAttempts

PASSWORD = "un-secret-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def make_identity(clock: Clock) -> Callable[..., IdentityApplication]:
    def make(env: dict[str, str] | None = None, **kwargs: object) -> IdentityApplication:
        return IdentityApplication(
            env=env or {"PERSISTENCE_MODULE": "eventsourcing.popo"},
            mails=AccountMails(MemoryOutbox()), clock=clock, **kwargs,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture()
def identity(make_identity: Callable[..., IdentityApplication]) -> IdentityApplication:
    app = make_identity()
    app.register("marie@example.fr", PASSWORD, "Marie", "MARTIN")
    return app


def attempt(identity: IdentityApplication, password: str, email: str = "marie@example.fr",
            client: str | None = None) -> str:
    """What the person sees: logged in, wrong credentials, or how long to wait."""
    try:
        identity.authenticate(email, password, client)
    except WrongCredentials:
        return "wrong"
    except TooManyAttempts as refused:
        return f"wait {refused.retry_after_seconds}"
    return "in"


def test_wrong_passwords_are_slowed_then_refused_for_a_while(
    identity: IdentityApplication, clock: Clock
) -> None:
    assert [attempt(identity, "mauvais") for _ in range(3)] == ["wrong"] * 3
    assert attempt(identity, "mauvais") == "wait 2"  # slowed: the 4th waits 2 s
    clock.advance(seconds=2)
    assert attempt(identity, "mauvais") == "wrong"
    assert attempt(identity, PASSWORD) == "wait 4"  # then twice as long
    clock.advance(seconds=4)
    assert attempt(identity, "mauvais") == "wrong"  # the 5th failure within 15 minutes
    # Refused, even with the right password, until the first failure is 15 minutes old.
    assert attempt(identity, PASSWORD) == f"wait {15 * 60 - 6}"
    clock.advance(minutes=14)
    assert attempt(identity, PASSWORD) == f"wait {60 - 6}"
    clock.advance(minutes=1)
    assert attempt(identity, PASSWORD) == "in"


def test_a_refusal_says_when_to_come_back_in_french(identity: IdentityApplication) -> None:
    for _ in range(3):
        attempt(identity, "mauvais")
    with pytest.raises(TooManyAttempts) as refused:
        identity.authenticate("marie@example.fr", "mauvais")
    assert str(refused.value) == (
        "Trop de tentatives de connexion infructueuses. Réessayez dans 2 secondes."
    )
    assert str(TooManyAttempts(timedelta(minutes=14, seconds=1))).endswith("dans 15 minutes.")


def test_an_unknown_address_is_slowed_and_refused_exactly_like_a_known_one(
    identity: IdentityApplication, clock: Clock
) -> None:
    def journey(email: str) -> list[str]:
        seen = [attempt(identity, "mauvais", email) for _ in range(4)]
        clock.advance(seconds=2)
        seen += [attempt(identity, "mauvais", email) for _ in range(2)]
        clock.advance(seconds=4)
        seen += [attempt(identity, "mauvais", email) for _ in range(2)]
        clock.advance(minutes=15)
        return seen

    assert journey("marie@example.fr") == journey("personne@example.fr")


def test_a_successful_login_clears_the_count(identity: IdentityApplication, clock: Clock) -> None:
    assert [attempt(identity, "mauvais") for _ in range(3)] == ["wrong"] * 3
    clock.advance(seconds=2)
    assert attempt(identity, PASSWORD) == "in"
    assert [attempt(identity, "mauvais") for _ in range(3)] == ["wrong"] * 3


def test_one_client_address_trying_many_accounts_is_refused(
    make_identity: Callable[..., IdentityApplication],
) -> None:
    identity = make_identity(address_policy=ThrottlePolicy(limit=4, free=4))
    guesses = [attempt(identity, "mauvais", f"n{i}@example.fr", "203.0.113.7") for i in range(5)]
    assert guesses == ["wrong"] * 4 + [guesses[-1]]
    assert guesses[-1].startswith("wait ")
    assert attempt(identity, "mauvais", "autre@example.fr", "198.51.100.2") == "wrong"
    assert attempt(identity, "mauvais", "autre2@example.fr") == "wrong"  # no address: not counted


def test_logging_into_ones_own_account_does_not_clear_the_client_addresss_count(
    make_identity: Callable[..., IdentityApplication],
) -> None:
    identity = make_identity(address_policy=ThrottlePolicy(limit=3, free=3))
    identity.register("moi@example.fr", PASSWORD, "Moi", "MEME")
    for i in range(2):
        attempt(identity, "mauvais", f"victime{i}@example.fr", "203.0.113.7")
    assert attempt(identity, PASSWORD, "moi@example.fr", "203.0.113.7") == "in"
    assert attempt(identity, "mauvais", "victime9@example.fr", "203.0.113.7") == "wrong"
    assert attempt(identity, "mauvais", "victime10@example.fr", "203.0.113.7").startswith("wait ")


def test_the_count_is_kept_in_the_store_across_restarts_and_replicas(
    make_identity: Callable[..., IdentityApplication], tmp_path: Path
) -> None:
    sqlite = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
              "SQLITE_DBNAME": str(tmp_path / "events.sqlite")}
    first, second = make_identity(sqlite), make_identity(sqlite)
    first.register("marie@example.fr", PASSWORD, "Marie", "MARTIN")
    assert attempt(first, "mauvais") == attempt(second, "mauvais") == "wrong"
    assert attempt(first, "mauvais") == "wrong"
    assert attempt(second, PASSWORD).startswith("wait ")  # the other replica saw all three
    first.close()
    second.close()
    assert attempt(make_identity(sqlite), PASSWORD).startswith("wait ")  # and a restart


def test_the_policy_counts_only_the_failures_of_its_window() -> None:
    policy = ThrottlePolicy(limit=5, free=3, window=timedelta(minutes=15))
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    old = [now - timedelta(minutes=16)] * 10
    assert policy.wait(old, now) == timedelta(0)
    recent = [now - timedelta(minutes=m) for m in (10, 9, 8, 7, 6)]
    assert policy.wait(old + recent, now) == timedelta(minutes=5)
