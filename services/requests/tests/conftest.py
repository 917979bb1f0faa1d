"""Fixtures of the requests service tests: the real service process on SQLite or PostgreSQL,
its broker, and tokens as the identity service would issue them."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ants_stack.testing import (
    POSTGRES_UNREACHABLE,
    Broker,
    ServiceProcess,
    Tokens,
    bearer,
    postgres_connect,
    postgres_database,
    postgres_reachable,
    service_env,
)


@pytest.fixture(scope="session")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    return Tokens.create(tmp_path_factory.mktemp("requests-keys"))


@dataclass
class RequestsStack:
    service: ServiceProcess
    store: str  # "sqlite" or "postgres"
    location: str  # the SQLite file, or the PostgreSQL database
    plates: Iterator[int]

    def client(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.service.url, headers=bearer(token), timeout=30)

    def fleet_plate(self) -> str:
        """A vehicle of the seeded test fleet held by « Flotte ESSAI », new each call."""
        return f"ZZ-{next(self.plates):03d}-AA"

    def stored(self, query: str) -> Any:
        """The first column of the first row a query finds in the service's store."""
        if self.store == "postgres":
            with postgres_connect(self.location) as connection:
                row = connection.execute(query).fetchone()  # type: ignore[arg-type]
        else:
            with contextlib.closing(sqlite3.connect(self.location)) as connection:
                row = connection.execute(query).fetchone()
        return None if row is None else row[0]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def requests_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: Tokens
) -> Iterator[RequestsStack]:
    store = request.param
    folder = tmp_path_factory.mktemp(f"requests-{store}")
    env = {"LOG_FORMAT": "console", "LOG_LEVEL": "INFO"}
    with contextlib.ExitStack() as stack:
        if store == "postgres":
            if not postgres_reachable():
                pytest.skip(POSTGRES_UNREACHABLE)
            location = stack.enter_context(postgres_database("requests_test"))
            # The application-name prefix wins over the defaults the settings pass in code.
            env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres",
                    "REQUESTS_POSTGRES_DBNAME": location}
        else:
            location = str(folder / "data" / "requests" / "events.sqlite")
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
        broker = stack.enter_context(Broker(folder / "broker.log"))
        service = stack.enter_context(ServiceProcess(
            "requests_service",
            service_env(broker.bootstrap, folder / "data", tokens.public_key, env,
                        without=("REQUESTS_", "POSTGRES_", "SQLITE_", "PERSISTENCE_")),
            folder / "requests.log",
        ))
        yield RequestsStack(service, store, location, itertools.count(1))
