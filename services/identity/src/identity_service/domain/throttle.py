"""Failed logins remembered per e-mail address and per client address: guessing is slowed, then refused."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from identity_service.domain.model import IdentityError

# More failures than any policy counts; older ones are forgotten so the state stays small.
REMEMBERED_FAILURES = 100


class TooManyAttempts(IdentityError):
    def __init__(self, wait: timedelta) -> None:
        self.retry_after_seconds = max(1, math.ceil(wait.total_seconds()))
        super().__init__(
            "Trop de tentatives de connexion infructueuses. "
            f"Réessayez dans {in_words(self.retry_after_seconds)}."
        )


class TooManyRegistrations(TooManyAttempts):
    def __init__(self, wait: timedelta) -> None:
        super().__init__(wait)
        self.args = (
            "Trop de demandes de création de compte depuis votre connexion. "
            f"Réessayez dans {in_words(self.retry_after_seconds)}.",
        )


def in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


@dataclass(frozen=True)
class ThrottlePolicy:
    """`free` failures within `window` cost nothing; each further attempt waits after the
    last failure, twice as long every time from `first_delay`; with `limit` failures in the
    window, attempts are refused until the oldest of them leaves it."""

    limit: int = 5
    free: int = 3
    window: timedelta = timedelta(minutes=15)
    first_delay: timedelta = timedelta(seconds=2)

    def wait(self, failures: Sequence[datetime], now: datetime) -> timedelta:
        recent = [at for at in failures if now - at < self.window]
        if len(recent) >= self.limit:
            return recent[-self.limit] + self.window - now
        if len(recent) >= self.free:
            delay = self.first_delay * 2 ** (len(recent) - self.free)
            return max(recent[-1] + delay - now, timedelta(0))
        return timedelta(0)


# A client address may be shared (an office, a mobile operator's gateway): it gets more room
# than an account.
ACCOUNT_POLICY = ThrottlePolicy(limit=5, free=3)
ADDRESS_POLICY = ThrottlePolicy(limit=50, free=20)
# Registrations per client address (each one counts, whatever its outcome).
REGISTRATION_POLICY = ThrottlePolicy(limit=10, free=5, window=timedelta(hours=1))


class LoginThrottle(Aggregate):
    """The recent failed logins of one e-mail address (known or not) or one client address.

    Its id derives from what it counts; neither the address nor the e-mail is stored in it.
    """

    TOPIC = "identity:LoginThrottle"

    class Event(Aggregate.Event):
        TOPIC = "identity:LoginThrottle.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "identity:LoginThrottle.Created"

    @staticmethod
    def id_for(kind: str, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"ants:identity:login-throttle:{kind}:{key}")

    @event("Opened", topic="identity:LoginThrottle.Opened")
    def __init__(self, id: UUID) -> None:  # noqa: A002 - the library's name for a given id
        self.failures: list[datetime] = []

    def check(
        self, policy: ThrottlePolicy, now: datetime,
        refusal: type[TooManyAttempts] = TooManyAttempts,
    ) -> None:
        wait = policy.wait(self.failures, now)
        if wait > timedelta(0):
            raise refusal(wait)

    @event("Failed", topic="identity:LoginThrottle.Failed")
    def record_failure(self, at: datetime) -> None:
        self.failures = [*self.failures[-(REMEMBERED_FAILURES - 1):], at]

    def clear(self) -> bool:
        """After a successful login. False when there was nothing to forget."""
        if not self.failures:
            return False
        self._cleared()
        return True

    @event("Cleared", topic="identity:LoginThrottle.Cleared")
    def _cleared(self) -> None:
        self.failures = []
