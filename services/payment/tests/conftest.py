"""Fixtures of the payment service tests: a real broker, the real service process, citizens.

The broker and the services listen on free ports of 127.0.0.1, so that they never disturb a
running system or another service's tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from ants_events import AmountDue, FeeLine, topics
from ants_events.requests import RequestReadyForPaymentV1
from ants_stack.stack import free_port
from ants_stack.testing import (
    Broker,
    ServiceProcess,
    Tokens,
    bearer,
    eventually,
    publish as publish_record,
    read_topic,
    service_env,
)

AMOUNT_DUE = AmountDue(
    total="13.76",
    lines=(
        FeeLine(code="Y4", label="Taxe fixe (Y.4)", amount="11.00"),
        FeeLine(code="Y5", label="Redevance d'acheminement (Y.5)", amount="2.76"),
    ),
)


class OwnBroker(Broker):
    """A broker a test restarts (it forgets every topic); these tests call its bootstrap
    address `address`."""

    @property
    def address(self) -> str:
        return self.bootstrap


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for the whole session: its bootstrap address."""
    with Broker(tmp_path_factory.mktemp("broker") / "broker.log") as shared:
        yield shared.bootstrap


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    """A broker of the test's own, for tests that restart it."""
    with OwnBroker(tmp_path / "own-broker.log") as own:
        yield own


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    return Tokens.create(tmp_path_factory.mktemp("keys"))


@dataclass
class Citizen:
    account_id: UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture
def new_citizen(keys: Tokens) -> Callable[[], Citizen]:
    def make() -> Citizen:
        account_id = uuid4()
        token = keys.mint(
            "citizen", account_id=account_id, email=f"{account_id.hex[:8]}@example.org",
            given_name="Marie", family_name="Test",
        )
        return Citizen(account_id, token)

    return make


class PaymentService(ServiceProcess):
    """The payment service process, run in its data folder."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        port = free_port()
        super().__init__(
            "payment_service", env, data_dir / f"service-{port}.log", port=port, cwd=data_dir
        )
        self.data_dir = data_dir

    def client(self, citizen: Citizen | None = None) -> httpx.AsyncClient:
        headers = citizen.headers if citizen else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)


def launch(
    broker: str, keys: Tokens, data_dir: Path, extra_env: dict[str, str] | None = None
) -> PaymentService:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(
        broker, data_dir, keys.public_key,
        # the most verbose setting must still leak no card data
        {"LOG_LEVEL": "DEBUG", **(extra_env or {})},
        without=("PAYMENT_", "POSTGRES_", "SQLITE_", "PERSISTENCE_"),
    )
    service = PaymentService(data_dir, env)
    service.start()
    return service


@pytest.fixture(scope="session")
def start_service(broker: str, keys: Tokens) -> Iterator[Callable[..., PaymentService]]:
    """Start a payment service process; every one started is stopped at the end."""
    started: list[PaymentService] = []

    def start(
        data_dir: Path, extra_env: dict[str, str] | None = None, on_broker: str | None = None
    ) -> PaymentService:
        service = launch(on_broker or broker, keys, data_dir, extra_env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def payment_service(
    start_service: Callable[..., PaymentService], tmp_path_factory: pytest.TempPathFactory
) -> PaymentService:
    """The service on SQLite, shared by the tests that each work on their own dossiers."""
    return start_service(tmp_path_factory.mktemp("payment"))


_sequences = itertools.count(1)


def ready_event(
    dossier_id: UUID, account_id: UUID, amount_due: AmountDue = AMOUNT_DUE
) -> RequestReadyForPaymentV1:
    return RequestReadyForPaymentV1(
        event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
        account_id=account_id, amount_due=amount_due,
    )


Publish = Callable[..., Awaitable[int]]


@pytest.fixture
def publish(broker: str) -> Publish:
    """Publish a requests-service event as its relay would; returns the sequence used."""

    async def send(
        event: RequestReadyForPaymentV1, sequence: int | None = None, on_broker: str | None = None
    ) -> int:
        sequence = sequence if sequence is not None else next(_sequences)
        await publish_record(on_broker or broker, event, sequence)
        return sequence

    return send


@pytest.fixture
def read_payment_topic(broker: str) -> Callable[..., Awaitable[list[Any]]]:
    """Every record of ants.payment.v1 so far."""

    async def read(on_broker: str | None = None) -> list[Any]:
        return await read_topic(on_broker or broker, topics.PAYMENT)

    return read


@pytest.fixture
def poll() -> Callable[..., Awaitable[Any]]:
    """`await poll(check)`: the first truthy result of an async check (20 s at most)."""

    def poll(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Awaitable[Any]:
        return eventually(check, timeout, interval=0.1)

    return poll


@pytest.fixture
def make_ready_event() -> Callable[..., RequestReadyForPaymentV1]:
    """`make_ready_event(dossier_id, account_id, amount_due=AMOUNT_DUE)`: a fresh event."""
    return ready_event


@pytest.fixture
def payable_dossier(
    payment_service: PaymentService, publish: Publish
) -> Callable[[Citizen], Awaitable[UUID]]:
    """Publish a RequestReadyForPayment for the citizen and wait until the service knows it."""

    async def make(citizen: Citizen) -> UUID:
        dossier_id = uuid4()
        await publish(ready_event(dossier_id, citizen.account_id))
        async with payment_service.client(citizen) as http:

            async def known() -> bool:
                return (await http.get(f"/dossiers/{dossier_id}")).status_code == 200

            await eventually(known, interval=0.1)
        return dossier_id

    return make


@pytest.fixture
def today() -> date:
    from ants_runtime.fees import today_in_france

    return today_in_france()


@pytest.fixture
def expiry_in(today: date) -> Callable[[int], str]:
    """The "MM/YY" expiry `months` months after this month (negative: in the past)."""

    def expiry(months: int) -> str:
        index = today.year * 12 + today.month - 1 + months
        return f"{index % 12 + 1:02d}/{index // 12 % 100:02d}"

    return expiry
