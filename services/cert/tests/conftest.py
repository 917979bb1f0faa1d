"""Fixtures of the CERT tests: a real broker and service process, tokens, Kafka helpers."""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest

from ants_events import IntegrationEvent, topics
from ants_stack.testing import (
    POSTGRES_UNREACHABLE,
    Broker,
    ServiceProcess,
    Tokens,
    bearer,
    eventually,
    postgres_connect,
    postgres_database,
    postgres_reachable,
    publish,
    service_env,
    topic_reader,
)

# --- tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    return Tokens.create(tmp_path_factory.mktemp("cert-keys"))


@pytest.fixture(scope="session")
def token_for(tokens: Tokens) -> Callable[..., str]:
    def token_for(*roles: str, account_id: UUID | None = None, name: str = "Dominique Test") -> str:
        given, family = name.split(" ", 1)
        return tokens.mint(
            *roles, account_id=account_id, given_name=given, family_name=family,
            email=f"{uuid.uuid4().hex[:8]}@example.test",
        )

    return token_for


# --- the service, its broker and store ---------------------------------------------------


@dataclass
class CertStack:
    base_url: str
    bootstrap: str
    store: str
    sequences: Iterator[int]

    eventually = staticmethod(eventually)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=bearer(token), timeout=20)

    async def publish(self, *events: IntegrationEvent, sequence: int | None = None) -> None:
        """Publish as the producer's relay does: CloudEvents record, key = dossier id."""
        for event in events:
            await publish(self.bootstrap, event, sequence or next(self.sequences))

    async def cert_records(
        self, dossier_id: UUID, expect: int, settle: float = 1.5, timeout: float = 20.0
    ) -> list[Any]:
        """The records ants.cert.v1 holds for a dossier, once `expect` arrived and a quiet
        moment passed (so that an extra, unwanted record would be seen too)."""
        async with topic_reader(self.bootstrap, topics.CERT) as (consumer, partition):
            found: list[Any] = []
            deadline = time.monotonic() + timeout
            quiet_until: float | None = None
            while True:
                batch = await consumer.getmany(partition, timeout_ms=300)
                found += [r for r in batch.get(partition, []) if r.key == str(dossier_id).encode()]
                now = time.monotonic()
                if len(found) >= expect and quiet_until is None:
                    quiet_until = now + settle
                if (quiet_until and now > quiet_until) or now > deadline:
                    return found


@pytest.fixture(scope="session")
def sequences() -> Iterator[int]:
    """Producers' notification ids only grow; consumers track the highest one processed."""
    return itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cert_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    tokens: Tokens, sequences: Iterator[int],
) -> Iterator[CertStack]:
    store = request.param
    env = {"LOG_FORMAT": "console", "LOG_LEVEL": "INFO"}
    with contextlib.ExitStack() as stack:
        if store == "postgres":
            if not postgres_reachable():
                pytest.skip(POSTGRES_UNREACHABLE)
            database = stack.enter_context(postgres_database("cert_test"))
            # The application-name prefix wins over the defaults the settings pass in code.
            env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": database,
                    "CERT_POSTGRES_DBNAME": database}
        else:
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
        folder = tmp_path_factory.mktemp(f"cert-{store}")
        broker = stack.enter_context(Broker(folder / "broker.log"))
        service = stack.enter_context(ServiceProcess(
            "cert_service", service_env(broker.bootstrap, folder / "data", tokens.public_key, env),
            folder / "cert.log",
        ))
        if store == "postgres":  # the service really stores in this run's database
            with postgres_connect(database) as connection:
                connection.execute("SELECT 1 FROM cert_events LIMIT 1")
        yield CertStack(service.url, broker.bootstrap, store, sequences)
